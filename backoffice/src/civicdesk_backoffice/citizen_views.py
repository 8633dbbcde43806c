"""Client API under ``/api/v1/``: a citizen's own tickets, their comments, photo uploads.

The caller is an API client (the bot) authenticated by ``X-API-Key``; it acts for the
citizen it names by channel identity, e.g. ``telegram:12345`` (the ``account_id`` it filed
the ticket with). A ticket filed under another identity answers 404, like a missing one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from open311_schema import format_datetime
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice import catalogue, handoffs, idempotency, locales, media, staff, workflow
from civicdesk_backoffice.api_support import page_size, read_json_object, require_api_client
from civicdesk_backoffice.app_keys import READ_SESSIONMAKER, SESSIONMAKER, SETTINGS
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import (
    ApiKey,
    CommentAuthor,
    CommentVisibility,
    Handoff,
    ServiceEntry,
    Ticket,
    TicketComment,
    TicketStatus,
    utcnow,
)
from civicdesk_backoffice.outbox import CHAT_IDENTITY
from civicdesk_backoffice.tickets import parse_reference

_IDENTITY = CHAT_IDENTITY


def channel_identity(raw: str) -> str:
    """A validated channel identity such as ``telegram:12345``.

    Raises:
        ApiError: 400 when it is not ``channel:id``.
    """
    if _IDENTITY.fullmatch(raw) is None:
        raise ApiError(
            400,
            "A citizen identity is channel:id, e.g. telegram:12345 (letters, digits and "
            "_.@+=- in the id).",
        )
    return raw


async def list_tickets(request: web.Request) -> web.Response:
    """``GET /api/v1/citizens/{identity}/tickets``: the citizen's tickets, newest first."""
    await require_api_client(request)
    identity = channel_identity(request.match_info["identity"])
    limit = page_size(request)
    query = (
        select(Ticket, ServiceEntry.name)
        .join(ServiceEntry, ServiceEntry.code == Ticket.service_code)
        .where(Ticket.account_id == identity)
        .order_by(Ticket.requested_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    async with request.app[READ_SESSIONMAKER]() as session:
        rows = (await session.execute(query)).tuples().all()
    return web.json_response({"tickets": [_citizen_view(t, name) for t, name in rows]})


async def get_ticket(request: web.Request) -> web.Response:
    """``GET /api/v1/citizens/{identity}/tickets/{id}``: one ticket, public comments, photos."""
    await require_api_client(request)
    async with request.app[READ_SESSIONMAKER]() as session:
        ticket, name = await _own_ticket(request, session)
        view = await _full_view(request, session, ticket, name)
    return web.json_response({"ticket": view})


async def withdraw(request: web.Request) -> web.Response:
    """``POST .../tickets/{id}/withdraw`` ``{"reason": ...}``: the citizen no longer needs it.

    Open tickets only (else 422); the ticket becomes ``closed``.
    """
    client = await require_api_client(request)
    body = await read_json_object(request)
    reason = workflow.clean_text(
        body.get("reason"), "reason", workflow.MAX_NOTE_CHARS, required=False
    )

    async def act(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
        change = workflow.citizen_withdraw(ticket)
        return {"from": change.previous.value, "to": change.current.value}

    return await _citizen_change(request, client, "ticket.withdraw", reason, act)


async def reopen(request: web.Request) -> web.Response:
    """``POST .../tickets/{id}/reopen`` ``{"reason": ...}`` (required): it is not fixed.

    Resolved or closed tickets only (else 422); the SLA due date starts again.
    """
    client = await require_api_client(request)
    body = await read_json_object(request)
    reason = workflow.clean_text(
        body.get("reason"), "reason", workflow.MAX_NOTE_CHARS, required=True
    )

    async def act(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
        sla_hours = await session.scalar(
            select(ServiceEntry.sla_hours).where(ServiceEntry.code == ticket.service_code)
        )
        change = workflow.citizen_reopen(ticket, sla_hours or _FALLBACK_SLA_HOURS)
        return {"from": change.previous.value, "to": change.current.value}

    return await _citizen_change(request, client, "ticket.reopen", reason, act)


async def rate(request: web.Request) -> web.Response:
    """``POST .../tickets/{id}/rating`` ``{"rating": 1-5, "comment": ...}``.

    Resolved or closed tickets only (else 422); a later rating replaces the earlier one.
    """
    client = await require_api_client(request)
    body = await read_json_object(request)
    rating = body.get("rating")
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ApiError(400, "rating is required and must be a whole number from 1 to 5.")
    comment = workflow.clean_text(
        body.get("comment"), "comment", workflow.MAX_NOTE_CHARS, required=False
    )

    async def act(session: AsyncSession, ticket: Ticket) -> dict[str, Any]:
        previous = ticket.rating
        workflow.citizen_rate(ticket, rating)
        return {"from": previous, "to": rating}

    return await _citizen_change(request, client, "ticket.rating", comment, act)


async def create_handoff(request: web.Request) -> web.Response:
    """``POST /api/v1/citizens/{identity}/handoffs`` ``{"message", "service_request_id", ...}``.

    The citizen asks for a person. Returns 201 with the handoff id, the department that
    answers (``department_name`` in the optional ``locale``, the citizen's language, default
    English) and
    when an answer can be expected. With an ``Idempotency-Key`` header a retry
    creates nothing more: the same key with the same request answers the first handoff
    again (``Idempotent-Replayed: true``), with another request 422.
    """
    client = await require_api_client(request)
    identity = channel_identity(request.match_info["identity"])
    key = idempotency.read_key(request.headers.get(idempotency.HEADER))
    body = await read_json_object(request)
    message = (
        workflow.clean_text(
            body.get("message"), "message", handoffs.MAX_MESSAGE_CHARS, required=True
        )
        or ""
    )
    reference = body.get("service_request_id")
    if reference is not None and not isinstance(reference, str):
        raise ApiError(400, "service_request_id must be a string.")
    locale = body.get("locale", locales.DEFAULT_LOCALE)
    if not isinstance(locale, str):
        raise ApiError(400, "locale must be a string.")
    locale = locales.parse_locale_parameter(locale)
    keyed = None if key is None else handoffs.keyed_id(client.id, key)
    settings = request.app[SETTINGS]
    try:
        async with request.app[SESSIONMAKER].begin() as session:
            ticket = None
            if reference is not None and reference.strip():
                ticket = await _ticket_of(session, reference.strip(), identity)
            if keyed is not None and (earlier := await session.get(Handoff, keyed)) is not None:
                name = await catalogue.department_name(session, earlier.department, locale)
                return _replayed_handoff(earlier, identity, message, ticket, name)
            handoff = handoffs.new_handoff(
                session,
                identity=identity,
                message=message,
                department=settings.handoff_department if ticket is None else ticket.department,
                response_hours=settings.handoff_response_hours,
                ticket=ticket,
                handoff_id=keyed,
            )
            await session.flush()
            staff.record_citizen_audit(
                session, client, "handoff.create", ticket=ticket, detail={"handoff_id": handoff.id}
            )
            name = await catalogue.department_name(session, handoff.department, locale)
            view = handoffs.citizen_view(handoff, name)
    except IntegrityError:
        if keyed is None:
            raise
        # A retry with the same key committed first: answer with what it stored.
        async with request.app[SESSIONMAKER]() as session:
            earlier = await session.get(Handoff, keyed)
            if earlier is None:
                raise
            ticket = (
                None if earlier.ticket_id is None else await session.get(Ticket, earlier.ticket_id)
            )
            name = await catalogue.department_name(session, earlier.department, locale)
            return _replayed_handoff(earlier, identity, message, ticket, name)
    return web.json_response(view, status=201)


def _replayed_handoff(
    earlier: Handoff, identity: str, message: str, ticket: Ticket | None, department_name: str
) -> web.Response:
    if not handoffs.same_request(earlier, identity, message, ticket):
        raise ApiError(
            422, f"This {idempotency.HEADER} was already used for another request for a person."
        )
    return web.json_response(
        handoffs.citizen_view(earlier, department_name),
        status=201,
        headers={"Idempotent-Replayed": "true"},
    )


_FALLBACK_SLA_HOURS = 72
"""Due-date window for a reopened ticket whose service left the catalogue."""

CitizenAction = Callable[[AsyncSession, Ticket], Awaitable[dict[str, Any]]]


async def _citizen_change(
    request: web.Request,
    client: ApiKey,
    action_name: str,
    reason: str | None,
    action: CitizenAction,
) -> web.Response:
    """Run a citizen's change on their ticket (locked), audit it, keep the reason as a comment.

    Returns:
        200 with the ticket as ``GET .../tickets/{id}`` shows it.
    """
    async with request.app[SESSIONMAKER].begin() as session:
        ticket, name = await _own_ticket(request, session, for_update=True)
        detail = await action(session, ticket)
        if reason is not None:
            workflow.add_comment(
                session,
                ticket,
                reason,
                author=CommentAuthor.CITIZEN,
                visibility=CommentVisibility.PUBLIC,
            )
        await session.flush()
        staff.record_citizen_audit(session, client, action_name, ticket=ticket, detail=detail)
        view = await _full_view(request, session, ticket, name)
    return web.json_response({"ticket": view})


async def _full_view(
    request: web.Request, session: AsyncSession, ticket: Ticket, name: str
) -> dict[str, Any]:
    comments = await workflow.comments_of(session, ticket, include_internal=False)
    photos = await media.media_of(session, ticket)
    view = _citizen_view(ticket, name)
    view["comments"] = [_comment_view(comment) for comment, _ in comments]
    view["media"] = [media.public_view(item, media.media_url(request, item)) for item in photos]
    return view


async def add_comment(request: web.Request) -> web.Response:
    """``POST /api/v1/citizens/{identity}/tickets/{id}/comments`` ``{"body", "media_id"}``.

    The citizen adds information to their ticket: words, a photo uploaded before with
    ``POST /api/v1/media``, or both (``body`` may be left out when ``media_id`` is given).
    Staff see it, and so does the citizen. The photo must exist and not be on another ticket
    (else 422); sending the same photo to the same ticket again changes nothing, so a retry
    is safe. Audited as ``ticket.comment``.

    Returns:
        201 ``{"comment": {...} or null, "media": {...} or null}``.
    """
    client = await require_api_client(request)
    body = await read_json_object(request)
    media_id = media.media_id_field(body.get("media_id"))
    text = workflow.clean_text(
        body.get("body"), "body", workflow.MAX_COMMENT_CHARS, required=media_id is None
    )
    async with request.app[SESSIONMAKER].begin() as session:
        ticket, _ = await _own_ticket(request, session)
        photo = None
        if media_id is not None:
            photo = await media.attach_to_ticket(session, media_id, ticket)
        comment = None
        if text is not None:
            comment = workflow.add_comment(
                session,
                ticket,
                text,
                author=CommentAuthor.CITIZEN,
                visibility=CommentVisibility.PUBLIC,
            )
        await session.flush()
        staff.record_citizen_audit(
            session,
            client,
            "ticket.comment",
            ticket=ticket,
            detail={
                "comment_id": None if comment is None else comment.id,
                "media_id": media_id,
            },
        )
        answer = {
            "comment": None if comment is None else _comment_view(comment),
            "media": None
            if photo is None
            else media.public_view(photo, media.media_url(request, photo)),
        }
    return web.json_response(answer, status=201)


async def upload_media(request: web.Request) -> web.Response:
    """``POST /api/v1/media`` (multipart): store a photo, optionally on an existing ticket.

    Parts: ``file`` (the photo); optionally ``service_request_id`` together with
    ``account_id``, the citizen identity that filed that ticket. Without a ticket, the
    photo is linked when a request is filed with its ``media_url``.

    Returns:
        201 ``{"media_id": ..., "media_url": ...}``.
    """
    client = await require_api_client(request)
    data, fields = await media.read_upload(request)
    ticket: Ticket | None = None
    reference = fields.get("service_request_id")
    if reference:
        identity = channel_identity(fields.get("account_id", ""))
        async with request.app[SESSIONMAKER]() as session:
            ticket = await _ticket_of(session, reference, identity)
    encoded = await asyncio.to_thread(media.reencode, data, request.app[SETTINGS].max_media_pixels)
    item = await media.store(request, encoded, client.id, ticket)
    return web.json_response(
        {"media_id": item.id, "media_url": media.media_url(request, item)}, status=201
    )


async def _own_ticket(
    request: web.Request, session: AsyncSession, *, for_update: bool = False
) -> tuple[Ticket, str]:
    identity = channel_identity(request.match_info["identity"])
    ticket = await _ticket_of(
        session, request.match_info["service_request_id"], identity, for_update=for_update
    )
    name = await session.scalar(
        select(ServiceEntry.name).where(ServiceEntry.code == ticket.service_code)
    )
    return ticket, name or ticket.service_code


async def _ticket_of(
    session: AsyncSession, reference: str, identity: str, *, for_update: bool = False
) -> Ticket:
    """The ticket ``reference`` if ``identity`` filed it.

    Raises:
        ApiError: 404 when it does not exist or belongs to someone else.
    """
    canonical = parse_reference(reference)
    ticket = None
    if canonical is not None:
        query = select(Ticket).where(
            Ticket.service_request_id == canonical, Ticket.account_id == identity
        )
        if for_update:
            query = query.with_for_update()
        ticket = (await session.scalars(query)).first()
    if ticket is None:
        raise ApiError(404, f"There is no ticket {reference[:40]!r} for this citizen.")
    return ticket


def _citizen_view(ticket: Ticket, service_name: str) -> dict[str, Any]:
    status = TicketStatus(ticket.status)
    return {
        "service_request_id": ticket.service_request_id,
        "service_code": ticket.service_code,
        "service_name": service_name,
        "status": status.value,
        "open311_status": status.open311,
        "status_notes": ticket.status_notes,
        "description": ticket.description,
        "address": ticket.address_string,
        "requested_at": format_datetime(ticket.requested_at),
        "updated_at": format_datetime(ticket.updated_at),
        "sla_due_at": format_datetime(ticket.expected_at),
        "overdue": workflow.is_overdue(ticket, utcnow()),
        "duplicate_of": ticket.duplicate_of,
        "rating": ticket.rating,
        "locale": ticket.locale,
    }


def _comment_view(comment: TicketComment) -> dict[str, Any]:
    # Staff names stay internal: the citizen sees that the council answered, not who.
    return {
        "id": comment.id,
        "author": comment.author,
        "body": comment.body,
        "created_at": format_datetime(comment.created_at),
    }
