"""The Alembic migrations and the SQLAlchemy models describe the same schema."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from civicdesk_backoffice.db import create_engine
from civicdesk_backoffice.models import Base
from civicdesk_backoffice.schema import check_schema, current_revision, head_revision


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
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
