"""The ticket lifecycle, assignment, comments and SLA state: the rules behind staff actions.

Statuses move only along :data:`TRANSITIONS`. Agents work on their department's tickets;
supervisors also assign them (to a department and a staff member of it); admins may do all
of it in every department. Every function here takes the acting staff member and leaves the
audit entry to the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import (
    OPEN_STATUSES,
    CommentAuthor,
    CommentVisibility,
    StaffRole,
    StaffUser,
    Ticket,
    TicketComment,
    TicketStatus,
    utcnow,
)

MAX_COMMENT_CHARS = 4000
MAX_NOTE_CHARS = 1000

_S = TicketStatus
_WORKING = frozenset({_S.ACKNOWLEDGED, _S.IN_PROGRESS, _S.REJECTED, _S.DUPLICATE})
TRANSITIONS: Mapping[TicketStatus, frozenset[TicketStatus]] = {
    _S.NEW: _WORKING | {_S.RESOLVED},
    _S.REOPENED: _WORKING | {_S.RESOLVED},
    _S.ACKNOWLEDGED: frozenset({_S.IN_PROGRESS, _S.RESOLVED, _S.REJECTED, _S.DUPLICATE}),
    _S.IN_PROGRESS: frozenset({_S.RESOLVED, _S.REJECTED, _S.DUPLICATE}),
    _S.RESOLVED: frozenset({_S.CLOSED, _S.REOPENED}),
    _S.CLOSED: frozenset({_S.REOPENED}),
    _S.REJECTED: frozenset({_S.REOPENED}),
    _S.DUPLICATE: frozenset({_S.REOPENED}),
}
"""Where each status may go next. Closing follows resolving; anything finished may reopen."""


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    """Whether an open ticket is past its SLA due date."""
    return (
        TicketStatus(ticket.status) in OPEN_STATUSES
        and ticket.expected_at is not None
        and ticket.expected_at < now
    )


def may_assign(user: StaffUser) -> bool:
    """Supervisors and admins assign tickets; agents do not."""
    return user.role in (StaffRole.SUPERVISOR.value, StaffRole.ADMIN.value)


def clean_text(raw: object, name: str, limit: int, *, required: bool) -> str | None:
    """A free-text field from a JSON body, stripped and checked.

    Raises:
        ApiError: 400 when it is not a string, empty but required, too long, or carries
            control characters (other than tabs and line breaks).
    """
    if raw is None:
        if required:
            raise ApiError(400, f"{name} is required.")
        return None
    if not isinstance(raw, str):
        raise ApiError(400, f"{name} must be a string.")
    text = raw.strip()
    if not text:
        if required:
            raise ApiError(400, f"{name} must not be empty.")
        return None
    if len(text) > limit:
        raise ApiError(400, f"{name} is longer than {limit} characters.")
    if any((ord(c) < 0x20 and c not in "\t\n\r") or c in "\x7f\ufffe\uffff" for c in text):
        raise ApiError(400, f"{name} contains control characters.")
    return text


@dataclass(frozen=True)
class StatusChange:
    """What a status change did, for the audit entry, the chat push and the answer.

    Attributes:
        previous: The status before.
        current: The status now.
        notes: The public status notes written by this change, if any.
    """

    previous: TicketStatus
    current: TicketStatus
    notes: str | None = None


def change_status(
    ticket: Ticket, wanted: str, note: str | None, duplicate_of: Ticket | None = None
) -> StatusChange:
    """Move ``ticket`` to status ``wanted``, with an optional public note.

    Args:
        ticket: The ticket to change.
        wanted: The new internal status.
        note: Public note; it becomes the Open311 ``status_notes``.
        duplicate_of: The original ticket, required for (and only for) ``duplicate``.

    Raises:
        ApiError: 400 for an unknown status, 409 for a move the lifecycle does not allow,
            422 for ``duplicate`` without an original (or naming the ticket itself) and
            for an original given with another status.
    """
    try:
        target = TicketStatus(wanted)
    except ValueError:
        names = ", ".join(status.value for status in TicketStatus)
        raise ApiError(400, f"status must be one of {names}.") from None
    current = TicketStatus(ticket.status)
    allowed = TRANSITIONS[current]
    if target not in allowed:
        options = ", ".join(sorted(status.value for status in allowed))
        raise ApiError(
            409,
            f"A ticket that is {current.value} cannot become {target.value}; "
            f"it can become: {options}.",
        )
    notes = note
    if target is TicketStatus.DUPLICATE:
        if duplicate_of is None:
            raise ApiError(422, "A duplicate must name the original ticket in duplicate_of.")
        if duplicate_of.id == ticket.id:
            raise ApiError(422, "A ticket cannot be a duplicate of itself.")
        ticket.duplicate_of = duplicate_of.service_request_id
        notes = f"Duplicate of {duplicate_of.service_request_id}." + (f" {note}" if note else "")
    elif duplicate_of is not None:
        raise ApiError(422, "duplicate_of is only given with the status duplicate.")
    _move(ticket, target, notes)
    return StatusChange(current, target, notes)


CITIZEN_WITHDRAWABLE = frozenset({_S.NEW, _S.ACKNOWLEDGED, _S.IN_PROGRESS, _S.REOPENED})
"""Statuses a citizen may withdraw their ticket from (it becomes ``closed``)."""
CITIZEN_REOPENABLE = frozenset({_S.RESOLVED, _S.CLOSED})
"""Statuses a citizen may reopen their ticket from, and rate it in."""
WITHDRAWN_NOTE = "Withdrawn by the citizen."


def citizen_withdraw(ticket: Ticket) -> StatusChange:
    """Close the ticket because the citizen no longer needs it.

    The citizen's reason is not put in the status notes: those are public in Open311,
    and a reason may say more about the citizen than they meant to publish.

    Raises:
        ApiError: 422 unless the ticket is still open.
    """
    current = _citizen_may(ticket, CITIZEN_WITHDRAWABLE, "withdrawn")
    _move(ticket, _S.CLOSED, WITHDRAWN_NOTE)
    return StatusChange(current, _S.CLOSED, WITHDRAWN_NOTE)


def citizen_reopen(ticket: Ticket, sla_hours: int) -> StatusChange:
    """Reopen a finished ticket at the citizen's request; its SLA due date starts again.

    Raises:
        ApiError: 422 unless the ticket is resolved or closed.
    """
    current = _citizen_may(ticket, CITIZEN_REOPENABLE, "reopened")
    _move(ticket, _S.REOPENED, "Reopened by the citizen.")
    ticket.expected_at = ticket.updated_at + timedelta(hours=sla_hours)
    return StatusChange(current, _S.REOPENED, ticket.status_notes)


def citizen_rate(ticket: Ticket, rating: int) -> None:
    """Record the citizen's rating (1-5) of how the ticket was handled; a new one replaces it.

    Raises:
        ApiError: 422 unless the ticket is resolved or closed.
    """
    _citizen_may(ticket, CITIZEN_REOPENABLE, "rated")
    ticket.rating = rating
    ticket.updated_at = utcnow()


def _citizen_may(ticket: Ticket, allowed: frozenset[TicketStatus], verb: str) -> TicketStatus:
    current = TicketStatus(ticket.status)
    if current not in allowed:
        options = ", ".join(sorted(status.value for status in allowed))
        raise ApiError(
            422,
            f"This ticket is {current.value.replace('_', ' ')}, so it cannot be {verb}; "
            f"only a ticket that is {options} can.",
        )
    return current


def _move(ticket: Ticket, target: TicketStatus, notes: str | None) -> None:
    ticket.status = target.value
    if notes is not None:
        ticket.status_notes = notes
    if target is not TicketStatus.DUPLICATE:
        ticket.duplicate_of = None
    ticket.updated_at = utcnow()
    # Kept for the supervisor dashboard's time to close: the first close since (re)opening.
    if target in OPEN_STATUSES:
        ticket.closed_at = None
    elif ticket.closed_at is None:
        ticket.closed_at = ticket.updated_at


async def assign(
    session: AsyncSession,
    user: StaffUser,
    ticket: Ticket,
    department: str | None,
    assignee_name: str | None,
) -> StaffUser | None:
    """Give ``ticket`` to ``department`` (default: its own) and optionally a staff member.

    Raises:
        ApiError: 403 for agents; 400 when the assignee is unknown or not in the department.
    """
    if not may_assign(user):
        raise ApiError(403, "Only supervisors and admins assign tickets.")
    target_department = department or ticket.department
    assignee: StaffUser | None = None
    if assignee_name is not None:
        query = select(StaffUser).where(StaffUser.username == assignee_name)
        assignee = (await session.scalars(query)).first()
        if assignee is None or assignee.department != target_department:
            raise ApiError(
                400, f"There is no staff member {assignee_name[:100]!r} in {target_department!r}."
            )
    ticket.department = target_department
    ticket.assignee_id = None if assignee is None else assignee.id
    ticket.updated_at = utcnow()
    return assignee


def add_comment(
    session: AsyncSession,
    ticket: Ticket,
    body: str,
    *,
    author: CommentAuthor,
    visibility: CommentVisibility,
    staff_user: StaffUser | None = None,
) -> TicketComment:
    """Add a comment to ``ticket`` in the session's transaction."""
    now = utcnow()
    comment = TicketComment(
        ticket_id=ticket.id,
        author=author.value,
        staff_user_id=None if staff_user is None else staff_user.id,
        visibility=visibility.value,
        body=body,
        created_at=now,
    )
    session.add(comment)
    ticket.updated_at = now
    return comment


async def comments_of(
    session: AsyncSession, ticket: Ticket, *, include_internal: bool
) -> list[tuple[TicketComment, str | None]]:
    """The ticket's comments, oldest first, with the staff author's username if any."""
    query = (
        select(TicketComment, StaffUser.username)
        .outerjoin(StaffUser, StaffUser.id == TicketComment.staff_user_id)
        .where(TicketComment.ticket_id == ticket.id)
        .order_by(TicketComment.created_at, TicketComment.id)
    )
    if not include_internal:
        query = query.where(TicketComment.visibility == CommentVisibility.PUBLIC.value)
    return [(comment, name) for comment, name in (await session.execute(query)).tuples()]
