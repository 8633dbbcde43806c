"""Running the Alembic migrations from code, and checking that a database is up to date."""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_LOCATION = "civicdesk_backoffice:migrations"


class SchemaNotReadyError(RuntimeError):
    """The database has not been migrated to the revision this code expects."""


def alembic_config() -> Config:
    """An Alembic configuration pointing at the migrations inside this package."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_LOCATION)
    return config


def head_revision() -> str | None:
    """The newest migration revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def migrate(engine: AsyncEngine) -> None:
    """Upgrade the database behind ``engine`` to the newest revision, in one transaction.

    Args:
        engine: Engine of the database to migrate; it is left open.
    """
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade_to_head)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision recorded in the database, or None when it was never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(_read_revision)


async def check_schema(engine: AsyncEngine) -> None:
    """Make sure the database is at the newest revision.

    Raises:
        SchemaNotReadyError: with a one-line explanation and the command that fixes it.
    """
    database = engine.url.database
    is_sqlite_file = engine.url.get_backend_name() == "sqlite" and database not in (
        None,
        "",
        ":memory:",
    )
    # A check before connecting: SQLite would otherwise create an empty file.
    if is_sqlite_file and database and not os.path.exists(database):  # noqa: ASYNC240
        raise SchemaNotReadyError(
            f"the database file {database} does not exist yet: "
            "run `civicdesk-backoffice migrate` first"
        )
    found = await current_revision(engine)
    wanted = head_revision()
    if found != wanted:
        state = "has no schema yet" if found is None else f"is at revision {found}"
        raise SchemaNotReadyError(
            f"the database {state}, this code needs revision {wanted}: "
            "run `civicdesk-backoffice migrate` first"
        )


def _upgrade_to_head(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _read_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
