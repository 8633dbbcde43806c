"""Typed keys of what the application object holds (see ``app.create_app``)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from civicdesk_backoffice.districts import DistrictMap
from civicdesk_backoffice.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
READ_SESSIONMAKER = web.AppKey("read_sessionmaker", async_sessionmaker[AsyncSession])
"""Sessions in autocommit mode for plain reads: no BEGIN/ROLLBACK round trips per request."""
READ_ENGINE = web.AppKey("read_engine", AsyncEngine)
"""The engine in autocommit mode, for hot-path reads through SQLAlchemy Core (no ORM session)."""
DISTRICTS = web.AppKey("districts", DistrictMap)
