"""The Alembic migrations and the SQLAlchemy models describe the same schema."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from civicdesk_backoffice.db import create_engine
from civicdesk_backoffice.models import Base
from civicdesk_backoffice.schema import (
    check_schema,
    current_revision,
    downgrade,
    head_revision,
    migrate,
)
from tests.conftest import StaffFactory, file_request

# Indexes only a migration describes: a GIN index over an expression with an operator
# class per column is beyond what the models' Index() declares (see migration 0010 and
# test_queue_search.py, which checks that PostgreSQL uses it).
_MIGRATION_ONLY_INDEXES = {"ix_tickets_open_department_search_trgm"}


def _compared(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (type_ == "index" and name in _MIGRATION_ONLY_INDEXES)


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": _compared}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_database_matches_the_models(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
        assert differences == []
        assert await current_revision(engine) == head_revision()
        await check_schema(engine)  # raises if the revision were behind
    finally:
        await engine.dispose()


async def test_migrations_downgrade_and_upgrade_with_data_in_place(
    db_url: str, client: Any, api_key: str, make_staff: StaffFactory
) -> None:
    # Rows in every table that points at tickets, so rebuilding tables is really exercised.
    reference = await file_request(client, api_key)
    ann = await make_staff("ann", "Street Lighting")
    assert (
        await client.get(f"/api/v1/staff/tickets/{reference}", headers=ann.headers)
    ).status == 200
    comment = await client.post(
        f"/api/v1/citizens/telegram:12345/tickets/{reference}/comments",
        json={"body": "More detail."},
        headers={"X-API-Key": api_key},
    )
    assert comment.status == 201
    # A citizen's own change (an audit row without a staff member, gone below 0005) and a
    # handoff about the ticket.
    citizen = f"/api/v1/citizens/telegram:12345/tickets/{reference}"
    withdrawn = await client.post(
        f"{citizen}/withdraw", json={"reason": "Sorted."}, headers={"X-API-Key": api_key}
    )
    assert withdrawn.status == 200
    handoff = await client.post(
        "/api/v1/citizens/telegram:12345/handoffs",
        json={"message": "Call me.", "service_request_id": reference},
        headers={"X-API-Key": api_key},
    )
    assert handoff.status == 201
    engine = create_engine(db_url)
    try:
        await downgrade(engine, "0001")
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM audit_log")) == 1
        await migrate(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            found = await connection.scalar(
                text("SELECT count(*) FROM tickets WHERE service_request_id = :r"),
                {"r": reference},
            )
        assert found == 1
    finally:
        await engine.dispose()
