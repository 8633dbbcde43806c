"""Points for confirmed reports: opt-in per ticket, one per confirmed complaint, never removed.

A citizen who opted in (``tickets.points_opt_in``, set through the citizen API) earns one
point the first time staff confirm the report: move an opted-in *complaint* to
``acknowledged``, ``in_progress`` or ``resolved``. Duplicates and rejected reports earn
nothing. A point once given stays, whatever happens to the ticket later (the unique ticket
column makes "once" a database fact, and nothing in the code removes a row). Every award is
written to the audit log in the transaction of the status change that earned it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from open311_schema import format_datetime
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice import staff
from civicdesk_backoffice.api_support import read_json_object, require_api_client
from civicdesk_backoffice.app_keys import READ_SESSIONMAKER, SESSIONMAKER
from civicdesk_backoffice.citizen_views import channel_identity
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import (
    CitizenPoint,
    ServiceEntry,
    ServiceType,
    StaffUser,
    Ticket,
    TicketStatus,
    utcnow,
)
from civicdesk_backoffice.outbox import CHAT_IDENTITY
from civicdesk_backoffice.tickets import parse_reference
from civicdesk_backoffice.workflow import StatusChange

CONFIRMING = frozenset({TicketStatus.ACKNOWLEDGED, TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED})
"""Moves by which staff confirm that a reported problem is real."""
REASON_CONFIRMED = "report_confirmed"
POINTS_PER_REPORT = 1
MAX_HISTORY = 200


async def award_if_confirmed(
    session: AsyncSession, user: StaffUser, ticket: Ticket, change: StatusChange
) -> CitizenPoint | None:
    """Give the citizen their point if ``change`` confirms their opted-in complaint.

    Call it in the transaction of the status change, with the ticket row locked, so two
    changes at once cannot both award.

    Returns:
        The new point, or None when nothing was earned (not opted in, not a complaint, not
        a confirming move, or the point was given already).
    """
    if not ticket.points_opt_in or change.current not in CONFIRMING:
        return None
    if ticket.account_id is None or CHAT_IDENTITY.fullmatch(ticket.account_id) is None:
        return None
    kind = await session.scalar(
        select(ServiceEntry.type).where(ServiceEntry.code == ticket.service_code)
    )
    if kind != ServiceType.COMPLAINT.value:
        return None
    given = await session.scalar(select(CitizenPoint.id).where(CitizenPoint.ticket_id == ticket.id))
    if given is not None:
        return None
    point = CitizenPoint(
        identity=ticket.account_id,
        ticket_id=ticket.id,
        points=POINTS_PER_REPORT,
        reason=REASON_CONFIRMED,
        staff_user_id=user.id,
        awarded_at=utcnow(),
    )
    session.add(point)
    await session.flush()
    staff.record_audit(
        session,
        user,
        "points.award",
        ticket=ticket,
        detail={
            "points": POINTS_PER_REPORT,
            "reason": REASON_CONFIRMED,
            "status": change.current.value,
        },
    )
    return point


async def points_of_ticket(session: AsyncSession, ticket: Ticket) -> int:
    """The points this ticket earned (0 or 1)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(CitizenPoint.points), 0)).where(
            CitizenPoint.ticket_id == ticket.id
        )
    )
    return int(total or 0)


@dataclass(frozen=True)
class Balance:
    """A citizen's points and where they came from, newest first."""

    total: int
    history: list[tuple[CitizenPoint, str]]


async def balance(session: AsyncSession, identity: str) -> Balance:
    """The citizen's total and the latest :data:`MAX_HISTORY` awards with their references."""
    total = await session.scalar(
        select(func.coalesce(func.sum(CitizenPoint.points), 0)).where(
            CitizenPoint.identity == identity
        )
    )
    query = (
        select(CitizenPoint, Ticket.service_request_id)
        .join(Ticket, Ticket.id == CitizenPoint.ticket_id)
        .where(CitizenPoint.identity == identity)
        .order_by(CitizenPoint.awarded_at.desc(), CitizenPoint.id.desc())
        .limit(MAX_HISTORY)
    )
    rows = [(point, ref) for point, ref in (await session.execute(query)).tuples()]
    return Balance(int(total or 0), rows)


def _award_view(point: CitizenPoint, reference: str) -> dict[str, object]:
    return {
        "points": point.points,
        "reason": point.reason,
        "service_request_id": reference,
        "awarded_at": format_datetime(point.awarded_at),
    }


async def get_points(request: web.Request) -> web.Response:
    """``GET /api/v1/citizens/{identity}/points``: the balance and why, newest award first."""
    await require_api_client(request)
    identity = channel_identity(request.match_info["identity"])
    async with request.app[READ_SESSIONMAKER]() as session:
        found = await balance(session, identity)
    return web.json_response(
        {
            "identity": identity,
            "balance": found.total,
            "awards": [_award_view(point, ref) for point, ref in found.history],
        }
    )


async def set_opt_in(request: web.Request) -> web.Response:
    """``PUT /api/v1/citizens/{identity}/tickets/{id}/points`` ``{"opt_in": true|false}``.

    The bot sends the citizen's answer to the points question right after filing. Saying
    no later does not take away a point already earned (nothing does).
    """
    client = await require_api_client(request)
    identity = channel_identity(request.match_info["identity"])
    body = await read_json_object(request)
    opt_in = body.get("opt_in")
    if not isinstance(opt_in, bool):
        raise ApiError(400, "opt_in is required and must be true or false.")
    reference = request.match_info["service_request_id"]
    canonical = parse_reference(reference)
    async with request.app[SESSIONMAKER].begin() as session:
        ticket = None
        if canonical is not None:
            query = select(Ticket).where(
                Ticket.service_request_id == canonical, Ticket.account_id == identity
            )
            ticket = (await session.scalars(query.with_for_update())).first()
        if ticket is None:
            raise ApiError(404, f"There is no ticket {reference[:40]!r} for this citizen.")
        ticket.points_opt_in = opt_in
        staff.record_citizen_audit(
            session, client, "points.opt_in", ticket=ticket, detail={"opt_in": opt_in}
        )
        earned = await points_of_ticket(session, ticket)
    return web.json_response(
        {
            "service_request_id": ticket.service_request_id,
            "opt_in": opt_in,
            "points_earned": earned,
        }
    )
