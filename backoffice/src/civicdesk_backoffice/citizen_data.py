"""A citizen's data on request: export everything held about a chat identity, or erase it.

``GET /api/v1/staff/citizens/{identity}/export`` and ``POST .../erase`` (staff, HTTP Basic).
Admins reach every department; supervisors only their own department's tickets and
handoffs (and the pushes and points that belong to those tickets); agents are refused (403,
audited). The identity is the ``channel:id`` the bot files with (``account_id``).

Erasing removes the contact details (phone, email, first and last name, device id) of the
identity's tickets and the link to the identity itself (``account_id``), so the ticket is no
longer the citizen's; it keeps its description, service, place, status, comments and photos,
because staff still have to fix the street light. Handoffs and points lose the identity
(it becomes ``erased``), and the chat pushes queued or sent to it are deleted (they only
existed to reach that chat). Erasing twice changes nothing the second time.

An admin's erasure reaches the bot side too, when the back office knows Rasa
(``BACKOFFICE__RASA__URL`` and ``__TOKEN``, as for chat pushes): before the back office's own
rows change, it calls Rasa's ``POST /civicdesk/conversations/{id}/erase`` (``bot/erasure.py``),
which deletes the conversation and the action server's outbox rows of that sender, and the
answer's ``bot`` object reports what Rasa said (counts, or why nothing was erased there). Rasa
must accept the token: its ``CIVICDESK_ERASURE_TOKEN`` is the back office's Rasa token. A
supervisor's erasure does not reach it: a conversation spans every department.

Every export and erasure is audited: one entry per ticket touched (``citizen.exported`` /
``citizen.erased``, naming which fields were cleared) and one summary entry with the counts.
No entry stores the identity or any erased value, so the audit log (append-only) never
keeps what was erased.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from open311_schema import format_datetime
from sqlalchemy import ColumnElement, Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice import handoffs, media, staff, workflow
from civicdesk_backoffice.app_keys import SESSIONMAKER, SETTINGS
from civicdesk_backoffice.citizen_views import channel_identity
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.log_ids import sender_tag
from civicdesk_backoffice.models import (
    AuditEntry,
    CitizenPoint,
    Handoff,
    OutboxMessage,
    ServiceEntry,
    StaffRole,
    StaffUser,
    Ticket,
    utcnow,
)
from civicdesk_backoffice.settings import RasaSettings
from civicdesk_backoffice.staff_views import (
    _audit_view,
    _comment_view,
    _signed_in,
    _staff_view,
    _usernames,
)

CONTACT_FIELDS = ("phone", "email", "first_name", "last_name", "device_id")
"""The contact details a ticket holds; erased on request and removed by retention."""

ERASED_IDENTITY = "erased"
"""What a handoff's or a point's identity becomes: it matches no ``channel:id``."""

Json = dict[str, Any]

logger = logging.getLogger(__name__)


@dataclass
class ErasureReport:
    """What one erasure changed (counts and ticket references only)."""

    tickets: list[str] = field(default_factory=list)
    handoffs: int = 0
    points: int = 0
    pushes_deleted: int = 0

    def as_json(self) -> Json:
        """The answer's ``erased`` object."""
        return {
            "tickets": self.tickets,
            "handoffs": self.handoffs,
            "points": self.points,
            "pushes_deleted": self.pushes_deleted,
        }


def _require_reach(user: StaffUser) -> None:
    if user.role not in (StaffRole.ADMIN.value, StaffRole.SUPERVISOR.value):
        raise ApiError(403, "Only supervisors and admins export or erase a citizen's data.")


def _scope(user: StaffUser) -> str:
    return "all" if staff.can_see_all_departments(user) else f"department:{user.department}"


async def _tickets_of(
    session: AsyncSession, user: StaffUser, identity: str, *, for_update: bool = False
) -> list[tuple[Ticket, str]]:
    query = (
        select(Ticket, ServiceEntry.name)
        .join(ServiceEntry, ServiceEntry.code == Ticket.service_code)
        .where(Ticket.account_id == identity)
        .order_by(Ticket.requested_at, Ticket.id)
    )
    if not staff.can_see_all_departments(user):
        query = query.where(Ticket.department == user.department)
    if for_update:
        query = query.with_for_update(of=Ticket)
    return [(ticket, name) for ticket, name in (await session.execute(query)).tuples()]


async def _handoffs_of(session: AsyncSession, user: StaffUser, identity: str) -> list[Handoff]:
    query = select(Handoff).where(Handoff.identity == identity).order_by(Handoff.created_at)
    if not staff.can_see_all_departments(user):
        query = query.where(Handoff.department == user.department)
    return list((await session.scalars(query)).all())


def _points_query(
    user: StaffUser, identity: str, ticket_ids: list[int]
) -> Select[tuple[CitizenPoint]]:
    query = select(CitizenPoint).where(CitizenPoint.identity == identity)
    if not staff.can_see_all_departments(user):
        query = query.where(CitizenPoint.ticket_id.in_(ticket_ids))
    return query.order_by(CitizenPoint.awarded_at, CitizenPoint.id)


