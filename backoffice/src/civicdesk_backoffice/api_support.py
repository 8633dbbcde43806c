"""Helpers shared by the CivicDesk ``/api/v1/`` extension views: JSON bodies, API keys, paging."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from civicdesk_backoffice import api_keys
from civicdesk_backoffice.app_keys import READ_SESSIONMAKER
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import ApiKey

API_KEY_HEADER = "X-API-Key"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object.

    Raises:
        ApiError: 415 for another media type, 400 for anything but a UTF-8 JSON object.
    """
    if request.content_type != "application/json":
        raise ApiError(415, "Send the request body as application/json.")
    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "The request body is not valid UTF-8 JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


async def require_api_client(request: web.Request) -> ApiKey:
    """The API client (the bot) calling, identified by the ``X-API-Key`` header.

    Raises:
        ApiError: 403 when the header is missing, unknown or revoked.
    """
    presented = request.headers.get(API_KEY_HEADER, "").strip()
    if not presented:
        raise ApiError(403, f"Send your API key in the {API_KEY_HEADER} header.")
    async with request.app[READ_SESSIONMAKER]() as session:
        key = await api_keys.find_active_key(session, presented)
    if key is None:
        raise ApiError(403, "Invalid API key: it is unknown or has been revoked.")
    return key


def page_size(request: web.Request) -> int:
    """The ``limit`` query parameter: 1 to :data:`MAX_PAGE_SIZE`, default 100.

    Raises:
        ApiError: 400 for anything else.
    """
    raw = request.query.get("limit", "").strip()
    if not raw:
        return DEFAULT_PAGE_SIZE
    if (
        not (raw.isascii() and raw.isdigit() and len(raw) <= 3)
        or not 1 <= int(raw) <= MAX_PAGE_SIZE
    ):
        raise ApiError(400, f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}.")
    return int(raw)


def flag(request: web.Request, name: str) -> bool | None:
    """A ``true``/``false`` query parameter, or None when absent.

    Raises:
        ApiError: 400 for any other value.
    """
    raw = request.query.get(name, "").strip().lower()
    if not raw:
        return None
    if raw not in ("true", "false"):
        raise ApiError(400, f"{name} must be true or false.")
    return raw == "true"
