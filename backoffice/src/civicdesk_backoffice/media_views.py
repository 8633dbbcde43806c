"""``GET /media/{name}``: a stored photo, to those allowed to see it, else 404.

The random name is not a secret worth relying on: it travels in chat metadata, in Open311
``media_url``s and in browser histories. So the name only finds the photo; who asks
decides whether it is served:

- anyone, once the photo is public (approved by staff, not flagged, on a published
  complaint: :func:`media.is_public_condition`, the same rule as ``/reports/photos/``);
- the API client that uploaded it (``X-API-Key``), so the bot can check its own upload;
- staff signed in to the console (session cookie) or to the staff API (HTTP Basic) who may
  see the ticket: their department's, every department for admins; a photo not yet on a
  ticket only for admins. Each staff read is audited (``media.read``).

Everyone else gets the 404 a missing photo gets, so the answer does not tell that a photo
exists. Credentials that are wrong are treated as none (also 404), not challenged.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice import api_keys, media, staff
from civicdesk_backoffice.app_keys import SESSIONMAKER, SETTINGS
from civicdesk_backoffice.console import _auth as console_auth
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import MediaFile, StaffUser, Ticket
from civicdesk_backoffice.staff_views import decode_basic

logger = logging.getLogger(__name__)

PUBLIC_CACHE = "public, max-age=300"
"""Short, so a photo flagged after approval leaves shared caches within minutes."""
PRIVATE_CACHE = "private, no-cache"
"""Never kept by a shared cache; the browser asks again (and is checked again) each time."""


async def serve(request: web.Request) -> web.StreamResponse:
    """``GET /media/{name}``: the photo if the caller may see it (see the module docstring)."""
    parsed = media.parse_file_name(request.match_info["name"])
    if parsed is None:
        raise _missing()
    media_id, extension = parsed
    async with request.app[SESSIONMAKER].begin() as session:
        item = await session.get(MediaFile, media_id)
        if item is None or item.extension != extension:
            raise _missing()
        cache_control = await _allowed(request, session, item)
    if cache_control is None:
        raise _missing()
    folder = Path(request.app[SETTINGS].media_dir)
    if not await asyncio.to_thread((folder / f"{item.id}.{item.extension}").is_file):
        raise _missing()
    return media.file_response(folder, item, cache_control=cache_control)


async def _allowed(request: web.Request, session: AsyncSession, item: MediaFile) -> str | None:
    """The Cache-Control to serve ``item`` with to this caller, or None: not to them."""
    if await media.public_media_ids(session, [item.id]):
        return PUBLIC_CACHE
    presented = request.headers.get("X-API-Key", "")
    if presented:
        key = await api_keys.find_active_key(session, presented)
        if key is not None and key.id == item.api_key_id:
            return PRIVATE_CACHE
    user = await _staff_member(request, session)
    if user is None:
        return None
    ticket = None if item.ticket_id is None else await session.get(Ticket, item.ticket_id)
    if staff.can_see_all_departments(user) or (
        ticket is not None and ticket.department == user.department
    ):
        staff.record_audit(session, user, "media.read", ticket=ticket, detail={"media_id": item.id})
        return PRIVATE_CACHE
    return None


async def _staff_member(request: web.Request, session: AsyncSession) -> StaffUser | None:
    """The staff member signed in by console cookie or HTTP Basic, or None."""
    signed = await console_auth.current(request, session)
    if signed is not None:
        return signed.user
    header = request.headers.get("Authorization")
    credentials = None if header is None else decode_basic(header)
    if credentials is None:
        return None
    user = await staff.authenticate(session, *credentials)
    if user is None:
        logger.info("staff sign-in refused on a photo")
    return user


def _missing() -> ApiError:
    return ApiError(404, "There is no such photo.")
