"""Staff console sessions and lock-out, publishing, photo review, points, queue indexes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "status IN ('new', 'acknowledged', 'in_progress', 'reopened')"

# (table, column): every one is nullable or has a server default, so SQLite adds it in place
# (no table rebuild, which the audit log's references would trip).
_COLUMNS: tuple[tuple[str, sa.Column[Any]], ...] = (
    ("staff_users", sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)),
    ("staff_users", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True)),
    ("tickets", sa.Column("published_at", sa.DateTime(timezone=True), nullable=True)),
    ("tickets", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True)),
    (
        "tickets",
        sa.Column("points_opt_in", sa.Boolean(), server_default=sa.false(), nullable=False),
    ),
    ("media", sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True)),
    ("media", sa.Column("flagged", sa.Boolean(), server_default=sa.false(), nullable=False)),
)

# Queue indexes: the open-ticket ones are partial, so a tab at a million tickets walks only
# the open ones of one department, already in order (keyset pagination needs no sort).
_INDEXES: tuple[tuple[str, list[str], str | None], ...] = (
    ("ix_tickets_open_department_requested_at", ["department", "requested_at", "id"], _OPEN),
    ("ix_tickets_open_department_expected_at", ["department", "expected_at", "id"], _OPEN),
    ("ix_tickets_open_requested_at", ["requested_at", "id"], _OPEN),
    ("ix_tickets_open_expected_at", ["expected_at", "id"], _OPEN),
    ("ix_tickets_department_status_requested_at", ["department", "status", "requested_at"], None),
    ("ix_tickets_published_at", ["published_at"], "published_at IS NOT NULL"),
)


def upgrade() -> None:
    """Add the columns, ``staff_sessions``, ``citizen_points`` and the queue indexes."""
    for table, column in _COLUMNS:
        op.add_column(table, column)
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_sessions_staff_user_id_staff_users"),
        ),
    )
    op.create_index(op.f("ix_staff_sessions_staff_user_id"), "staff_sessions", ["staff_user_id"])
    op.create_table(
        "citizen_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(255), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(50), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=True),
        sa.Column("awarded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_points")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_citizen_points_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_users.id"],
            name=op.f("fk_citizen_points_staff_user_id_staff_users"),
        ),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_citizen_points_ticket_id")),
        sa.CheckConstraint("points > 0", name=op.f("ck_citizen_points_points_positive")),
    )
    op.create_index(
        "ix_citizen_points_identity_awarded_at", "citizen_points", ["identity", "awarded_at"]
    )
    for name, columns, where in _INDEXES:
        predicate = None if where is None else sa.text(where)
        op.create_index(
            name, "tickets", columns, postgresql_where=predicate, sqlite_where=predicate
        )


def downgrade() -> None:
    """Drop all of it again (points and console sessions are lost)."""
    for name, _, _ in reversed(_INDEXES):
        op.drop_index(name, table_name="tickets")
    op.drop_index("ix_citizen_points_identity_awarded_at", table_name="citizen_points")
    op.drop_table("citizen_points")
    op.drop_index(op.f("ix_staff_sessions_staff_user_id"), table_name="staff_sessions")
    op.drop_table("staff_sessions")
    if op.get_bind().dialect.name == "sqlite":
        for table in ("media", "tickets", "staff_users"):
            with op.batch_alter_table(table) as batch:
                for owner, column in reversed(_COLUMNS):
                    if owner == table:
                        batch.drop_column(column.name)
    else:
        for table, column in reversed(_COLUMNS):
            op.drop_column(table, column.name)
