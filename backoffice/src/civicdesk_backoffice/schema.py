"""Running the Alembic migrations from code, and checking that a database is up to date."""

from __future__ import annotations

import os
from collections.abc import Callable

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
    await _run_migrations(engine, _upgrade_to_head)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the database behind ``engine`` back to ``revision``, in one transaction.

    Args:
        engine: Engine of the database; it is left open.
        revision: The revision to end at, e.g. ``0001``.
    """
    await _run_migrations(engine, lambda connection: _downgrade_to(connection, revision))


async def _run_migrations(engine: AsyncEngine, run: Callable[[Connection], None]) -> None:
    """Run Alembic in one transaction; on SQLite with foreign keys checked only at the end.

    SQLite changes most columns by rebuilding the table, and dropping the old table would
    trip the references other tables hold to it. So, as SQLite's documentation prescribes,
    enforcement is off during the migration, every reference is checked before the commit,
    and enforcement is back on before the connection returns to the pool.
    """
    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Outside any transaction: the pragma is a no-op inside one.
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        try:
            async with connection.begin():
                await connection.run_sync(run)
                if sqlite:
                    broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        raise SchemaNotReadyError(
                            f"the migration would leave {len(broken)} broken references "
                            f"(first in table {broken[0][0]}); nothing was changed"
                        )
        finally:
            if sqlite:
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()


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


def _downgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def _read_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
