"""Uploaded photos, several per ticket.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``media``."""
    op.create_table(
        "media",
        sa.Column("id", sa.String(43), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("extension", sa.String(8), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_media_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_media_api_key_id_api_keys")
        ),
    )
    op.create_index(op.f("ix_media_ticket_id"), "media", ["ticket_id"])


def downgrade() -> None:
    """Drop ``media`` (the files on disk stay; remove the media folder by hand)."""
    op.drop_index(op.f("ix_media_ticket_id"), table_name="media")
    op.drop_table("media")
