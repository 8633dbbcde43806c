"""Citizen follow-ups (rating, duplicates, handoffs), the chat push outbox, citizen audit rows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_GUARDS = ("UPDATE", "DELETE")


def upgrade() -> None:
    """Add ticket columns, ``handoffs`` and ``outbox``; let audit rows have no staff member."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # In place, like 0003: rebuilding ``tickets`` would trip the audit log's reference.
        op.execute(
            "ALTER TABLE tickets ADD COLUMN duplicate_of VARCHAR(16) "
            "CONSTRAINT fk_tickets_duplicate_of_tickets REFERENCES tickets (service_request_id)"
        )
        op.execute("ALTER TABLE tickets ADD COLUMN rating INTEGER")
    else:
        op.add_column("tickets", sa.Column("duplicate_of", sa.String(16), nullable=True))
        op.create_foreign_key(
            op.f("fk_tickets_duplicate_of_tickets"),
            "tickets",
            "tickets",
            ["duplicate_of"],
            ["service_request_id"],
        )
        op.add_column("tickets", sa.Column("rating", sa.Integer(), nullable=True))

    op.create_table(
        "handoffs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("identity", sa.String(255), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected_response_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoffs")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_handoffs_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["answered_by_id"],
            ["staff_users.id"],
            name=op.f("fk_handoffs_answered_by_id_staff_users"),
        ),
        sa.CheckConstraint("status IN ('waiting', 'answered')", name=op.f("ck_handoffs_status")),
    )
    op.create_index(op.f("ix_handoffs_ticket_id"), "handoffs", ["ticket_id"])
    op.create_index(
        "ix_handoffs_department_status_created_at",
        "handoffs",
        ["department", "status", "created_at"],
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(255), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_outbox_ticket_id_tickets")
        ),
        sa.CheckConstraint("state IN ('pending', 'sent', 'failed')", name=op.f("ck_outbox_state")),
    )
    op.create_index(op.f("ix_outbox_ticket_id"), "outbox", ["ticket_id"])
    op.create_index("ix_outbox_state_next_attempt_at", "outbox", ["state", "next_attempt_at"])

    # Citizens' own changes (withdraw, reopen, rating, handoff) are audited without a staff
    # member. DDL does not fire the append-only triggers.
    if sqlite:
        # SQLite cannot relax NOT NULL in place: batch mode rebuilds the table, and the
        # append-only triggers go with the old one, so they are created again.
        with op.batch_alter_table("audit_log") as batch:
            batch.alter_column("staff_user_id", existing_type=sa.Integer(), nullable=True)
        _create_sqlite_guards()
    else:
        op.alter_column("audit_log", "staff_user_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    """Drop what ``upgrade`` added; citizens' audit rows are deleted (0004 cannot hold them)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER audit_log_no_delete")
        op.execute("DELETE FROM audit_log WHERE staff_user_id IS NULL")
        op.execute("DROP TRIGGER audit_log_no_update")
        with op.batch_alter_table("audit_log") as batch:
            batch.alter_column("staff_user_id", existing_type=sa.Integer(), nullable=False)
        _create_sqlite_guards()
    else:
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        op.execute("DELETE FROM audit_log WHERE staff_user_id IS NULL")
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        op.alter_column("audit_log", "staff_user_id", existing_type=sa.Integer(), nullable=False)

    op.drop_index("ix_outbox_state_next_attempt_at", table_name="outbox")
    op.drop_index(op.f("ix_outbox_ticket_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_handoffs_department_status_created_at", table_name="handoffs")
    op.drop_index(op.f("ix_handoffs_ticket_id"), table_name="handoffs")
    op.drop_table("handoffs")

    if sqlite:
        with op.batch_alter_table("tickets") as batch:
            batch.drop_column("rating")
            batch.drop_column("duplicate_of")
    else:
        op.drop_column("tickets", "rating")
        op.drop_constraint(op.f("fk_tickets_duplicate_of_tickets"), "tickets", type_="foreignkey")
        op.drop_column("tickets", "duplicate_of")


def _create_sqlite_guards() -> None:
    for event in _SQLITE_GUARDS:
        op.execute(
            f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )
