"""The trimming tracker stores keep the conversation's state while loading only recent events.

The SQL store runs on SQLite and on the machine's PostgreSQL (a scratch database per test).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa  # type: ignore[import-untyped]
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    FollowupAction,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.tracker_store import TrimmingSQLTrackerStore, TrimmingTrackerStore, trimmed
from tests.postgres import PG, pg_admin

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, report_issue, inform, ask_help]
slots:
  issue_description:
    type: text
    mappings: [{type: custom}]
  issue_location:
    type: text
    mappings: [{type: custom}]
  ticket_reference:
    type: text
    mappings: [{type: custom}]
forms:
  intake_form:
    required_slots: [issue_description, issue_location]
responses:
  utter_greet: [{text: hi}]
  utter_help: [{text: help}]
"""
)


def long_conversation(turns: int) -> DialogueStateTracker:
    events = [ActionExecuted("action_session_start"), ActionExecuted("action_listen")]
    events.append(SlotSet("ticket_reference", "CD-7K2M9Q"))
    for turn in range(turns):
        events += [
            UserUttered(f"hello {turn}", {"name": "greet", "confidence": 1.0}),
            ActionExecuted("utter_greet"),
            ActionExecuted("action_listen"),
        ]
    events += [
        UserUttered("report", {"name": "report_issue", "confidence": 1.0}),
        ActionExecuted("intake_form"),
        ActiveLoop("intake_form"),
        SlotSet("requested_slot", "issue_location"),
        ActionExecuted("action_listen"),
    ]
    return DialogueStateTracker.from_events("c1", events, DOMAIN.slots)


def test_trimming_keeps_slots_form_and_the_latest_turns() -> None:
    tracker = long_conversation(100)

    short = trimmed(tracker, 24)

    assert len(short.events) < 40
    assert short.get_slot("ticket_reference") == "CD-7K2M9Q"
    assert short.active_loop_name == "intake_form"
    assert short.get_slot("requested_slot") == "issue_location"
    assert short.latest_message is not None
    assert short.latest_message.text == "report"
    assert isinstance(short.events[-1], ActionExecuted)


def test_short_conversations_are_left_alone() -> None:
    tracker = long_conversation(2)

    assert trimmed(tracker, 24) is tracker


async def test_store_streams_everything_but_stores_the_recent_part() -> None:
    store = TrimmingTrackerStore(DOMAIN, max_events=48, keep_events=24)
    tracker = long_conversation(100)

    await store.save(tracker)
    stored = await store.retrieve("c1")

    assert stored is not None
    assert len(stored.events) < 40
    assert stored.get_slot("ticket_reference") == "CD-7K2M9Q"
    assert stored.active_loop_name == "intake_form"


def conversation_with_every_kind_of_event() -> DialogueStateTracker:
    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        SlotSet("ticket_reference", "CD-7K2M9Q"),
        ActionExecuted("action_listen"),
        UserUttered(
            "pothole on Pine Street",
            {"name": "report_issue", "confidence": 0.93},
            [{"entity": "location", "value": "Pine Street", "start": 11, "end": 22}],
        ),
        ActionExecuted("intake_form", policy="RulePolicy", confidence=1.0),
        ActiveLoop("intake_form"),
        SlotSet("requested_slot", "issue_location"),
        BotUttered("Where is it?", {"buttons": [{"title": "Skip", "payload": "/skip"}]}),
        ActionExecuted("action_listen"),
        UserUttered("/skip", {"name": "skip", "confidence": 1.0}),
        FollowupAction("utter_greet"),
        ActiveLoop(None),
        ActionExecuted("utter_greet"),
        ActionExecuted("action_listen"),
    ]
    return DialogueStateTracker.from_events("c2", events, DOMAIN.slots)


async def test_stored_conversations_read_back_as_rasa_reads_them() -> None:
    tracker = conversation_with_every_kind_of_event()
    store = TrimmingTrackerStore(DOMAIN)
    serialised = store.serialise_tracker(tracker)

    ours = store.deserialise_tracker("c2", serialised)
    rasas = InMemoryTrackerStore(DOMAIN).deserialise_tracker("c2", serialised)

    assert ours is not None
    assert rasas is not None
    assert list(ours.events) == list(rasas.events) == list(tracker.events)
    assert [type(event) for event in ours.events] == [type(event) for event in tracker.events]
    assert ours.current_state() == rasas.current_state()


def test_an_unknown_event_type_is_refused_as_rasa_refuses_it() -> None:
    store = TrimmingTrackerStore(DOMAIN)

    with pytest.raises(ValueError, match="Unknown event name"):
        store.deserialise_tracker("c3", '{"name": "c3", "events": [{"event": "no_such_event"}]}')


