"""Retention on the bot side (bot/retention.py): idle conversations and finished outbox rows."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa  # type: ignore[import-untyped]
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from actions.outbox import Outbox
from bot import retention
from bot.retention import DAY_SECONDS, expire_conversations, retention_days
from bot.tracker_store import restart_points
from open311_schema import NewServiceRequest
from tests.fakes import FakeOpen311
from tests.postgres import PG, pg_admin

DOMAIN = Domain.from_yaml(
    "version: '3.1'\nslots:\n  contact_phone:\n    type: text\n    mappings:\n"
    "      - type: custom\n"
)
NOW = 2_000_000_000.0
HOUR = 3600.0
REQUEST = NewServiceRequest(service_code="street_light", phone="+8613900001111")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLTrackerStore]:
    """The trimming store on a fresh SQLite file or PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'conversations.sqlite3'}"
    else:
        database = f"civicdesk_retention_{secrets.token_hex(4)}"
        pg_admin(f'CREATE DATABASE "{database}"')
        url = f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{database}"
    config = EndpointConfig(
        url=url, type="bot.tracker_store.TrimmingSQLTrackerStore", max_events=4, keep_events=2
    )
    made = TrackerStore.create(config, DOMAIN)
    assert isinstance(made, SQLTrackerStore)
    yield made
    made.engine.dispose()
    if request.param == "postgresql":
        pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def talk(store: SQLTrackerStore, sender_id: str, *times: float) -> None:
    """One turn per time given: the citizen's number, typed and kept in a slot."""
    tracker = await store.retrieve(sender_id) or DialogueStateTracker(sender_id, DOMAIN.slots)
    for at in times:
        tracker.update(UserUttered("my number is 139 0000 1111", timestamp=at))
        tracker.update(SlotSet("contact_phone", "13900001111", timestamp=at))
        await store.save(tracker)


def senders(store: SQLTrackerStore) -> dict[str, int]:
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT sender_id, count(*) FROM events GROUP BY 1")
        return {sender: int(count) for sender, count in rows}


async def test_idle_conversations_go_and_recent_ones_stay(store: SQLTrackerStore) -> None:
    old = NOW - 40 * DAY_SECONDS
    await talk(store, "idle", old, old + 60)
    await talk(store, "long_idle", *(old + turn for turn in range(5)))  # trimmed: a restart point
    await talk(store, "came_back", old, NOW - HOUR)
    await talk(store, "overnight", NOW - 21 * HOUR)

    removed = expire_conversations(store.engine, 30, now=NOW)

    assert (removed.conversations, removed.events) == (2, 14)
    assert senders(store) == {"came_back": 4, "overnight": 2}
    with store.engine.connect() as connection:
        assert connection.execute(restart_points.select()).fetchall() == []
    kept = await store.retrieve("came_back")
    assert kept is not None
    assert kept.get_slot("contact_phone") == "13900001111"
    again = expire_conversations(store.engine, 30, now=NOW)
    assert (again.conversations, again.events) == (0, 0)


async def test_a_conversation_idle_for_a_day_is_kept_at_the_shortest_period(
    store: SQLTrackerStore,
) -> None:
    # Issue 12: at least 20 hours idle are kept; the shortest period is one day.
    await talk(store, "overnight", NOW - 23 * HOUR)
    await talk(store, "gone", NOW - 25 * HOUR)
    assert expire_conversations(store.engine, 1, now=NOW).conversations == 1
    assert senders(store) == {"overnight": 2}
    with pytest.raises(ValueError, match="at least one day"):
        expire_conversations(store.engine, 0, now=NOW)


async def test_a_store_rasa_has_not_created_yet_is_no_error(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert expire_conversations(engine, 30, now=NOW).conversations == 0


async def test_finished_outbox_rows_go_after_the_period_waiting_ones_never(
    tmp_path: Path,
) -> None:
    clock = [NOW - 40 * DAY_SECONDS]
    outbox = Outbox(tmp_path / "outbox.sqlite3", clock=lambda: clock[0])
    fake, down = FakeOpen311(), FakeOpen311(unavailable=True)
    delivered = outbox.enqueue("old", REQUEST).idempotency_key
    await outbox.deliver(delivered, fake)
    waiting = outbox.enqueue("old_waiting", REQUEST).idempotency_key
    await outbox.deliver(waiting, down)
    handoff = outbox.enqueue_handoff("old", "telegram:old", "call me on 139 0000 1111")
    fake.reject_with = 422
    await outbox.deliver_handoff(handoff.key, fake)  # refused: the words are kept
    clock[0] = NOW - HOUR
    fake.reject_with = None
    recent = outbox.enqueue("recent", REQUEST).idempotency_key
    await outbox.deliver(recent, fake)
    clock[0] = NOW

    assert outbox.drop_finished(30 * DAY_SECONDS) == {
        "submissions": 1,
        "handoffs": 1,
        "ticket_moves": 0,
    }
    assert [entry.state for entry in outbox.entries_for("old_waiting")] == ["pending"]
    assert [entry.state for entry in outbox.entries_for("recent")] == ["delivered"]
    assert outbox.entries_for("old") == []
    with pytest.raises(KeyError):
        outbox.get_handoff(handoff.key)


def test_the_period_is_whole_days_from_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICDESK_RETENTION_DAYS", raising=False)
    assert retention_days() == 30
    monkeypatch.setenv("CIVICDESK_RETENTION_DAYS", "7")
    assert retention_days() == 7
    assert retention_days("1") == 1
    for wrong in ("0", "-3", "1.5", "a week"):
        with pytest.raises(ValueError, match="CIVICDESK_RETENTION_DAYS"):
            retention_days(wrong)


async def test_the_command_reports_counts_and_refuses_a_bad_period(
    store: SQLTrackerStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    day_old = time.time() - 2 * DAY_SECONDS
    await talk(store, "idle", day_old)
    await talk(store, "today", time.time())
    outbox = Outbox(tmp_path / "outbox.sqlite3", clock=lambda: day_old)
    await outbox.deliver(outbox.enqueue("idle", REQUEST).idempotency_key, FakeOpen311())
    monkeypatch.setenv("CIVICDESK_TRACKER_DB_URL", store.engine.url.render_as_string(False))
    monkeypatch.setenv("CIVICDESK_OUTBOX_PATH", str(tmp_path / "outbox.sqlite3"))

    assert retention.main(["--days", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "days": 1,
        "conversations": 1,
        "events": 2,
        "outbox": {"submissions": 1, "handoffs": 0, "ticket_moves": 0},
    }
    assert senders(store) == {"today": 2}

    assert retention.main(["--days", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
    monkeypatch.setenv("CIVICDESK_OUTBOX_PATH", str(tmp_path / "nowhere.sqlite3"))
    assert retention.main([]) == 0
    assert json.loads(capsys.readouterr().out)["outbox"] is None
    assert not (tmp_path / "nowhere.sqlite3").exists()
