"""Filing and finding tickets: the service functions behind the Open311 request endpoints."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from open311_schema import NewServiceRequest, ServiceRequest, Status
from sqlalchemy import Row, Select, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from civicdesk_backoffice.attributes import check_attributes
from civicdesk_backoffice.catalogue import is_service_code, parse_attributes
from civicdesk_backoffice.models import ServiceEntry, Ticket, TicketStatus, utcnow

logger = logging.getLogger(__name__)

REFERENCE_PREFIX = "CD-"
CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base32: no I, L, O or U, so a reference read aloud or retyped stays unambiguous."""
REFERENCE_LENGTH = 6

MAX_SEARCH_RESULTS = 1000
"""The specification's cap on one ``GET requests`` answer."""
MAX_SEARCH_SPAN = timedelta(days=90)
"""Longest date range one search may cover, and the default range."""

_REFERENCE_ATTEMPTS = 8
_TYPED_REFERENCE = re.compile(r"CD-?([0-9A-Z]{6})")
# What people type for letters Crockford's alphabet leaves out.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


class UnknownServiceError(LookupError):
    """The service code is not in the catalogue, or the service has been retired."""


def new_reference() -> str:
    """A random ticket reference such as ``CD-7KQ2XM`` (about a billion possibilities)."""
    return REFERENCE_PREFIX + "".join(
        secrets.choice(CROCKFORD_ALPHABET) for _ in range(REFERENCE_LENGTH)
    )


def parse_reference(typed: str) -> str | None:
    """Read a reference the way a citizen may type it: any case, dash optional, O for 0.

    Returns:
        The canonical reference (``CD-7KQ2XM``), or None if ``typed`` cannot be one.
    """
    match = _TYPED_REFERENCE.fullmatch(typed.strip().upper())
    if match is None:
        return None
    code = match.group(1).translate(_LOOKALIKES)
    return REFERENCE_PREFIX + code if "U" not in code else None


def service_notice(department: str, expected_at: datetime | None) -> str:
    """The one-sentence notice returned when a request is filed (and shown with it later)."""
    if expected_at is None:
        return f"Sent to {department}."
    return (
        f"Sent to {department}; expected to be resolved by "
        f"{expected_at.day} {expected_at:%B %Y} (UTC)."
    )


@dataclass(frozen=True)
class FiledTicket:
    """The outcome of filing a request."""

    id: int
    service_request_id: str
    service_notice: str


_INSERT_TICKET = insert(Ticket).returning(Ticket.id)
"""Run on a Core connection: a plain ``INSERT ... RETURNING id``, no ORM unit of work."""


async def file_request(
    sessionmaker: async_sessionmaker[AsyncSession],
    new: NewServiceRequest,
    *,
    on_stored: Callable[[AsyncSession, int], Awaitable[None]] | None = None,
) -> FiledTicket:
    """Check a new request against its service definition and store it as a ticket.

    Args:
        sessionmaker: Session factory of the ticket database.
        new: The parsed ``POST requests`` form.
        on_stored: Runs inside the storing transaction with the new ticket's id, so what it
            writes commits (or rolls back) together with the ticket.

    Returns:
        The stored ticket's id, reference and service notice.

    Raises:
        UnknownServiceError: the service code is unknown or inactive.
        SchemaError: the attribute answers do not fit the service definition.
    """
    # One transaction reads the service and stores the ticket: one connection checkout
    # per request instead of two. Both statements are SQLAlchemy Core on the session's
    # connection (no ORM objects); the session is there for ``on_stored``.
    for attempt in range(1, _REFERENCE_ATTEMPTS + 1):
        try:
            async with sessionmaker.begin() as session:
                connection = await session.connection()
                service = await _filing_service(connection, new.service_code)
                if service is None:
                    raise UnknownServiceError(new.service_code)
                answers = check_attributes(parse_attributes(service.attributes), new.attributes)
                values = _new_ticket(new, service, answers, utcnow())
                ticket_id = (await connection.execute(_INSERT_TICKET, values)).scalar_one()
                if on_stored is not None:
                    await on_stored(session, ticket_id)
        except IntegrityError as error:
            # Only a clash of the random reference is worth another try.
            if "service_request_id" not in str(error.orig) or attempt == _REFERENCE_ATTEMPTS:
                raise
            logger.warning("ticket reference collision, drawing another (attempt %d)", attempt)
            continue
        reference = values["service_request_id"]
        logger.info("filed ticket %s under %s", reference, service.code)
        notice = service_notice(service.department, values["expected_at"])
        return FiledTicket(ticket_id, reference, notice)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


_FILING_SERVICE = select(
    ServiceEntry.code, ServiceEntry.department, ServiceEntry.sla_hours, ServiceEntry.attributes
).where(ServiceEntry.code == bindparam("code"), ServiceEntry.active.is_(True))


async def _filing_service(connection: AsyncConnection, code: str) -> Row[Any] | None:
    """What filing needs of the active service ``code``: plain columns, no ORM object."""
    if not is_service_code(code):
        return None
    return (await connection.execute(_FILING_SERVICE, {"code": code})).first()


