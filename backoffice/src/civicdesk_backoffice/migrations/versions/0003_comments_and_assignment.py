"""Ticket comments (citizen information, staff notes) and assignment to a staff member.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``ticket_comments`` and add ``tickets.assignee_id``."""
    op.create_table(
        "ticket_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(20), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=True),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_comments")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_comments_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_users.id"],
            name=op.f("fk_ticket_comments_staff_user_id_staff_users"),
        ),
        sa.CheckConstraint(
            "author IN ('citizen', 'staff')", name=op.f("ck_ticket_comments_author")
        ),
        sa.CheckConstraint(
            "visibility IN ('public', 'internal')", name=op.f("ck_ticket_comments_visibility")
        ),
    )
    op.create_index(op.f("ix_ticket_comments_ticket_id"), "ticket_comments", ["ticket_id"])
    if op.get_bind().dialect.name == "sqlite":
        # Not batch mode: recreating ``tickets`` would trip the audit log's foreign key.
        # SQLite adds a nullable column with an inline, named reference in place.
        op.execute(
            "ALTER TABLE tickets ADD COLUMN assignee_id INTEGER "
            "CONSTRAINT fk_tickets_assignee_id_staff_users REFERENCES staff_users (id)"
        )
    else:
        op.add_column("tickets", sa.Column("assignee_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_tickets_assignee_id_staff_users"),
            "tickets",
            "staff_users",
            ["assignee_id"],
            ["id"],
        )
    op.create_index(op.f("ix_tickets_assignee_id"), "tickets", ["assignee_id"])


def downgrade() -> None:
    """Drop what ``upgrade`` created."""
    op.drop_index(op.f("ix_tickets_assignee_id"), table_name="tickets")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a referencing column, so batch mode rebuilds the table
        # (schema.migrate runs this with foreign keys checked once, at the end).
        with op.batch_alter_table("tickets") as batch:
            batch.drop_column("assignee_id")
    else:
        op.drop_constraint(
            op.f("fk_tickets_assignee_id_staff_users"), "tickets", type_="foreignkey"
        )
        op.drop_column("tickets", "assignee_id")
    op.drop_index(op.f("ix_ticket_comments_ticket_id"), table_name="ticket_comments")
    op.drop_table("ticket_comments")
