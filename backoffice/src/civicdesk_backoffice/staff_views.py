"""Staff API under ``/api/v1/staff/``: HTTP Basic sign-in, department-scoped, audited.

Unlike the public Open311 views, these responses carry the citizen's personal fields, so
every read and every change is written to the audit log in the same transaction as the read
or change itself. A ticket outside the caller's reach answers 404, exactly like a ticket
that does not exist.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from open311_schema import format_datetime
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice import handoffs, media, outbox, points, staff, workflow
from civicdesk_backoffice.api_support import flag, page_size, read_json_object
from civicdesk_backoffice.app_keys import SESSIONMAKER, SETTINGS
from civicdesk_backoffice.catalogue import CatalogueError, load_catalogue
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import (
    AuditEntry,
    CommentAuthor,
    CommentVisibility,
    StaffRole,
    StaffUser,
    Ticket,
    TicketComment,
    TicketStatus,
    utcnow,
)

logger = logging.getLogger(__name__)

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="CivicDesk staff", charset="UTF-8"'}


async def list_tickets(request: web.Request) -> web.Response:
    """``GET /api/v1/staff/tickets``: the newest tickets the caller may see.

    Query: ``limit`` (1-500), ``status`` (comma list of internal statuses), ``overdue``
    (true/false), ``assigned`` (``me``).
    """
    limit = page_size(request)
    statuses = _statuses(request)
    overdue = flag(request, "overdue")
    assigned = request.query.get("assigned", "").strip()
    if assigned not in ("", "me"):
        raise ApiError(400, "assigned may only be 'me'.")
    async with request.app[SESSIONMAKER].begin() as session:
        user = await _signed_in(request, session)
        filters = staff.TicketFilter(
            statuses=statuses,
            overdue=overdue,
            assignee_id=user.id if assigned == "me" else None,
        )
        found = await staff.visible_tickets(session, user, limit, filters)
        staff.record_audit(
            session,
            user,
            "tickets.list",
            detail={"service_request_ids": [ticket.service_request_id for ticket, _ in found]},
        )
        assignees = await _usernames(session, {t.assignee_id for t, _ in found})
    return web.json_response({"tickets": [_staff_view(t, name, assignees) for t, name in found]})


async def get_ticket(request: web.Request) -> web.Response:
    """``GET /api/v1/staff/tickets/{service_request_id}``: one ticket, comments and photos."""

    async def read(session: AsyncSession, user: StaffUser, ticket: Ticket, name: str) -> Json:
        staff.record_audit(session, user, "ticket.read", ticket=ticket)
        comments = await workflow.comments_of(session, ticket, include_internal=True)
        photos = await media.media_of(session, ticket)
        view = _staff_view(ticket, name, await _usernames(session, {ticket.assignee_id}))
        view["comments"] = [_comment_view(comment, author) for comment, author in comments]
        view["media"] = [media.public_view(item) for item in photos]
        return {"ticket": view}

    return web.json_response(await _on_ticket(request, read))


async def change_status(request: web.Request) -> web.Response:
    """``POST .../tickets/{id}/status`` ``{"status": ..., "note": ...}``: move the ticket on."""
    body = await read_json_object(request)
    wanted = body.get("status")
    if not isinstance(wanted, str):
        raise ApiError(400, "status is required and must be a string.")
    note = workflow.clean_text(body.get("note"), "note", workflow.MAX_NOTE_CHARS, required=False)
    original_ref = body.get("duplicate_of")
    if original_ref is not None and not isinstance(original_ref, str):
        raise ApiError(400, "duplicate_of must be a ticket reference (a string).")

    async def change(session: AsyncSession, user: StaffUser, ticket: Ticket, name: str) -> Json:
        original = None
        if original_ref is not None:
            found = await staff.visible_ticket(session, user, original_ref)
            if found is None:
                raise ApiError(
                    422, f"duplicate_of names no ticket you can see: {original_ref[:40]!r}."
                )
            original = found[0]
        change = workflow.change_status(ticket, wanted, note, duplicate_of=original)
        detail: Json = {"from": change.previous.value, "to": change.current.value}
        if ticket.duplicate_of is not None:
            detail["duplicate_of"] = ticket.duplicate_of
        staff.record_audit(session, user, "ticket.status", ticket=ticket, detail=detail)
        outbox.enqueue(
            session,
            identity=ticket.account_id,
            kind=outbox.PushKind.STATUS,
            ticket=ticket,
            message=change.notes,
        )
        await points.award_if_confirmed(session, user, ticket, change)
        return {
            "ticket": _staff_view(ticket, name, await _usernames(session, {ticket.assignee_id}))
        }

    return web.json_response(await _on_ticket(request, change, for_update=True))


async def assign_ticket(request: web.Request) -> web.Response:
    """``POST .../tickets/{id}/assignment`` ``{"department": ..., "assignee": ...}``.

    Supervisors and admins only. ``department`` defaults to the ticket's own; ``assignee``
    is a username in that department, or null to leave the ticket unassigned.
    """
    body = await read_json_object(request)
    department = workflow.clean_text(body.get("department"), "department", 100, required=False)
    assignee = workflow.clean_text(body.get("assignee"), "assignee", 100, required=False)

    async def give(session: AsyncSession, user: StaffUser, ticket: Ticket, name: str) -> Json:
        before = {"department": ticket.department, "assignee_id": ticket.assignee_id}
        person = await workflow.assign(session, user, ticket, department, assignee)
        after = {"department": ticket.department, "assignee_id": ticket.assignee_id}
        staff.record_audit(
            session, user, "ticket.assign", ticket=ticket, detail={"from": before, "to": after}
        )
        names = {} if person is None else {person.id: person.username}
        return {"ticket": _staff_view(ticket, name, names)}

    return web.json_response(await _on_ticket(request, give, for_update=True))


async def add_comment(request: web.Request) -> web.Response:
    """``POST .../tickets/{id}/comments`` ``{"body": ..., "visibility": "internal"|"public"}``.

    Internal notes are seen by staff only; public ones also by the citizen.
    """
    body = await read_json_object(request)
    text = workflow.clean_text(body.get("body"), "body", workflow.MAX_COMMENT_CHARS, required=True)
    try:
        visibility = CommentVisibility(body.get("visibility", CommentVisibility.INTERNAL.value))
    except ValueError:
        raise ApiError(400, "visibility must be internal or public.") from None

    async def comment_on(session: AsyncSession, user: StaffUser, ticket: Ticket, _: str) -> Json:
        comment = workflow.add_comment(
            session,
            ticket,
            text or "",
            author=CommentAuthor.STAFF,
            visibility=visibility,
            staff_user=user,
        )
        await session.flush()
        staff.record_audit(
            session,
            user,
            "ticket.comment",
            ticket=ticket,
            detail={"comment_id": comment.id, "visibility": visibility.value},
        )
        if visibility is CommentVisibility.PUBLIC:
            outbox.enqueue(
                session,
                identity=ticket.account_id,
                kind=outbox.PushKind.COMMENT,
                ticket=ticket,
                message=text,
            )
        return {"comment": _comment_view(comment, user.username)}

    return web.json_response(await _on_ticket(request, comment_on, for_update=True), status=201)


Json = dict[str, Any]
TicketAction = Callable[[AsyncSession, StaffUser, Ticket, str], Awaitable[Json]]


async def _on_ticket(
    request: web.Request, action: TicketAction, *, for_update: bool = False
) -> Json:
    """Run ``action`` on the ticket named in the URL, if the signed-in caller may see it.

    The action runs in the transaction that signed the caller in and found the ticket, so
    its audit entry commits with its changes. A ticket out of reach is answered 404, like
    a missing one, and the refused look-up is audited.

    Raises:
        ApiError: 401 without valid credentials, 404 when the ticket is out of reach, or
            whatever the action raises (its changes are then rolled back).
    """
    reference = request.match_info["service_request_id"]
    async with request.app[SESSIONMAKER].begin() as session:
        user = await _signed_in(request, session)
        found = await staff.visible_ticket(session, user, reference, for_update=for_update)
        if found is None:
            staff.record_audit(
                session, user, "ticket.not_found", detail={"service_request_id": reference[:40]}
            )
            result: Json = {}
        else:
            result = await action(session, user, *found)
    if found is None:
        raise ApiError(404, f"There is no ticket {reference[:40]!r} in your department.")
    return result


async def list_handoffs(request: web.Request) -> web.Response:
    """``GET /api/v1/staff/handoffs?status=waiting|answered&limit=``: the queue, oldest first.

    Agents and supervisors see their department's handoffs, admins all.
    """
    limit = page_size(request)
    status = handoffs.parse_status(request.query.get("status", ""))
    async with request.app[SESSIONMAKER].begin() as session:
        user = await _signed_in(request, session)
        found = await handoffs.visible_handoffs(session, user, status, limit)
        staff.record_audit(
            session, user, "handoffs.list", detail={"handoff_ids": [h.id for h, _ in found]}
        )
        names = await _usernames(session, {h.answered_by_id for h, _ in found})
    views = [handoffs.staff_view(h, ref, names.get(h.answered_by_id or 0)) for h, ref in found]
    return web.json_response({"handoffs": views})


async def reply_to_handoff(request: web.Request) -> web.Response:
    """``POST /api/v1/staff/handoffs/{handoff_id}/reply`` ``{"text": ...}``.

    The reply is kept on the handoff and pushed to the citizen's chat. A handoff out of
    reach answers 404; one answered already, 409.
    """
    body = await read_json_object(request)
    text = workflow.clean_text(body.get("text"), "text", handoffs.MAX_REPLY_CHARS, required=True)
    handoff_id = request.match_info["handoff_id"]
    async with request.app[SESSIONMAKER].begin() as session:
        user = await _signed_in(request, session)
        found = await handoffs.visible_handoff(session, user, handoff_id)
        if found is None:
            staff.record_audit(
                session, user, "handoff.not_found", detail={"handoff_id": handoff_id[:40]}
            )
            view: Json = {}
        else:
            handoff, ticket = found
            handoffs.answer(handoff, user, text or "")
            staff.record_audit(
                session, user, "handoff.reply", ticket=ticket, detail={"handoff_id": handoff.id}
            )
            outbox.enqueue(
                session,
                identity=handoff.identity,
                kind=outbox.PushKind.HANDOFF_REPLY,
                ticket=ticket,
                message=text,
            )
            ref = None if ticket is None else ticket.service_request_id
            view = handoffs.staff_view(handoff, ref, user.username)
    if found is None:
        raise ApiError(404, f"There is no handoff {handoff_id[:40]!r} in your department.")
    return web.json_response({"handoff": view})


async def read_audit(request: web.Request) -> web.Response:
    """``GET /api/v1/staff/audit``: the audit log, newest first; supervisors and admins.

    Query: ``service_request_id``, ``staff`` (username), ``since`` and ``until`` (ISO 8601
    with a UTC offset; ``since`` inclusive, ``until`` exclusive), ``limit`` (1-500, default
    100). Supervisors read their department's part (see :func:`staff.visible_audit`). The
    read is itself audited.
    """
    limit = page_size(request)
    since = _query_datetime(request, "since")
    until = _query_datetime(request, "until")
    if since is not None and until is not None and until <= since:
        raise ApiError(400, "until must be later than since.")
    reference = request.query.get("service_request_id", "").strip()
    username = request.query.get("staff", "").strip()
    async with request.app[SESSIONMAKER].begin() as session:
        user = await _signed_in(request, session)
        if not workflow.may_assign(user):  # supervisors and admins
            staff.record_audit(session, user, "audit.read.refused")
            entries: list[Json] | None = None
        else:
            ticket_id = await staff.ticket_id(session, reference) if reference else None
            staff_id = await staff.staff_user_id(session, username) if username else None
            unknown = (reference and ticket_id is None) or (username and staff_id is None)
            filters = staff.AuditFilter(ticket_id, staff_id, since, until)
            found = [] if unknown else await staff.visible_audit(session, user, filters, limit)
            entries = [_audit_view(entry, name, ref) for entry, name, ref in found]
            staff.record_audit(
                session,
                user,
                "audit.read",
                detail={
                    "filters": {
                        "service_request_id": reference[:40] or None,
                        "staff": username[:100] or None,
                        "since": format_datetime(since),
                        "until": format_datetime(until),
                        "limit": limit,
                    },
                    "entries": len(entries),
                },
            )
    if entries is None:
        raise ApiError(403, "Only supervisors and admins read the audit log.")
    return web.json_response({"entries": entries})


def _query_datetime(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name, "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith("Z") else raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ApiError(
            400, f"{name} must be an ISO 8601 date-time with a UTC offset, e.g. 2026-11-30T12:00Z."
        )
    return value


def _audit_view(entry: AuditEntry, username: str | None, reference: str | None) -> Json:
    return {
        "id": entry.id,
        "at": format_datetime(entry.at),
        "action": entry.action,
        "actor": "staff" if entry.staff_user_id is not None else "citizen",
        "staff_username": username,
        "service_request_id": reference,
        "detail": entry.detail,
    }


async def reload_catalogue(request: web.Request) -> web.Response:
    """``POST /api/v1/staff/catalogue/reload``: admins re-read the catalogue file."""
    async with request.app[SESSIONMAKER].begin() as session:
        user = await _signed_in(request, session)
        if user.role != StaffRole.ADMIN.value:
            staff.record_audit(session, user, "catalogue.reload.refused")
            refused = True
        else:
            refused = False
    if refused:
        raise ApiError(403, "Only admins manage the service catalogue.")
    path = Path(request.app[SETTINGS].catalogue_path)
    try:
        report = await load_catalogue(request.app[SESSIONMAKER], path)
    except CatalogueError as error:
        problems = "; ".join(error.problems)[:300]
        raise ApiError(400, f"The catalogue file is invalid: {problems}") from None
    async with request.app[SESSIONMAKER].begin() as session:
        staff.record_audit(session, user, "catalogue.reload", detail={"version": report.version})
    return web.json_response({"catalogue": report.summary()})


async def _signed_in(request: web.Request, session: AsyncSession) -> StaffUser:
    header = request.headers.get("Authorization")
    if header is None:
        raise ApiError(401, "Sign in with HTTP Basic authentication.", headers=_CHALLENGE)
    credentials = decode_basic(header)
    if credentials is None:
        raise ApiError(
            401, "The Authorization header is not valid Basic authentication.", headers=_CHALLENGE
        )
    user = await staff.authenticate(session, *credentials)
    if user is None:
        logger.info("staff sign-in refused")
        raise ApiError(401, "Wrong username or password.", headers=_CHALLENGE)
    return user


def decode_basic(header: str) -> tuple[str, str] | None:
    """Username and password of a ``Basic`` Authorization header (RFC 7617), or None."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    username, separator, password = decoded.partition(":")
    return (username, password) if separator else None