def _new_ticket(
    new: NewServiceRequest, service: Row[Any], answers: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The ``tickets`` row of a new request (every column but the id)."""
    return {
        "service_request_id": new_reference(),
        "service_code": service.code,
        "status": TicketStatus.NEW.value,
        "status_notes": None,
        "description": new.description,
        "address_string": new.address_string,
        "address_id": new.address_id,
        "lat": new.lat,
        "long": new.long,
        "attributes": answers,
        "email": new.email,
        "phone": new.phone,
        "first_name": new.first_name,
        "last_name": new.last_name,
        "device_id": new.device_id,
        "account_id": new.account_id,
        "department": service.department,
        "requested_at": now,
        "updated_at": now,
        "expected_at": now + timedelta(hours=service.sla_hours),
        "media_url": new.media_url,
        "assignee_id": None,
    }


@dataclass(frozen=True)
class RequestSearch:
    """Filters of ``GET requests``, already validated.

    ``service_request_ids``, when given, overrides every other filter (as the spec says).
    """

    start: datetime
    end: datetime
    service_request_ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    statuses: tuple[Status, ...] = ()


def default_range(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """Fill in a missing end of the date range: the spec's default is the latest 90 days.

    Raises:
        ValueError: if the range is reversed or spans more than 90 days.
    """
    if start is None:
        end = now if end is None else end
        return end - MAX_SEARCH_SPAN, end
    if end is None:
        return start, start + MAX_SEARCH_SPAN
    if end < start:
        raise ValueError("end_date is before start_date")
    if end - start > MAX_SEARCH_SPAN:
        raise ValueError("start_date and end_date may not be more than 90 days apart")
    return start, end


async def search_requests(session: AsyncSession, search: RequestSearch) -> list[tuple[Ticket, str]]:
    """Tickets matching ``search``, newest first, at most :data:`MAX_SEARCH_RESULTS`.

    Returns:
        Pairs of ticket and service name.
    """
    query = _with_service_name()
    if search.service_request_ids:
        query = query.where(Ticket.service_request_id.in_(search.service_request_ids))
    else:
        query = query.where(Ticket.requested_at >= search.start, Ticket.requested_at <= search.end)
        if search.service_codes:
            query = query.where(Ticket.service_code.in_(search.service_codes))
        if search.statuses:
            query = query.where(Ticket.status.in_(_internal_statuses(search.statuses)))
    query = query.order_by(Ticket.requested_at.desc(), Ticket.id.desc()).limit(MAX_SEARCH_RESULTS)
    return [(ticket, name) for ticket, name in (await session.execute(query)).tuples()]


async def find_request(session: AsyncSession, reference: str) -> tuple[Ticket, str] | None:
    """The ticket with this ``service_request_id`` (typed loosely) and its service name."""
    canonical = parse_reference(reference)
    if canonical is None:
        return None
    query = _with_service_name().where(Ticket.service_request_id == canonical)
    row = (await session.execute(query)).tuples().first()
    return None if row is None else (row[0], row[1])


_PUBLIC_LOOKUP = (
    select(
        Ticket.service_request_id,
        Ticket.status,
        Ticket.service_code,
        ServiceEntry.name.label("service_name"),
        Ticket.requested_at,
        Ticket.updated_at,
        Ticket.description,
        Ticket.status_notes,
        Ticket.department,
        Ticket.expected_at,
        Ticket.address_string,
        Ticket.address_id,
        Ticket.lat,
        Ticket.long,
        Ticket.media_url,
    )
    .join(ServiceEntry, ServiceEntry.code == Ticket.service_code)
    .where(Ticket.service_request_id == bindparam("reference"))
)
"""The public columns of one ticket: built once, read without an ORM session."""


async def find_public_request(connection: AsyncConnection, reference: str) -> ServiceRequest | None:
    """The public Open311 view of the ticket ``reference`` (typed loosely), or None.

    The same answer as :func:`find_request` then :func:`to_public`, in one Core query that
    loads only the published columns (the status lookup is the hottest read path).
    """
    canonical = parse_reference(reference)
    if canonical is None:
        return None
    row = (await connection.execute(_PUBLIC_LOOKUP, {"reference": canonical})).first()
    return None if row is None else _public_from_row(row)


def _public_from_row(row: Row[Any]) -> ServiceRequest:
    return ServiceRequest(
        service_request_id=row.service_request_id,
        status=TicketStatus(row.status).open311,
        service_code=row.service_code,
        service_name=row.service_name,
        requested_datetime=row.requested_at,
        updated_datetime=row.updated_at,
        description=row.description,
        status_notes=row.status_notes,
        agency_responsible=row.department,
        service_notice=service_notice(row.department, row.expected_at),
        expected_datetime=row.expected_at,
        address=row.address_string,
        address_id=row.address_id,
        lat=row.lat,
        long=row.long,
        media_url=row.media_url,
    )


def to_public(ticket: Ticket, service_name: str) -> ServiceRequest:
    """The public Open311 view of a ticket: no names, contact details or device/account ids."""
    return ServiceRequest(
        service_request_id=ticket.service_request_id,
        status=TicketStatus(ticket.status).open311,
        service_code=ticket.service_code,
        service_name=service_name,
        requested_datetime=ticket.requested_at,
        updated_datetime=ticket.updated_at,
        description=ticket.description,
        status_notes=ticket.status_notes,
        agency_responsible=ticket.department,
        service_notice=service_notice(ticket.department, ticket.expected_at),
        expected_datetime=ticket.expected_at,
        address=ticket.address_string,
        address_id=ticket.address_id,
        lat=ticket.lat,
        long=ticket.long,
        media_url=ticket.media_url,
    )


def _with_service_name() -> Select[tuple[Ticket, str]]:
    return select(Ticket, ServiceEntry.name).join(
        ServiceEntry, ServiceEntry.code == Ticket.service_code
    )


def _internal_statuses(statuses: Sequence[Status]) -> list[str]:
    return [status.value for status in TicketStatus if status.open311 in statuses]
