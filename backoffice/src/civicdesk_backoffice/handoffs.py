"""Citizens asking for a person: handoffs queued by department and answered by staff.

A handoff about a ticket goes to that ticket's department; one without a ticket goes to the
configured ``handoff_department``. Staff see the handoffs they may see tickets of (admins
all), and a reply reaches the citizen through the chat push outbox.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any, TypeVar

from open311_schema import format_datetime
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import (
    Handoff,
    HandoffStatus,
    StaffUser,
    Ticket,
    utcnow,
)
from civicdesk_backoffice.staff import can_see_all_departments

MAX_MESSAGE_CHARS = 4000
MAX_REPLY_CHARS = 4000
_ID_PREFIX = "h_"


def keyed_id(api_key_id: int, idempotency_key: str) -> str:
    """The id of the handoff an API client asks for with ``Idempotency-Key``.

    Derived from the client and the key, so a retry of the same request names the same
    handoff and the primary key lets only one be stored, whichever request commits first
    (no claim row, no migration); the id has the shape of a random one.
    """
    digest = hashlib.sha256(f"{api_key_id}\x00{idempotency_key}".encode()).hexdigest()
    return _ID_PREFIX + digest[:24]


def same_request(handoff: Handoff, identity: str, message: str, ticket: Ticket | None) -> bool:
    """Whether ``handoff`` is what a request with these values would have created."""
    return (
        handoff.identity == identity
        and handoff.message == message
        and handoff.ticket_id == (None if ticket is None else ticket.id)
    )


def new_handoff(
    session: AsyncSession,
    *,
    identity: str,
    message: str,
    department: str,
    response_hours: int,
    ticket: Ticket | None,
    handoff_id: str | None = None,
) -> Handoff:
    """Queue a citizen's request for a person in the session's transaction.

    ``handoff_id`` is :func:`keyed_id` for a request with an ``Idempotency-Key``; random
    otherwise.
    """
    now = utcnow()
    handoff = Handoff(
        id=handoff_id or _ID_PREFIX + secrets.token_hex(12),
        identity=identity,
        ticket_id=None if ticket is None else ticket.id,
        department=department,
        message=message,
        status=HandoffStatus.WAITING.value,
        created_at=now,
        expected_response_at=now + timedelta(hours=response_hours),
    )
    session.add(handoff)
    return handoff


async def visible_handoffs(
    session: AsyncSession, user: StaffUser, status: HandoffStatus | None, limit: int
) -> list[tuple[Handoff, str | None]]:
    """Handoffs ``user`` may see, oldest first (the queue order), with ticket references."""
    query = select(Handoff, Ticket.service_request_id).outerjoin(
        Ticket, Ticket.id == Handoff.ticket_id
    )
    query = _in_reach(query, user)
    if status is not None:
        query = query.where(Handoff.status == status.value)
    query = query.order_by(Handoff.created_at, Handoff.id).limit(limit)
    return [(handoff, ref) for handoff, ref in (await session.execute(query)).tuples()]


async def visible_handoff(
    session: AsyncSession, user: StaffUser, handoff_id: str
) -> tuple[Handoff, Ticket | None] | None:
    """One handoff ``user`` may see, locked for the change, with its ticket; else None."""
    if not handoff_id.startswith(_ID_PREFIX) or len(handoff_id) > 32:
        return None
    query = _in_reach(
        select(Handoff, Ticket)
        .outerjoin(Ticket, Ticket.id == Handoff.ticket_id)
        .where(Handoff.id == handoff_id),
        user,
    ).with_for_update(of=Handoff)
    row = (await session.execute(query)).tuples().first()
    return None if row is None else (row[0], row[1])


def answer(handoff: Handoff, user: StaffUser, text: str) -> None:
    """Record the staff member's reply.

    Raises:
        ApiError: 409 when the handoff has been answered already.
    """
    if handoff.status != HandoffStatus.WAITING.value:
        raise ApiError(409, "This handoff has been answered already.")
    handoff.status = HandoffStatus.ANSWERED.value
    handoff.reply = text
    handoff.answered_at = utcnow()
    handoff.answered_by_id = user.id


def citizen_view(handoff: Handoff, department_name: str | None = None) -> dict[str, Any]:
    """What the citizen's client is told when the handoff is queued.

    ``department_name``: the department's name in the citizen's language (the stored English
    name when not given); ``department`` stays the stored name.
    """
    hours = round((handoff.expected_response_at - handoff.created_at).total_seconds() / 3600)
    return {
        "handoff_id": handoff.id,
        "status": handoff.status,
        "department": handoff.department,
        "department_name": department_name or handoff.department,
        "expected_response": format_datetime(handoff.expected_response_at),
        "expected_response_hours": hours,
    }


def staff_view(
    handoff: Handoff, service_request_id: str | None, answered_by: str | None
) -> dict[str, Any]:
    """A handoff as staff see it, with the citizen's identity and message."""
    return {
        "handoff_id": handoff.id,
        "status": handoff.status,
        "department": handoff.department,
        "identity": handoff.identity,
        "service_request_id": service_request_id,
        "message": handoff.message,
        "created_at": format_datetime(handoff.created_at),
        "expected_response": format_datetime(handoff.expected_response_at),
        "overdue": handoff.status == HandoffStatus.WAITING.value
        and handoff.expected_response_at < utcnow(),
        "reply": handoff.reply,
        "answered_at": format_datetime(handoff.answered_at),
        "answered_by": answered_by,
    }


_Q = TypeVar("_Q", bound=Select[Any])


def _in_reach(query: _Q, user: StaffUser) -> _Q:
    if can_see_all_departments(user):
        return query
    return query.where(Handoff.department == user.department)


def parse_status(raw: str) -> HandoffStatus | None:
    """The ``status`` query filter of the staff queue (empty: all).

    Raises:
        ApiError: 400 for an unknown value.
    """
    if not raw.strip():
        return None
    try:
        return HandoffStatus(raw.strip())
    except ValueError:
        raise ApiError(400, "status must be waiting or answered.") from None
