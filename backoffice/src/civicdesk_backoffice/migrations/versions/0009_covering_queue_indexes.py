"""The console queue's open-ticket indexes also carry what the tab counts read.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

The four tab counts (new, open, overdue, mine) read ``status``, ``expected_at``,
``assignee_id`` (and, filtered by service, ``service_code``) of every open ticket in
reach. Carried in the partial indexes (PostgreSQL ``INCLUDE``), the counts are an
index-only scan instead of one heap page per open ticket: at a million tickets, about
15,000 page reads per queue page fewer. SQLite has no
``INCLUDE``; there the indexes stay as they were. The "mine" tab gets its own partial
index (assignee, then filing time), on both backends.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "status IN ('new', 'acknowledged', 'in_progress', 'reopened')"
_INDEXES = (
    ("ix_tickets_open_department_requested_at", ["department", "requested_at", "id"]),
    ("ix_tickets_open_requested_at", ["requested_at", "id"]),
)
_INCLUDED = ["status", "expected_at", "assignee_id", "service_code"]
_MINE = ("ix_tickets_open_assignee_requested_at", ["assignee_id", "requested_at", "id"])


def _recreate(include: list[str] | None) -> None:
    for name, columns in _INDEXES:
        op.drop_index(name, table_name="tickets")
        op.create_index(
            name,
            "tickets",
            columns,
            postgresql_where=sa.text(_OPEN),
            postgresql_include=include,
            sqlite_where=sa.text(_OPEN),
        )


def upgrade() -> None:
    """Include the counted columns (PostgreSQL); add the "mine" tab's index (both)."""
    if op.get_bind().dialect.name == "postgresql":
        _recreate(_INCLUDED)
    op.create_index(
        _MINE[0],
        "tickets",
        _MINE[1],
        postgresql_where=sa.text(_OPEN),
        sqlite_where=sa.text(_OPEN),
    )


def downgrade() -> None:
    """Drop the "mine" index; rebuild the others without the included columns."""
    op.drop_index(_MINE[0], table_name="tickets")
    if op.get_bind().dialect.name == "postgresql":
        _recreate(None)
