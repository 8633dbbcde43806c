"""Rasa's in-memory tracker store, trimmed so a long conversation keeps a bounded turn cost.

Rasa replays a conversation's events on every turn (deserialising the stored tracker and
computing the dialogue states the policies look at), so without a bound turn 300 costs several
times turn 10. Policies look back only ``max_history`` turns, so older events change no
prediction: once a conversation holds more than ``max_events`` events, the stored copy keeps
its last ``keep_events`` (from a user turn on), preceded by a session start that restores the
current slots and active form. Every event is still streamed to the event broker, untrimmed,
before trimming, so analytics see the whole conversation.

Reading a stored conversation back is the other per-turn cost: Rasa looks up each event's class
by walking every subclass of ``Event`` for every event, which took more time than parsing the
JSON. This store resolves event types from a table built once.

Configured in ``endpoints.yml``::

    tracker_store:
      type: bot.tracker_store.TrimmingTrackerStore
"""

from __future__ import annotations

import copy
import json
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import all_subclasses

MAX_EVENTS = 48
KEEP_EVENTS = 24


def event_classes() -> dict[str, type[Event]]:
    """Event classes by their serialised type name, first one wins as in Rasa's own lookup."""
    classes: dict[str, type[Event]] = {}
    for event_class in all_subclasses(Event):
        classes.setdefault(event_class.type_name, event_class)
    return classes


def trimmed(tracker: DialogueStateTracker, keep_events: int) -> DialogueStateTracker:
    """A copy of ``tracker`` holding its current state and only its recent events."""
    events = list(tracker.events)
    if len(events) <= keep_events:
        return tracker
    start = len(events) - keep_events
    # Cut at a user turn so no turn is split.
    while start < len(events) and not isinstance(events[start], UserUttered):
        start += 1
    if start >= len(events):
        return tracker
    head: list[Event] = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        *(
            SlotSet(name, slot.value)
            for name, slot in tracker.slots.items()
            if slot.value is not None and slot.value != slot.initial_value
        ),
    ]
    if tracker.active_loop_name:
        head.append(ActiveLoop(tracker.active_loop_name))
    head.append(ActionExecuted("action_listen"))
    return DialogueStateTracker.from_events(
        tracker.sender_id, head + events[start:], copy.deepcopy(list(tracker.slots.values()))
    )


class TrimmingTrackerStore(InMemoryTrackerStore):  # type: ignore[misc]  # rasa is untyped
    """:class:`InMemoryTrackerStore` that stores only the recent part of long conversations.

    Args:
        domain: The assistant's domain.
        event_broker: Where every event is streamed, untrimmed.
        max_events: Trim a conversation once it holds more events than this.
        keep_events: How many of the latest events a trimmed conversation keeps.
    """

    def __init__(
        self,
        domain: Domain,
        event_broker: EventBroker | None = None,
        max_events: int = MAX_EVENTS,
        keep_events: int = KEEP_EVENTS,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("host", None)
        super().__init__(domain, event_broker, **kwargs)
        self.max_events = int(max_events)
        self.keep_events = int(keep_events)
        self._event_classes: dict[str, type[Event]] | None = None

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        if len(tracker.events) > self.max_events:
            tracker = trimmed(tracker, self.keep_events)
        self.store[tracker.sender_id] = self.serialise_tracker(tracker)

    def deserialise_tracker(
        self, sender_id: str, serialised_tracker: str | bytes
    ) -> DialogueStateTracker | None:
        """Rebuilds a stored tracker, resolving event types through a table built once."""
        if self._event_classes is None:
            self._event_classes = event_classes()
        parameters = json.loads(serialised_tracker)
        events: list[Event] = []
        for event_parameters in parameters.get("events", []):
            event_class = self._event_classes.get(event_parameters.get("event"))
            # Anything the table does not know goes through Rasa's own lookup and its errors.
            event = (
                event_class._from_parameters(event_parameters)
                if event_class is not None
                else Event.from_parameters(event_parameters)
            )
            if event is not None:
                events.append(event)
        tracker = self.init_tracker(sender_id)
        tracker.recreate_from_dialogue(Dialogue(parameters.get("name"), events))
        return tracker
