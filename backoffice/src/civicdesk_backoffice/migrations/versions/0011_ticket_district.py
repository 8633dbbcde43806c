"""Tickets carry the district of their place, for the public page's district filter.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

``tickets.district`` is chosen when a ticket is filed, from the districts file
(``districts.py``: coordinates first, then address words). Tickets filed before this
revision have none until ``civicdesk-backoffice districts assign`` fills them in. The index
serves the public list filtered by district: published tickets of one district, latest
published first.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_tickets_published_district_published_at"
_PUBLISHED = "published_at IS NOT NULL"


def upgrade() -> None:
    """Add ``tickets.district`` and its index of published tickets."""
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("district", sa.String(length=40), nullable=True))
    op.create_index(
        _INDEX,
        "tickets",
        ["district", "published_at", "id"],
        postgresql_where=sa.text(_PUBLISHED),
        sqlite_where=sa.text(_PUBLISHED),
    )


def downgrade() -> None:
    """Drop the index and the column."""
    op.drop_index(_INDEX, table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("district")
