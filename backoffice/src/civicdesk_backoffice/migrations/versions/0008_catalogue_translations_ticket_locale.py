"""The catalogue's translations, and the language each ticket was filed in.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``services.translations`` (locale -> words) and ``tickets.locale`` (default en)."""
    # Server defaults fill the existing rows, so both can be NOT NULL without a table
    # rebuild on SQLite; tickets filed before this change were all filed in English.
    op.add_column(
        "services",
        sa.Column("translations", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )
    op.add_column(
        "tickets",
        sa.Column("locale", sa.String(35), nullable=False, server_default=sa.text("'en'")),
    )


def downgrade() -> None:
    """Drop both columns; the catalogue files still hold the translations."""
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("tickets") as batch:
            batch.drop_column("locale")
        with op.batch_alter_table("services") as batch:
            batch.drop_column("translations")
    else:
        op.drop_column("tickets", "locale")
        op.drop_column("services", "translations")
