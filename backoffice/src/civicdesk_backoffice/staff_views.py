"""Staff API under ``/api/v1/staff/``: HTTP Basic sign-in, department-scoped, audited reads.

Unlike the public Open311 views, these responses carry the citizen's personal fields, so
every read is written to the audit log in the same transaction as the read itself.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import BasicAuth, web
from open311_schema import format_datetime
from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice import staff
from civicdesk_backoffice.app_keys import SESSIONMAKER
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import StaffUser, Ticket, TicketStatus

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="CivicDesk staff", charset="UTF-8"'}


async def list_tickets(request: web.Request) -> web.Response:
    """``GET /api/v1/staff/tickets``: the newest tickets of the caller's department."""
    limit = _page_size(request)
    async with request.app[SESSIONMAKER].begin() as session:
        user = await _signed_in(request, session)
        found = await staff.visible_tickets(session, user, limit)
        staff.record_audit(
            session,
            user,
            "tickets.list",
            detail={"service_request_ids": [ticket.service_request_id for ticket, _ in found]},
        )
    return web.json_response({"tickets": [_staff_view(*row) for row in found]})


async def get_ticket(request: web.Request) -> web.Response:
    """``GET /api/v1/staff/tickets/{service_request_id}``: one ticket with personal fields."""
    reference = request.match_info["service_request_id"]
    async with request.app[SESSIONMAKER].begin() as session:
        user = await _signed_in(request, session)
        found = await staff.visible_ticket(session, user, reference)
        if found is None:
            # Refused look-ups are audited too: probing other departments should show.
            staff.record_audit(
                session, user, "ticket.not_found", detail={"service_request_id": reference[:40]}
            )
        else:
            staff.record_audit(session, user, "ticket.read", ticket=found[0])
    if found is None:
        raise ApiError(404, f"There is no ticket {reference[:40]!r} in your department.")
    return web.json_response({"ticket": _staff_view(*found)})


async def _signed_in(request: web.Request, session: AsyncSession) -> StaffUser:
    header = request.headers.get("Authorization")
    if header is None:
        raise ApiError(401, "Sign in with HTTP Basic authentication.", headers=_CHALLENGE)
    try:
        credentials = BasicAuth.decode(header, encoding="utf-8")
    except ValueError:
        raise ApiError(
            401, "The Authorization header is not valid Basic authentication.", headers=_CHALLENGE
        ) from None
    user = await staff.authenticate(session, credentials.login, credentials.password)
    if user is None:
        logger.info("staff sign-in refused")
        raise ApiError(401, "Wrong username or password.", headers=_CHALLENGE)
    return user


def _page_size(request: web.Request) -> int:
    raw = request.query.get("limit", "").strip()
    if not raw:
        return DEFAULT_PAGE_SIZE
    if (
        not (raw.isascii() and raw.isdigit() and len(raw) <= 3)
        or not 1 <= int(raw) <= MAX_PAGE_SIZE
    ):
        raise ApiError(400, f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}.")
    return int(raw)


def _staff_view(ticket: Ticket, service_name: str) -> dict[str, Any]:
    return {
        "service_request_id": ticket.service_request_id,
        "service_code": ticket.service_code,
        "service_name": service_name,
        "status": ticket.status,
        "open311_status": TicketStatus(ticket.status).open311,
        "status_notes": ticket.status_notes,
        "department": ticket.department,
        "description": ticket.description,
        "address": ticket.address_string,
        "address_id": ticket.address_id,
        "lat": ticket.lat,
        "long": ticket.long,
        "attributes": ticket.attributes,
        "media_url": ticket.media_url,
        "requested_at": format_datetime(ticket.requested_at),
        "updated_at": format_datetime(ticket.updated_at),
        "expected_at": format_datetime(ticket.expected_at),
        "citizen": {
            "first_name": ticket.first_name,
            "last_name": ticket.last_name,
            "email": ticket.email,
            "phone": ticket.phone,
            "device_id": ticket.device_id,
            "account_id": ticket.account_id,
        },
    }
