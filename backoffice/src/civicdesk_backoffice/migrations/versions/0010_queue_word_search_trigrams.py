"""Word search in the console queue rides on a trigram index (PostgreSQL).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

The queue's word search asks, for up to five words, ``search_text ILIKE '%word%'`` where
``search_text`` is ``coalesce(description, '') || ' ' || coalesce(address_string, '')``
(``console/_queue.py``). Without an index PostgreSQL read every open ticket in reach to
count the matches (20,000 heap rows for one department at a million tickets). This adds:

- ``pg_trgm`` and ``btree_gin`` (both shipped with PostgreSQL and trusted: a database
  owner may create them);
- a GIN index over the open tickets of ``department`` (btree_gin) and ``search_text``
  (trigrams), so one department's matching tickets are found in the index and only those
  rows are read; an admin's search, without the department, uses the same index;
- extended statistics on ``search_text``: without them the planner guesses that any word
  matches almost nothing, and reads every match to sort them even for a word in half the
  tickets, where walking the filing-time index and stopping after 50 is far cheaper.

SQLite gets nothing: the same query runs there as a scan, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "status IN ('new', 'acknowledged', 'in_progress', 'reopened')"
_SEARCH_TEXT = "(coalesce(description, '') || ' ' || coalesce(address_string, ''))"
INDEX = "ix_tickets_open_department_search_trgm"
STATISTICS = "st_tickets_search_text"


def upgrade() -> None:
    """Create the extensions, the index and the statistics (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute(
        f"CREATE INDEX {INDEX} ON tickets USING gin "
        f"(department, {_SEARCH_TEXT} gin_trgm_ops) WHERE {_OPEN}"
    )
    op.execute(f"CREATE STATISTICS {STATISTICS} ON {_SEARCH_TEXT} FROM tickets")
    op.execute("ANALYZE tickets")


def downgrade() -> None:
    """Drop the statistics and the index; the extensions stay (others may use them)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