def _pushes_filter(user: StaffUser, identity: str, ticket_ids: list[int]) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = OutboxMessage.identity == identity
    if not staff.can_see_all_departments(user):
        condition = condition & OutboxMessage.ticket_id.in_(ticket_ids)
    return condition


async def export(session: AsyncSession, user: StaffUser, identity: str) -> Json:
    """Everything held about ``identity`` within ``user``'s reach; audits the read."""
    found = await _tickets_of(session, user, identity)
    ticket_ids = [ticket.id for ticket, _ in found]
    assignees = await _usernames(session, {ticket.assignee_id for ticket, _ in found})
    tickets: list[Json] = []
    for ticket, name in found:
        view = _staff_view(ticket, name, assignees)
        comments = await workflow.comments_of(session, ticket, include_internal=True)
        view["comments"] = [_comment_view(comment, author) for comment, author in comments]
        view["media"] = [media.public_view(item) for item in await media.media_of(session, ticket)]
        tickets.append(view)
    handoff_rows = await _handoffs_of(session, user, identity)
    handoff_views = []
    references: dict[int | None, str] = {t.id: t.service_request_id for t, _ in found}
    for handoff in handoff_rows:
        answered_by = await _usernames(session, {handoff.answered_by_id})
        handoff_views.append(
            handoffs.staff_view(
                handoff,
                references.get(handoff.ticket_id),
                answered_by.get(handoff.answered_by_id) if handoff.answered_by_id else None,
            )
        )
    points = (await session.scalars(_points_query(user, identity, ticket_ids))).all()
    pushes = (
        await session.scalars(
            select(OutboxMessage)
            .where(_pushes_filter(user, identity, ticket_ids))
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
    ).all()
    audit_rows = []
    if ticket_ids:
        audit_rows = list(
            (
                await session.execute(
                    select(AuditEntry, StaffUser.username, Ticket.service_request_id)
                    .outerjoin(StaffUser, StaffUser.id == AuditEntry.staff_user_id)
                    .outerjoin(Ticket, Ticket.id == AuditEntry.ticket_id)
                    .where(AuditEntry.ticket_id.in_(ticket_ids))
                    .order_by(AuditEntry.at, AuditEntry.id)
                )
            ).tuples()
        )
    for ticket, _ in found:
        staff.record_audit(session, user, "citizen.exported", ticket=ticket)
    staff.record_audit(
        session,
        user,
        "citizen.export",
        detail={"scope": _scope(user), "tickets": len(found), "handoffs": len(handoff_rows)},
    )
    return {
        "identity": identity,
        "scope": _scope(user),
        "exported_at": format_datetime(utcnow()),
        "tickets": tickets,
        "handoffs": handoff_views,
        "points": [
            {
                "service_request_id": references.get(point.ticket_id),
                "points": point.points,
                "reason": point.reason,
                "awarded_at": format_datetime(point.awarded_at),
            }
            for point in points
        ],
        "chat_pushes": [
            {
                "kind": push.kind,
                "state": push.state,
                "service_request_id": references.get(push.ticket_id),
                "entities": push.entities,
                "created_at": format_datetime(push.created_at),
                "sent_at": format_datetime(push.sent_at),
            }
            for push in pushes
        ],
        "audit": [_audit_view(entry, name, ref) for entry, name, ref in audit_rows],
        "not_included": (
            "Conversations kept by the bot (Rasa's tracker store) and submissions waiting in "
            "the action server's outbox are held on the bot side, not here."
        ),
    }


def strip_contact(ticket: Ticket, *, unlink: bool) -> list[str]:
    """Clear the ticket's contact details (and, with ``unlink``, its ``account_id``).

    Returns the names of the fields that held something, for the audit entry.
    """
    cleared = [name for name in CONTACT_FIELDS if getattr(ticket, name) is not None]
    for name in CONTACT_FIELDS:
        setattr(ticket, name, None)
    if unlink and ticket.account_id is not None:
        cleared.append("account_id")
        ticket.account_id = None
    if cleared:
        ticket.updated_at = utcnow()
    return cleared


SUPERVISOR_SKIP = "a supervisor's erasure stays in their department; an admin's reaches the bot"


async def erase_on_bot_side(settings: RasaSettings, identity: str) -> Json:
    """Ask Rasa to erase the conversation of ``identity`` and its outbox rows.

    Returns the answer's ``bot`` object: ``{"status": "erased", "events": n, "outbox": {...}
    or null}``, or a ``status`` of ``not_configured``, ``unreachable`` or ``refused`` with a
    ``reason`` (no personal data: an HTTP status, an error code or an exception's kind).
    Erasing there twice is harmless, so the staff member may simply call erase again.
    """
    if not settings.enabled:
        return {"status": "not_configured", "reason": "BACKOFFICE__RASA__URL/TOKEN unset"}
    _, _, sender_id = identity.partition(":")
    url = f"{settings.url.rstrip('/')}/civicdesk/conversations/{quote(sender_id, safe='')}/erase"
    headers = {"Authorization": f"Bearer {settings.token.get_secret_value()}"}
    timeout = aiohttp.ClientTimeout(total=settings.timeout_seconds)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(url, headers=headers) as response,
        ):
            status = response.status
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        return {"status": "unreachable", "reason": type(error).__name__}
    erased = answer.get("erased") if isinstance(answer, dict) else None
    if status != 200 or not isinstance(erased, dict):
        problem = answer.get("error") if isinstance(answer, dict) else None
        code = problem.get("code") if isinstance(problem, dict) else None
        return {"status": "refused", "reason": f"HTTP {status}" + (f" {code}" if code else "")}
    outbox = erased.get("outbox")
    return {
        "status": "erased",
        "events": int(erased.get("events") or 0),
        "outbox": (
            {str(kind): int(count) for kind, count in outbox.items()}
            if isinstance(outbox, dict)
            else None
        ),
    }


