"""Engine and session construction, plus the errors that mean "the database is down"."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

POOL_SIZE = 20
"""Connections a process keeps open (PostgreSQL): at least what a busy process has in flight."""
POOL_OVERFLOW = 10
"""Extra connections opened under bursts beyond :data:`POOL_SIZE`, closed when returned."""
PING_AFTER_IDLE_SECONDS = 5.0
"""A pooled connection unused for longer is pinged before use (see ``create_engine``)."""
_LAST_USED = "civicdesk_last_used"


def create_engine(url: str) -> AsyncEngine:
    """Build the async engine for ``url`` without connecting.

    For SQLite, foreign keys are switched on (SQLite leaves them off per connection) and
    the file is put in write-ahead-log mode. For PostgreSQL the pool keeps
    :data:`POOL_SIZE` connections and pings only those idle for more than
    :data:`PING_AFTER_IDLE_SECONDS` before handing them out (a per-checkout ping would add
    a round trip to every request); after a database restart, a connection already in use
    when the server went away fails the request using it with 503 and the pool is refilled
    (ticket filing tries its group of requests once more on a fresh connection first, see
    ``tickets.file_batch``).

    Args:
        url: SQLAlchemy async URL (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``).

    Returns:
        An engine; the first connection is made on first use.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _create_async_engine(parsed, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _enable_sqlite_foreign_keys)
        return engine
    # The pool holds as many connections as a busy process keeps in flight, so none is
    # opened and closed per request (PostgreSQL forks a backend for each new connection).
    # hide_parameters: SQLAlchemy's error messages (which a logged traceback carries) then
    # leave out the statement's values, which hold phone numbers, names and citizens' words.
    engine = _create_async_engine(
        parsed, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, hide_parameters=True
    )
    ping = engine.dialect.do_ping

    def ping_if_idle(
        dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: object
    ) -> None:
        # A connection idle for a while may have been cut by a database restart: ping it
        # first, so the pool swaps it for a fresh one instead of failing the request. A
        # connection in steady use skips the round trip.
        if time.monotonic() - record.info.get(_LAST_USED, 0.0) > PING_AFTER_IDLE_SECONDS:
            try:
                ping(dbapi_connection)
            except Exception as error:
                raise exc.DisconnectionError() from error

    def mark_used(_dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info[_LAST_USED] = time.monotonic()

    event.listen(engine.sync_engine, "checkout", ping_if_idle)
    event.listen(engine.sync_engine, "checkin", mark_used)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The session factory views and commands use (objects stay readable after commit)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def safe_url(url: str) -> str:
    """``url`` with any password masked, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def is_database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached (answered with 503).

    Covers refused or dropped connections, pool exhaustion and SQLite files that cannot be
    opened. Integrity or data errors are bugs or bad input, not unavailability.
    """
    if isinstance(error, exc.DBAPIError):
        return error.connection_invalidated or isinstance(
            error, (exc.OperationalError, exc.InterfaceError)
        )
    # asyncpg raises plain OSError / TimeoutError while connecting, unwrapped by SQLAlchemy.
    return isinstance(error, (exc.TimeoutError, OSError, asyncio.TimeoutError))


def ensure_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite database file, so a fresh checkout can migrate.

    Does nothing for other backends or in-memory databases.
    """
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return
    if not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _enable_sqlite_foreign_keys(dbapi_connection: DBAPIConnection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Write-ahead logging lets readers go on while one request writes, and with it
    # synchronous=NORMAL still never corrupts the file (a power cut may lose the last
    # commits, not the database). Without it every ticket waits for its own fsync.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