class CollectingBroker(EventBroker):  # type: ignore[misc]
    """An event broker that keeps what it is sent."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.published.append(event)


SQLStoreFactory = Callable[..., Any]


@pytest.fixture(params=["sqlite", "postgresql"])
async def sql_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[SQLStoreFactory]:
    """Makes stores on one fresh database, built from an endpoint config as Rasa builds them."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'conversations.sqlite3'}"
    else:
        database = f"civicdesk_trackers_{secrets.token_hex(4)}"
        pg_admin(f'CREATE DATABASE "{database}"')
        url = f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{database}"
    made: list[SQLTrackerStore] = []

    def make(
        event_broker: EventBroker | None = None, *, rasas: bool = False, **settings: Any
    ) -> Any:
        """Our store with ``settings``, or with ``rasas`` Rasa's own SQL store, on the database."""
        kind = "sql" if rasas else "bot.tracker_store.TrimmingSQLTrackerStore"
        config = EndpointConfig(url=url, type=kind, **settings)
        store = TrackerStore.create(config, DOMAIN, event_broker)
        assert isinstance(store, SQLTrackerStore)
        assert rasas or isinstance(store, TrimmingSQLTrackerStore)
        made.append(store)
        return store

    yield make
    for store in made:
        store.engine.dispose()
    if request.param == "postgresql":
        pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def turn_events(turn: int, turns: int) -> list[Any]:
    """Small talk, a ticket reference early on, an intake form in the last three turns."""
    if turn == turns - 2:
        return [
            UserUttered("report", {"name": "report_issue", "confidence": 1.0}),
            ActionExecuted("intake_form"),
            ActiveLoop("intake_form"),
            SlotSet("requested_slot", "issue_description"),
            BotUttered("What happened?"),
            ActionExecuted("action_listen"),
        ]
    if turn == turns - 1:
        return [
            UserUttered("the lamp is dark", {"name": "inform", "confidence": 1.0}),
            ActionExecuted("intake_form"),
            SlotSet("issue_description", "the lamp is dark"),
            SlotSet("requested_slot", "issue_location"),
            BotUttered("Where is it?"),
            ActionExecuted("action_listen"),
        ]
    if turn == turns:
        return [
            UserUttered("help", {"name": "ask_help", "confidence": 1.0}),
            ActionExecuted("utter_help"),
            BotUttered("help"),
            ActionExecuted("intake_form"),
            BotUttered("Where is it?"),
            ActionExecuted("action_listen"),
        ]
    events = [
        UserUttered(f"hello {turn}", {"name": "greet", "confidence": 1.0}),
        ActionExecuted("utter_greet"),
        BotUttered("hi"),
    ]
    if turn == 1:
        events.append(SlotSet("ticket_reference", "CD-7K2M9Q"))
    return [*events, ActionExecuted("action_listen")]


async def play(store: TrackerStore, sender: str, turns: int) -> list[int]:
    """Plays ``turns`` as Rasa does (load, add the turn's events, save); events loaded per turn."""
    loaded: list[int] = []
    for turn in range(1, turns + 1):
        tracker = await store.get_or_create_tracker(sender)
        loaded.append(len(tracker.events))
        for event in turn_events(turn, turns):
            tracker.update(event)
        await store.save(tracker)
    return loaded


def slot_values(tracker: DialogueStateTracker) -> dict[str, Any]:
    return {name: slot.value for name, slot in tracker.slots.items()}


async def test_turn_300_loads_a_bounded_part_with_slots_and_form_on_sql(
    sql_store: SQLStoreFactory,
) -> None:
    broker = CollectingBroker()
    store = sql_store(event_broker=broker, max_events=48, keep_events=24)

    loaded = await play(store, "c1", 299)
    # Turn 300 loads, as after a restart: a new store on the same database.
    turn_300 = await sql_store().retrieve("c1")
    full = await store.retrieve_full_tracker("c1")

    assert turn_300 is not None
    assert full is not None
    # At most 48 rows plus a turn's, behind a session start and the slots that are set.
    assert max([*loaded, len(turn_300.events)]) <= 60, loaded
    assert len(full.events) > 1200
    assert turn_300.active_loop_name == "intake_form"
    assert turn_300.get_slot("requested_slot") == "issue_location"
    assert turn_300.get_slot("issue_description") == "the lamp is dark"
    assert turn_300.get_slot("ticket_reference") == "CD-7K2M9Q"
    assert slot_values(turn_300) == slot_values(full)
    # What the policies look at (max_history: 4) is what the whole conversation gives.
    assert turn_300.past_states(DOMAIN)[-8:] == full.past_states(DOMAIN)[-8:]
    assert list(turn_300.events)[-12:] == list(full.events)[-12:]
    # Every event reached the broker, and the store kept the whole conversation.
    assert [event["event"] for event in broker.published] == [
        event.type_name for event in full.events
    ]
    assert [event.text for event in full.events if isinstance(event, UserUttered)][:2] == [
        "hello 1",
        "hello 2",
    ]


