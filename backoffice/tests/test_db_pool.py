"""The PostgreSQL connection pool: reused under load, idle connections pinged before use."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncConnection

from civicdesk_backoffice import db
from tests.conftest import _admin_execute


async def _backend_pid(connection: AsyncConnection) -> int:
    return int(await connection.scalar(text("SELECT pg_backend_pid()")))


async def test_connections_in_flight_go_back_to_the_pool(postgres_url: str) -> None:
    engine = db.create_engine(postgres_url)
    try:
        release = asyncio.Event()

        async def hold() -> int:
            async with engine.connect() as connection:
                pid = await _backend_pid(connection)
                await release.wait()
                return pid

        tasks = [asyncio.create_task(hold()) for _ in range(16)]
        await asyncio.sleep(0.5)
        release.set()
        first = set(await asyncio.gather(*tasks))
        assert engine.pool.checkedin() == 16  # type: ignore[attr-defined]
        tasks = [asyncio.create_task(hold()) for _ in range(16)]
        await asyncio.sleep(0.5)
        release.set()
        assert set(await asyncio.gather(*tasks)) == first  # no connection was reopened
    finally:
        await engine.dispose()


async def test_idle_connection_cut_by_the_database_is_replaced(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    engine = db.create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            pid = await _backend_pid(connection)
        await _admin_execute(f"SELECT pg_terminate_backend({pid}, 5000)")
        async with engine.connect() as connection:
            assert await _backend_pid(connection) != pid
    finally:
        await engine.dispose()


async def test_busy_connection_cut_by_the_database_fails_one_use_only(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    engine = db.create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            pid = await _backend_pid(connection)
        await _admin_execute(f"SELECT pg_terminate_backend({pid}, 5000)")
        with pytest.raises(exc.DBAPIError) as failure:
            async with engine.connect() as connection:
                await _backend_pid(connection)
        assert db.is_database_unavailable(failure.value)
        async with engine.connect() as connection:
            assert await _backend_pid(connection) != pid
    finally:
        await engine.dispose()
