"""The trimming tracker store keeps the conversation's state while dropping old events."""

from __future__ import annotations

import pytest
from rasa.core.tracker_store import InMemoryTrackerStore
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

from bot.tracker_store import TrimmingTrackerStore, trimmed

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, report_issue]
slots:
  issue_location:
    type: text
    mappings: [{type: custom}]
  ticket_reference:
    type: text
    mappings: [{type: custom}]
forms:
  intake_form:
    required_slots: [issue_location]
responses:
  utter_greet: [{text: hi}]
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
