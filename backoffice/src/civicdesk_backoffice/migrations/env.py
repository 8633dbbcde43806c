"""Alembic environment: runs migrations on a connection handed in, or on the configured URL.

``civicdesk-backoffice migrate`` passes an open connection through
``config.attributes["connection"]``. The plain ``alembic`` command (for writing new
revisions, see ``alembic.ini``) falls back to ``BACKOFFICE__DB__URL`` via :class:`Settings`.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from civicdesk_backoffice.db import create_engine
from civicdesk_backoffice.models import Base
from civicdesk_backoffice.settings import Settings

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection: Connection) -> None:
    # Batch mode lets later ALTERs work on SQLite, which cannot alter most constraints.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_url(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_configure_and_run)
    finally:
        await engine.dispose()


def _configured_url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings().db.url.get_secret_value()


if context.is_offline_mode():
    context.configure(url=_configured_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    handed_in = config.attributes.get("connection")
    if isinstance(handed_in, Connection):
        _configure_and_run(handed_in)
    else:
        asyncio.run(_run_on_url(_configured_url()))