def _statuses(request: web.Request) -> tuple[str, ...]:
    raw = [item.strip() for item in request.query.get("status", "").split(",") if item.strip()]
    known = {status.value for status in TicketStatus}
    unknown = [item for item in raw if item not in known]
    if unknown:
        raise ApiError(400, f"status must be among {', '.join(sorted(known))}.")
    return tuple(raw)


async def _usernames(session: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    query = select(StaffUser.id, StaffUser.username).where(StaffUser.id.in_(wanted))
    return dict((await session.execute(query)).tuples().all())


def _comment_view(comment: TicketComment, staff_username: str | None) -> dict[str, Any]:
    return {
        "id": comment.id,
        "author": comment.author,
        "staff_username": staff_username,
        "visibility": comment.visibility,
        "body": comment.body,
        "created_at": format_datetime(comment.created_at),
    }


def _staff_view(ticket: Ticket, service_name: str, usernames: dict[int, str]) -> dict[str, Any]:
    return {
        "service_request_id": ticket.service_request_id,
        "service_code": ticket.service_code,
        "service_name": service_name,
        "status": ticket.status,
        "open311_status": TicketStatus(ticket.status).open311,
        "status_notes": ticket.status_notes,
        "department": ticket.department,
        "assignee": None if ticket.assignee_id is None else usernames.get(ticket.assignee_id),
        "description": ticket.description,
        "address": ticket.address_string,
        "address_id": ticket.address_id,
        "lat": ticket.lat,
        "long": ticket.long,
        "attributes": ticket.attributes,
        "media_url": ticket.media_url,
        "requested_at": format_datetime(ticket.requested_at),
        "updated_at": format_datetime(ticket.updated_at),
        "sla_due_at": format_datetime(ticket.expected_at),
        "overdue": workflow.is_overdue(ticket, utcnow()),
        "duplicate_of": ticket.duplicate_of,
        "rating": ticket.rating,
        "locale": ticket.locale,
        "citizen": {
            "first_name": ticket.first_name,
            "last_name": ticket.last_name,
            "email": ticket.email,
            "phone": ticket.phone,
            "device_id": ticket.device_id,
            "account_id": ticket.account_id,
        },
    }
