"""Staff accounts, password checks, department-scoped ticket reads and the audit trail."""

from __future__ import annotations

import asyncio
import functools
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Select, and_, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice.models import (
    OPEN_STATUSES,
    ApiKey,
    AuditEntry,
    ServiceEntry,
    StaffRole,
    StaffUser,
    Ticket,
    utcnow,
)
from civicdesk_backoffice.tickets import parse_reference

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # argon2 hashes anything, but a megabyte password is an attack

_MAX_USERNAME_CHARS = 100
_hasher = PasswordHasher()


class StaffUserExistsError(ValueError):
    """The username is taken."""


class PasswordPolicyError(ValueError):
    """The password is too short or too long."""


def generate_password() -> str:
    """A random password of about 130 bits, easy to paste."""
    return secrets.token_urlsafe(22)


def check_password_policy(password: str) -> None:
    """Reject passwords that are too short or absurdly long.

    Raises:
        PasswordPolicyError: with a message fit for the CLI.
    """
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordPolicyError(
            f"the password must have at least {MIN_PASSWORD_CHARS} characters"
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise PasswordPolicyError(f"the password must have at most {MAX_PASSWORD_CHARS} characters")


async def create_staff_user(
    session: AsyncSession, username: str, password: str, department: str, role: StaffRole
) -> StaffUser:
    """Add a staff member; the caller commits.

    Raises:
        StaffUserExistsError: if the username is taken.
        PasswordPolicyError: if the password breaks the policy.
    """
    check_password_policy(password)
    if await _by_username(session, username) is not None:
        raise StaffUserExistsError(f"a staff user named {username!r} already exists")
    user = StaffUser(
        username=username,
        password_hash=await _hash(password),
        department=department,
        role=role.value,
        created_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    return user


async def set_staff_user(
    session: AsyncSession, username: str, password: str, department: str, role: StaffRole
) -> StaffUser:
    """Create the staff member or reset their password, department and role; caller commits."""
    user = await _by_username(session, username)
    if user is None:
        return await create_staff_user(session, username, password, department, role)
    check_password_policy(password)
    user.password_hash = await _hash(password)
    user.department = department
    user.role = role.value
    await session.flush()
    return user


async def authenticate(session: AsyncSession, username: str, password: str) -> StaffUser | None:
    """The staff member with these credentials, or None.

    An unknown username still costs one hash verification, so timing does not tell which
    usernames exist. Verification runs in a worker thread: argon2 is deliberately slow.
    """
    user = await _by_username(session, username) if _plausible_username(username) else None
    stored = user.password_hash if user is not None else None
    verified = await asyncio.get_running_loop().run_in_executor(
        None, _verify, stored, password[:MAX_PASSWORD_CHARS]
    )
    return user if verified and user is not None else None


def can_see_all_departments(user: StaffUser) -> bool:
    """Admins see every department; agents and supervisors only their own."""
    return user.role == StaffRole.ADMIN.value


@dataclass(frozen=True)
class TicketFilter:
    """Optional narrowing of the staff ticket list."""

    statuses: tuple[str, ...] = ()
    overdue: bool | None = None
    assignee_id: int | None = None


async def visible_tickets(
    session: AsyncSession, user: StaffUser, limit: int, filters: TicketFilter | None = None
) -> list[tuple[Ticket, str]]:
    """The newest tickets ``user`` may see, with their service names."""
    query = _visible_to(user)
    if filters is not None:
        if filters.statuses:
            query = query.where(Ticket.status.in_(filters.statuses))
        if filters.assignee_id is not None:
            query = query.where(Ticket.assignee_id == filters.assignee_id)
        if filters.overdue is not None:
            open_values = [status.value for status in OPEN_STATUSES]
            late = and_(
                Ticket.status.in_(open_values),
                Ticket.expected_at.is_not(None),
                Ticket.expected_at < utcnow(),
            )
            query = query.where(late if filters.overdue else not_(late))
    query = query.order_by(Ticket.requested_at.desc(), Ticket.id.desc()).limit(limit)
    return [(ticket, name) for ticket, name in (await session.execute(query)).tuples()]


async def visible_ticket(
    session: AsyncSession, user: StaffUser, reference: str, *, for_update: bool = False
) -> tuple[Ticket, str] | None:
    """One ticket ``user`` may see, or None (also when it belongs to another department).

    Args:
        session: Open session.
        user: The staff member asking.
        reference: The ticket reference as typed.
        for_update: Lock the ticket row until the transaction ends, so two staff changes
            cannot overwrite each other: ``FOR UPDATE`` on PostgreSQL; SQLite has no row
            locks, so a write that changes nothing takes the database's write lock first,
            and a second change waits for the first to commit and then reads its result.
    """
    canonical = parse_reference(reference)
    if canonical is None:
        return None
    query = _visible_to(user).where(Ticket.service_request_id == canonical)
    if for_update:
        query = query.with_for_update(of=Ticket)
        if session.get_bind().dialect.name == "sqlite":
            await session.execute(
                update(Ticket)
                .where(Ticket.service_request_id == canonical)
                .values(service_request_id=Ticket.service_request_id)
                .execution_options(synchronize_session=False)
            )
    row = (await session.execute(query)).tuples().first()
    return None if row is None else (row[0], row[1])


def _add_audit_entry(
    session: AsyncSession,
    action: str,
    *,
    staff_user_id: int | None,
    ticket: Ticket | None,
    detail: dict[str, Any],
) -> None:
    session.add(
        AuditEntry(
            at=utcnow(),
            staff_user_id=staff_user_id,
            action=action,
            ticket_id=None if ticket is None else ticket.id,
            detail=detail,
        )
    )


def record_audit(
    session: AsyncSession,
    user: StaffUser,
    action: str,
    *,
    ticket: Ticket | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an audit entry to the session's transaction, so it commits with the action."""
    _add_audit_entry(session, action, staff_user_id=user.id, ticket=ticket, detail=detail or {})


def record_citizen_audit(
    session: AsyncSession,
    client: ApiKey,
    action: str,
    *,
    ticket: Ticket | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Audit what a citizen did through an API client (no staff member; the key id instead)."""
    _add_audit_entry(
        session,
        action,
        staff_user_id=None,
        ticket=ticket,
        detail={"api_key_id": client.id, **(detail or {})},
    )


@dataclass(frozen=True)
class AuditFilter:
    """Narrowing of the audit log read (every field optional)."""

    ticket_id: int | None = None
    staff_user_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


async def visible_audit(
    session: AsyncSession, user: StaffUser, filters: AuditFilter, limit: int
) -> list[tuple[AuditEntry, str | None, str | None]]:
    """Audit entries ``user`` may read, newest first, with staff username and ticket reference.

    Admins read everything. Supervisors read the entries about their department's tickets
    (by the tickets' current department) and, for entries about no ticket, those of their
    department's staff. Agents read nothing (the caller refuses them).
    """
    query = (
        select(AuditEntry, StaffUser.username, Ticket.service_request_id)
        .outerjoin(StaffUser, StaffUser.id == AuditEntry.staff_user_id)
        .outerjoin(Ticket, Ticket.id == AuditEntry.ticket_id)
    )
    if not can_see_all_departments(user):
        query = query.where(
            or_(
                Ticket.department == user.department,
                and_(AuditEntry.ticket_id.is_(None), StaffUser.department == user.department),
            )
        )
    if filters.ticket_id is not None:
        query = query.where(AuditEntry.ticket_id == filters.ticket_id)
    if filters.staff_user_id is not None:
        query = query.where(AuditEntry.staff_user_id == filters.staff_user_id)
    if filters.since is not None:
        query = query.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        query = query.where(AuditEntry.at < filters.until)
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return [(entry, name, ref) for entry, name, ref in (await session.execute(query)).tuples()]


async def staff_user_id(session: AsyncSession, username: str) -> int | None:
    """The id of the staff member called ``username``, or None."""
    if not _plausible_username(username):
        return None
    user = await _by_username(session, username)
    return None if user is None else user.id


async def ticket_id(session: AsyncSession, reference: str) -> int | None:
    """The id of ticket ``reference`` (any department), or None."""
    canonical = parse_reference(reference)
    if canonical is None:
        return None
    found: int | None = await session.scalar(
        select(Ticket.id).where(Ticket.service_request_id == canonical)
    )
    return found


def _visible_to(user: StaffUser) -> Select[tuple[Ticket, str]]:
    query = select(Ticket, ServiceEntry.name).join(
        ServiceEntry, ServiceEntry.code == Ticket.service_code
    )
    if not can_see_all_departments(user):
        query = query.where(Ticket.department == user.department)
    return query


def _plausible_username(username: str) -> bool:
    # Control characters (NUL above all) would make PostgreSQL reject the query itself.
    return 0 < len(username) <= _MAX_USERNAME_CHARS and username.isprintable()


async def _by_username(session: AsyncSession, username: str) -> StaffUser | None:
    query = select(StaffUser).where(StaffUser.username == username)
    return (await session.scalars(query)).first()


async def _hash(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(None, _hasher.hash, password)


def _verify(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    # Made on first use, not at import: hashing is slow on purpose.
    return _hasher.hash(secrets.token_urlsafe(16))
