"""Client API under ``/api/v1/``: a citizen's own tickets, their comments, photo uploads.

The caller is an API client (the bot) authenticated by ``X-API-Key``; it acts for the
citizen it names by channel identity, e.g. ``telegram:12345`` (the ``account_id`` it filed
the ticket with). A ticket filed under another identity answers 404, like a missing one.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web
from open311_schema import format_datetime
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice import media, workflow
from civicdesk_backoffice.api_support import page_size, read_json_object, require_api_client
from civicdesk_backoffice.app_keys import READ_SESSIONMAKER, SESSIONMAKER, SETTINGS
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import (
    CommentAuthor,
    CommentVisibility,
    ServiceEntry,
    Ticket,
    TicketComment,
    TicketStatus,
    utcnow,
)
from civicdesk_backoffice.tickets import parse_reference

_IDENTITY = re.compile(r"[a-z][a-z0-9_]{0,31}:[A-Za-z0-9_.@+=-]{1,200}")


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
        comments = await workflow.comments_of(session, ticket, include_internal=False)
        photos = await media.media_of(session, ticket)
    view = _citizen_view(ticket, name)
    view["comments"] = [_comment_view(comment) for comment, _ in comments]
    view["media"] = [media.public_view(item, media.media_url(request, item)) for item in photos]
    return web.json_response({"ticket": view})


async def add_comment(request: web.Request) -> web.Response:
    """``POST /api/v1/citizens/{identity}/tickets/{id}/comments`` ``{"body": ...}``.

    The citizen adds information to their ticket; staff see it, and so does the citizen.
    """
    await require_api_client(request)
    body = await read_json_object(request)
    text = workflow.clean_text(body.get("body"), "body", workflow.MAX_COMMENT_CHARS, required=True)
    async with request.app[SESSIONMAKER].begin() as session:
        ticket, _ = await _own_ticket(request, session)
        comment = workflow.add_comment(
            session,
            ticket,
            text or "",
            author=CommentAuthor.CITIZEN,
            visibility=CommentVisibility.PUBLIC,
        )
        await session.flush()
    return web.json_response({"comment": _comment_view(comment)}, status=201)


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


async def _own_ticket(request: web.Request, session: AsyncSession) -> tuple[Ticket, str]:
    identity = channel_identity(request.match_info["identity"])
    ticket = await _ticket_of(session, request.match_info["service_request_id"], identity)
    name = await session.scalar(
        select(ServiceEntry.name).where(ServiceEntry.code == ticket.service_code)
    )
    return ticket, name or ticket.service_code


async def _ticket_of(session: AsyncSession, reference: str, identity: str) -> Ticket:
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
    }


def _comment_view(comment: TicketComment) -> dict[str, Any]:
    # Staff names stay internal: the citizen sees that the council answered, not who.
    return {
        "id": comment.id,
        "author": comment.author,
        "body": comment.body,
        "created_at": format_datetime(comment.created_at),
    }
