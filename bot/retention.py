"""Retention on the bot side: idle conversations and finished outbox rows go after N days.

``python -m bot.retention`` (``make run``'s supervisor runs it at start and every six hours;
elsewhere cron or a systemd timer, daily) removes

- every conversation of the tracker store (``CIVICDESK_TRACKER_DB_URL``, SQLite or
  PostgreSQL) whose latest event is more than ``CIVICDESK_RETENTION_DAYS`` old: all its
  events, with each message the citizen typed and each slot, and its restart point; and
- the rows of the action server's outbox (``CIVICDESK_OUTBOX_PATH``) that were delivered
  or refused more than that many days ago, with what they still hold (the conversation id,
  the identity, the ticket reference). Rows still waiting for the back office stay.

The period is whole days, 30 by default, at least 1: a conversation idle for less than a day
is never removed, so a complaint left half-filed overnight is still there in the morning
(issue 12 asks for 20 hours). The log line says what was removed in counts only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa  # type: ignore[import-untyped]  # SQLAlchemy 1.4 is untyped

from actions.outbox import Outbox
from bot.tracker_store import restart_points

logger = logging.getLogger(__name__)

RETENTION_DAYS_ENV = "CIVICDESK_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30
TRACKER_DB_URL_ENV = "CIVICDESK_TRACKER_DB_URL"
DEFAULT_TRACKER_DB_URL = "sqlite:///var/conversations.sqlite3"
OUTBOX_PATH_ENV = "CIVICDESK_OUTBOX_PATH"
DEFAULT_OUTBOX_PATH = Path("var/outbox.sqlite3")  # the action server's default too
DAY_SECONDS = 24 * 3600.0
SENDERS_PER_BATCH = 500
"""Conversations removed per transaction, so a first run on a large store holds no long lock."""


def retention_days(raw: str | None = None) -> int:
    """The period from ``CIVICDESK_RETENTION_DAYS`` (or ``raw``): whole days, at least 1.

    Raises:
        ValueError: naming the variable, for anything else.
    """
    value = (os.environ.get(RETENTION_DAYS_ENV, "") if raw is None else raw).strip()
    if not value:
        return DEFAULT_RETENTION_DAYS
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{RETENTION_DAYS_ENV} must be a whole number of days, at least 1")
    return int(value)


def outbox_path() -> Path:
    """Where the action server keeps its outbox, as it reads it (same variable, same default)."""
    return Path(os.environ.get(OUTBOX_PATH_ENV, "").strip() or DEFAULT_OUTBOX_PATH)


@dataclass
class ConversationsRemoved:
    """What one pass over the tracker store removed."""

    conversations: int = 0
    events: int = 0


def _events_table(engine: Any) -> sa.Table | None:
    if not sa.inspect(engine).has_table("events"):
        return None
    return sa.Table("events", sa.MetaData(), autoload_with=engine)


def expire_conversations(
    engine: Any, days: int, *, now: float | None = None
) -> ConversationsRemoved:
    """Delete the conversations of ``engine``'s tracker store idle for more than ``days``.

    Idle means the newest event is older than the cutoff. Each batch checks that again in the
    statement that deletes, so a conversation that got a message since it was picked stays.
    Works on Rasa's ``events`` table (any SQL tracker store) and this project's restart points.
    """
    if days < 1:
        raise ValueError("the retention period is at least one day")
    cutoff = (time.time() if now is None else now) - days * DAY_SECONDS
    removed = ConversationsRemoved()
    events = _events_table(engine)
    if events is None:
        return removed
    has_points = sa.inspect(engine).has_table(restart_points.name)
    idle = (
        sa.select(events.c.sender_id)
        .group_by(events.c.sender_id)
        .having(sa.func.max(events.c.timestamp) < cutoff)
    )
    with engine.connect() as connection:
        senders = [row[0] for row in connection.execute(idle)]
    for start in range(0, len(senders), SENDERS_PER_BATCH):
        batch = senders[start : start + SENDERS_PER_BATCH]
        still_idle = idle.where(events.c.sender_id.in_(batch))
        with engine.begin() as connection:
            gone = [row[0] for row in connection.execute(still_idle)]
            if not gone:
                continue
            deleted = connection.execute(events.delete().where(events.c.sender_id.in_(gone)))
            if has_points:
                connection.execute(
                    restart_points.delete().where(restart_points.c.sender_id.in_(gone))
                )
        removed.conversations += len(gone)
        removed.events += int(deleted.rowcount or 0)
    return removed


@dataclass
class RetentionReport:
    """What one run removed; the command prints it as JSON."""

    days: int
    conversations: int = 0
    events: int = 0
    outbox: dict[str, int] | None = field(default=None)


def run(
    tracker_db_url: str,
    outbox_file: Path,
    days: int,
    *,
    clock: Callable[[], float] = time.time,
) -> RetentionReport:
    """One pass over the tracker store and the outbox (when its file exists here)."""
    engine = sa.create_engine(tracker_db_url)
    try:
        conversations = expire_conversations(engine, days, now=clock())
    finally:
        engine.dispose()
    report = RetentionReport(days, conversations.conversations, conversations.events)
    if outbox_file.is_file():
        report.outbox = Outbox(outbox_file, clock=clock).drop_finished(days * DAY_SECONDS)
    logger.info(
        "retention (%d days): %d conversation(s), %d event(s); outbox rows %s",
        days,
        report.conversations,
        report.events,
        "not here" if report.outbox is None else report.outbox,
    )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bot.retention [--days N]``; exit code 2 for a bad period."""
    parser = argparse.ArgumentParser(prog="python -m bot.retention", description=__doc__)
    parser.add_argument("--days", help=f"overrides {RETENTION_DAYS_ENV} (default 30)")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        days = retention_days(options.days)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    url = os.environ.get(TRACKER_DB_URL_ENV, "").strip() or DEFAULT_TRACKER_DB_URL
    report = run(url, outbox_path(), days)
    print(json.dumps(asdict(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
