"""``GET /healthz`` for load balancers and the devstack: is the database answering?"""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy import text

from civicdesk_backoffice.app_keys import ENGINE
from civicdesk_backoffice.db import is_database_unavailable

logger = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    """200 ``{"status": "ok"}`` after a trivial query; 503 ``{"status": "unavailable"}``."""
    try:
        async with request.app[ENGINE].connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:
        if not is_database_unavailable(error):
            raise
        logger.warning("health check: database unavailable (%s)", type(error).__name__)
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ok"})
