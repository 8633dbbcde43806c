"""Service-specific wording of the place and photo questions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("location_question", "photo_question")


def upgrade() -> None:
    """Add ``services.location_question`` and ``services.photo_question`` (nullable)."""
    # Nullable and without references: SQLite adds them in place too, no table rebuild.
    for name in _COLUMNS:
        op.add_column("services", sa.Column(name, sa.String(500), nullable=True))


def downgrade() -> None:
    """Drop both columns; the catalogue files still hold the wording."""
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("services") as batch:
            for name in reversed(_COLUMNS):
                batch.drop_column(name)
    else:
        for name in reversed(_COLUMNS):
            op.drop_column("services", name)