async def erase(
    session: AsyncSession, user: StaffUser, identity: str, *, bot: Json | None = None
) -> ErasureReport:
    """Erase ``identity``'s contact details within ``user``'s reach; audits what changed.

    ``bot``, what the bot side said (:func:`erase_on_bot_side`), goes in the summary entry.
    """
    report = ErasureReport()
    found = await _tickets_of(session, user, identity, for_update=True)
    ticket_ids = [ticket.id for ticket, _ in found]
    # Pushes first: they point at the tickets by id, and at the identity by value.
    pushes = await session.execute(
        delete(OutboxMessage)
        .where(_pushes_filter(user, identity, ticket_ids))
        .execution_options(synchronize_session=False)
    )
    report.pushes_deleted = int(getattr(pushes, "rowcount", 0) or 0)
    for point in (await session.scalars(_points_query(user, identity, ticket_ids))).all():
        point.identity = ERASED_IDENTITY
        report.points += 1
    for handoff in await _handoffs_of(session, user, identity):
        handoff.identity = ERASED_IDENTITY
        report.handoffs += 1
    for ticket, _ in found:
        cleared = strip_contact(ticket, unlink=True)
        report.tickets.append(ticket.service_request_id)
        staff.record_audit(
            session, user, "citizen.erased", ticket=ticket, detail={"fields": cleared}
        )
    staff.record_audit(
        session,
        user,
        "citizen.erase",
        detail={
            "scope": _scope(user),
            "tickets": len(report.tickets),
            "handoffs": report.handoffs,
            "points": report.points,
            "pushes_deleted": report.pushes_deleted,
            "bot": bot,
        },
    )
    return report


async def export_view(request: web.Request) -> web.Response:
    """``GET /api/v1/staff/citizens/{identity}/export``."""
    identity = channel_identity(request.match_info["identity"])
    async with request.app[SESSIONMAKER].begin() as session:
        user = await _signed_in(request, session)
        refused = user.role not in (StaffRole.ADMIN.value, StaffRole.SUPERVISOR.value)
        if refused:
            staff.record_audit(session, user, "citizen.export.refused")
            body: Json = {}
        else:
            body = await export(session, user, identity)
    if refused:
        _require_reach(user)
    logger.info(
        "citizen data exported: %d ticket(s) (%s)", len(body["tickets"]), sender_tag(identity)
    )
    return web.json_response(body)


async def erase_view(request: web.Request) -> web.Response:
    """``POST /api/v1/staff/citizens/{identity}/erase``."""
    identity = channel_identity(request.match_info["identity"])
    sessionmaker = request.app[SESSIONMAKER]
    async with sessionmaker.begin() as session:
        user = await _signed_in(request, session)
        refused = user.role not in (StaffRole.ADMIN.value, StaffRole.SUPERVISOR.value)
        if refused:
            staff.record_audit(session, user, "citizen.erase.refused")
    if refused:
        _require_reach(user)
    # The bot side first, outside any transaction: once its outbox has lost the sender's
    # waiting submissions, none of them can file a ticket after the back office was erased.
    if staff.can_see_all_departments(user):
        bot = await erase_on_bot_side(request.app[SETTINGS].rasa, identity)
    else:
        bot = {"status": "skipped", "reason": SUPERVISOR_SKIP}
    async with sessionmaker.begin() as session:
        report = await erase(session, user, identity, bot=bot)
    logger.info(
        "citizen data erased: ticket(s) %s, bot side %s (%s)",
        ",".join(report.tickets) or "none",
        bot["status"],
        sender_tag(identity),
    )
    return web.json_response({"scope": _scope(user), "erased": report.as_json(), "bot": bot})


def setup_citizen_data_routes(app: web.Application) -> None:
    """Register the export and erase routes."""
    app.router.add_get("/api/v1/staff/citizens/{identity}/export", export_view)
    app.router.add_post("/api/v1/staff/citizens/{identity}/erase", erase_view)
