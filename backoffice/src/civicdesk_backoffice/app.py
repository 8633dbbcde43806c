"""The aiohttp application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from civicdesk_backoffice import outbox
from civicdesk_backoffice.api_routes import setup_extension_routes
from civicdesk_backoffice.app_keys import (
    DISTRICTS,
    ENGINE,
    READ_ENGINE,
    READ_SESSIONMAKER,
    SESSIONMAKER,
    SETTINGS,
)
from civicdesk_backoffice.console import setup_console
from civicdesk_backoffice.db import create_engine, create_sessionmaker
from civicdesk_backoffice.districts import load_districts
from civicdesk_backoffice.errors import error_middleware
from civicdesk_backoffice.open311.views import TICKET_FILER
from civicdesk_backoffice.public import setup_public
from civicdesk_backoffice.routes import setup_routes
from civicdesk_backoffice.settings import Settings
from civicdesk_backoffice.tickets import TicketFiler


def create_app(settings: Settings) -> web.Application:
    """Build the back-office application; nothing connects until it starts.

    Args:
        settings: Process settings (database URL, body size limit, jurisdiction...).

    Returns:
        The application, ready for ``web.run_app`` or a test client.
    """
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[error_middleware])
    app[SETTINGS] = settings
    app[DISTRICTS] = load_districts(settings.districts_path)
    app.cleanup_ctx.append(_database)
    if settings.rasa.enabled:
        app.cleanup_ctx.append(outbox.relay_context)
    setup_routes(app)
    setup_extension_routes(app)
    setup_console(app)
    setup_public(app)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    """Own the engine for the application's lifetime."""
    engine = create_engine(app[SETTINGS].db.url.get_secret_value())
    app[ENGINE] = engine
    app[SESSIONMAKER] = create_sessionmaker(engine)
    # Same pool; public lookups need no transaction, and skipping it halves their cost.
    app[READ_ENGINE] = engine.execution_options(isolation_level="AUTOCOMMIT")
    app[READ_SESSIONMAKER] = create_sessionmaker(app[READ_ENGINE])
    app[TICKET_FILER] = TicketFiler(app[SESSIONMAKER])
    yield
    await app[TICKET_FILER].close()
    await engine.dispose()