async def test_a_new_session_is_loaded_from_its_start_on_sql(sql_store: SQLStoreFactory) -> None:
    store = sql_store()
    await play(store, "c2", 60)
    tracker = await store.retrieve("c2")
    assert tracker is not None
    for event in [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        SlotSet("ticket_reference", "CD-7K2M9Q"),
        ActionExecuted("action_listen"),
        UserUttered("hello again", {"name": "greet", "confidence": 1.0}),
        ActionExecuted("utter_greet"),
        ActionExecuted("action_listen"),
    ]:
        tracker.update(event)
    await store.save(tracker)

    again = await store.retrieve("c2")
    rasas = await sql_store(rasas=True).retrieve("c2")

    assert again is not None
    assert rasas is not None
    assert list(again.events) == list(rasas.events)
    assert len(again.events) <= 7
    assert again.get_slot("ticket_reference") == "CD-7K2M9Q"
    assert again.active_loop_name is None


async def test_sql_store_reads_conversations_back_as_rasa_reads_them(
    sql_store: SQLStoreFactory,
) -> None:
    tracker = conversation_with_every_kind_of_event()
    store = sql_store()
    await store.save(tracker)

    ours = await store.retrieve("c2")
    rasas = await sql_store(rasas=True).retrieve("c2")

    # Both load from the session start on (the action that ran it is stamped before it).
    since_session_start = list(tracker.events)[1:]
    assert ours is not None
    assert rasas is not None
    assert list(ours.events) == list(rasas.events) == since_session_start
    assert [type(event) for event in ours.events] == [type(e) for e in since_session_start]
    assert ours.current_state() == rasas.current_state()


async def test_sqlite_conversations_are_written_ahead_and_synced_at_checkpoints(
    tmp_path: Path,
) -> None:
    config = EndpointConfig(
        url=f"sqlite:///{tmp_path / 'conversations.sqlite3'}",
        type="bot.tracker_store.TrimmingSQLTrackerStore",
    )
    store = TrackerStore.create(config, DOMAIN)
    try:
        with store.engine.connect() as connection:
            journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            synchronous = connection.exec_driver_sql("PRAGMA synchronous").scalar()
    finally:
        store.engine.dispose()
    assert (journal, synchronous) == ("wal", 1)  # 1 is NORMAL


async def test_a_loaded_conversation_is_saved_in_one_statement_on_sql(
    sql_store: SQLStoreFactory,
) -> None:
    broker = CollectingBroker()
    store = sql_store(event_broker=broker)
    await play(store, "c3", 3)
    tracker = await store.retrieve("c3")
    assert tracker is not None
    for event in turn_events(4, 10):
        tracker.update(event)
    broker.published.clear()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split(None, 3)[:3])

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    try:
        await store.save(tracker)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", seen)

    # No look-up of the restart point, no count, no second load to tell the broker what is
    # new: the store knows what it loaded.
    assert statements == [["INSERT", "INTO", "events"]]
    assert [event["event"] for event in broker.published] == [
        event.type_name for event in turn_events(4, 10)
    ]
    again = await store.retrieve("c3")
    assert again is not None
    assert list(again.events) == list(tracker.events)


async def test_one_tracker_saved_again_after_a_trim_stores_each_event_once_on_sql(
    sql_store: SQLStoreFactory,
) -> None:
    store = sql_store(max_events=48, keep_events=24)
    await play(store, "c4", 10)
    tracker = await store.retrieve("c4")
    assert tracker is not None
    # Enough for the save to move the restart point, then more on the same tracker object,
    # as a turn that saves twice does.
    for turn in range(11, 15):
        for event in turn_events(turn, 100):
            tracker.update(event)
    await store.save(tracker)
    for event in turn_events(15, 100):
        tracker.update(event)
    await store.save(tracker)

    full = await store.retrieve_full_tracker("c4")
    loaded = await sql_store().retrieve("c4")
    assert full is not None
    assert loaded is not None
    assert [e.type_name for e in full.events] == [e.type_name for e in tracker.events]
    assert list(full.events) == list(tracker.events)
    assert len(loaded.events) < len(tracker.events)
    assert list(loaded.events)[-6:] == list(tracker.events)[-6:]


async def test_sqlite_connections_stay_open_between_turns(tmp_path: Path) -> None:
    config = EndpointConfig(
        url=f"sqlite:///{tmp_path / 'conversations.sqlite3'}",
        type="bot.tracker_store.TrimmingSQLTrackerStore",
    )
    store = TrackerStore.create(config, DOMAIN)
    store.engine.dispose()  # the connection that created the tables
    connects: list[object] = []
    sa.event.listen(store.engine, "connect", lambda connection, _record: connects.append(1))
    try:
        await play(store, "c5", 5)
    finally:
        store.engine.dispose()
    # Ten sessions (a load and a save per turn) on one connection.
    assert len(connects) == 1
