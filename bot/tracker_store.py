"""Rasa's tracker stores, trimmed so a long conversation keeps a bounded turn cost.

Rasa replays a conversation's events on every turn (deserialising the stored tracker and
computing the dialogue states the policies look at), so without a bound turn 300 costs several
times turn 10. Policies look back only ``max_history`` turns, so older events change no
prediction: once a conversation holds more than ``max_events`` events since its last restart
point, what a turn loads becomes its last ``keep_events`` or so (from a user turn on), preceded
by a session start that restores the slots and the active form as they stood just before that
turn. Every event is still streamed to the event broker, untrimmed, so analytics see the whole
conversation.

Two stores do this:

- :class:`TrimmingSQLTrackerStore` (Rasa's SQL store: SQLite for ``make run``, PostgreSQL
  scaled out) keeps every event and moves where a turn starts reading, so conversations
  survive restarts and the full history stays readable.
- :class:`TrimmingTrackerStore` (Rasa's in-memory store) keeps only the recent part; nothing
  survives a restart. The turn-cost benchmark and the tests use it.

Reading a stored conversation back is the other per-turn cost: Rasa looks up each event's class
by walking every subclass of ``Event`` for every event, which took more time than parsing the
JSON. Both stores resolve event types from a table built once.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa  # type: ignore[import-untyped]  # SQLAlchemy 1.4 is untyped
import sqlalchemy.exc  # type: ignore[import-untyped]
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore
from rasa.shared.core.conversation import Dialogue
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from rasa.shared.utils.common import all_subclasses
from sqlalchemy.orm import Query, Session  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)

MAX_EVENTS = 48
KEEP_EVENTS = 24


def event_classes() -> dict[str, type[Event]]:
    """Event classes by their serialised type name, first one wins as in Rasa's own lookup."""
    classes: dict[str, type[Event]] = {}
    for event_class in all_subclasses(Event):
        classes.setdefault(event_class.type_name, event_class)
    return classes


def deserialised(
    serialised_events: Iterable[dict[str, Any]], classes: dict[str, type[Event]]
) -> list[Event]:
    """Events from their dicts, as Rasa's ``deserialise_events`` makes them, looked up in
    ``classes``; anything the table does not know goes through Rasa's own lookup and errors."""
    events: list[Event] = []
    for parameters in serialised_events:
        event_class = classes.get(parameters.get("event", ""))
        event = (
            event_class._from_parameters(parameters)
            if event_class is not None
            else Event.from_parameters(parameters)
        )
        if event is not None:
            events.append(event)
    return events


def restart_cut(events: Sequence[Event], keep_events: int) -> int | None:
    """Where a trimmed conversation starts: the first user turn among the latest
    ``keep_events`` events (so no turn is split), or ``None`` if there is nothing to drop."""
    for index in range(max(len(events) - keep_events, 1), len(events)):
        if isinstance(events[index], UserUttered):
            return index
    return None


def restart_head(state: DialogueStateTracker, timestamp: float) -> list[Event]:
    """Events that bring a fresh tracker to ``state``'s slots, active form and pause."""
    head: list[Event] = [
        ActionExecuted("action_session_start", timestamp=timestamp),
        SessionStarted(timestamp=timestamp),
        *(
            SlotSet(name, slot.value, timestamp=timestamp)
            for name, slot in state.slots.items()
            if slot.value is not None and slot.value != slot.initial_value
        ),
    ]
    if state.active_loop_name:
        head.append(ActiveLoop(state.active_loop_name, timestamp=timestamp))
    if state.is_paused():
        head.append(ConversationPaused(timestamp=timestamp))
    head.append(ActionExecuted("action_listen", timestamp=timestamp))
    return head


def state_before(tracker: DialogueStateTracker, index: int) -> DialogueStateTracker:
    """``tracker`` as it stood before its event at ``index``."""
    return DialogueStateTracker.from_events(
        tracker.sender_id,
        list(tracker.events)[:index],
        copy.deepcopy(list(tracker.slots.values())),
    )


def trimmed(tracker: DialogueStateTracker, keep_events: int) -> DialogueStateTracker:
    """A copy of ``tracker`` holding its current state and only its recent events."""
    events = list(tracker.events)
    if len(events) <= keep_events:
        return tracker
    cut = restart_cut(events, keep_events)
    if cut is None:
        return tracker
    head = restart_head(state_before(tracker, cut), events[cut].timestamp)
    return DialogueStateTracker.from_events(
        tracker.sender_id, head + events[cut:], copy.deepcopy(list(tracker.slots.values()))
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
        events = deserialised(parameters.get("events", []), self._event_classes)
        tracker = self.init_tracker(sender_id)
        tracker.recreate_from_dialogue(Dialogue(parameters.get("name"), events))
        return tracker


_restart_metadata = sa.MetaData()

restart_points = sa.Table(
    "tracker_restart_points",
    _restart_metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    # The first row of ``events`` a turn loads.
    sa.Column("first_event_id", sa.Integer, nullable=False),
    # The serialised events that restore the state just before that row (restart_head).
    sa.Column("head", sa.Text, nullable=False),
)

# A turn reads one conversation's rows from an id on; Rasa indexes ``sender_id`` alone.
_WINDOW_INDEX = "CREATE INDEX IF NOT EXISTS ix_events_sender_id_id ON events (sender_id, id)"

_CREATE_ERRORS = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.ProgrammingError,
    sqlalchemy.exc.IntegrityError,
)


# Set on a tracker this store loaded or saved: ``(upto, stored)``, the number of the tracker's
# events already stored (its new events start there) and how many rows follow the restart
# point. Saving that same tracker then needs neither the restart point nor a count.
_STORED = "_civicdesk_stored_events"


def _write_ahead(connection: Any, _record: Any) -> None:
    """SQLite in write-ahead mode, synced at checkpoints: a turn's commit appends to the log
    instead of syncing the file twice. A crash of Rasa or of the machine's processes loses
    nothing committed; only a power cut may lose the last turns (docs/conversation.md)."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class TrimmingSQLTrackerStore(SQLTrackerStore):  # type: ignore[misc]  # rasa is untyped
    """:class:`SQLTrackerStore` whose turns load a bounded part of long conversations.

    Rasa's SQL store keeps one row per event in ``events``; a turn loads the rows since the
    conversation's latest ``session_started`` and adds its new events as rows. This store keeps
    every row as Rasa does (the full history stays readable: ``retrieve_full_tracker``, the
    HTTP API's tracker, ``rasa export``) and moves where a turn starts reading instead. Once
    more than ``max_events`` rows follow the conversation's restart point, it records a new one
    in ``tracker_restart_points``: the id of the first row to load (a user turn about
    ``keep_events`` events back) and the events that restore the state just before that row
    (a session start, the slots that are set, the active form, a pause). A turn then loads
    those few events plus the rows from that id on, and counts them to know which of the
    tracker's events are new, as Rasa counts the rows it loaded. A new session (after the
    session expires, or after a restart) drops the restart point in the same transaction, so
    Rasa's own rule, the rows since the latest session start, applies again until the session
    grows long. Nothing is trimmed when the rows read back do not match the tracker's events
    one to one (a writer outside this store); the next turn tries again.

    Rows are read and counted by ``(sender_id, id)``, so this store adds that index to
    Rasa's ``events`` table; ids grow in the order rows are written, which Rasa's own ordering
    relies on too. Two processes must not save one conversation at once (the scaled-out set-up
    locks conversations in Redis).

    Configured in ``endpoints.yml`` (SQLite; any SQLAlchemy URL works as ``url``)::

        tracker_store:
          type: bot.tracker_store.TrimmingSQLTrackerStore
          url: ${CIVICDESK_TRACKER_DB_URL}

    Args:
        domain: The assistant's domain.
        event_broker: Where every event is streamed, untrimmed.
        max_events: Move the restart point once more rows than this follow it.
        keep_events: About how many of the latest events a turn loads after a move.
        kwargs: Rasa's ``SQLTrackerStore`` settings (``host`` as a full URL, or ``dialect``,
            ``host``, ``port``, ``db``, ``username``, ``password``).
    """

    def __init__(
        self,
        domain: Domain | None = None,
        event_broker: EventBroker | None = None,
        max_events: int = MAX_EVENTS,
        keep_events: int = KEEP_EVENTS,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain=domain, event_broker=event_broker, **kwargs)
        self.max_events = int(max_events)
        self.keep_events = int(keep_events)
        self._event_classes: dict[str, type[Event]] | None = None
        if self.engine.dialect.name == "sqlite":
            self._pool_sqlite_connections()
        # Several Rasa processes starting together may race to create these, as they do for
        # Rasa's own table; the first one wins and the others find them.
        try:
            _restart_metadata.create_all(self.engine)
        except _CREATE_ERRORS as error:
            logger.warning("could not create the restart points table: %s", error)
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.text(_WINDOW_INDEX))
        except _CREATE_ERRORS as error:
            logger.warning("could not create the events window index: %s", error)

    def _pool_sqlite_connections(self) -> None:
        """Keeps SQLite connections open between turns, in write-ahead mode.

        SQLAlchemy 1.4 gives a file database no pool: every session opened a connection, set
        the pragmas and closed it again, and closing the last connection of a write-ahead
        database checkpoints the log. That was about a seventh of the Rasa process's CPU
        (docs/benchmarks.md, "Whole conversations through the stack"). Rasa uses the store
        from its event loop's thread; the pool hands a connection to one session at a time.
        """
        url = self.engine.url
        self.engine.dispose()  # connections opened so far had Rasa's defaults
        if url.database and url.database != ":memory:":
            self.engine = sa.create_engine(
                url,
                poolclass=sa.pool.QueuePool,
                connect_args={"check_same_thread": False},
            )
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        sa.event.listen(self.engine, "connect", _write_ahead)

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        with self.session_scope() as session:
            if fetch_events_from_all_sessions:
                head: list[dict[str, Any]] = []
                query = self._event_query(session, sender_id, fetch_events_from_all_sessions=True)
            else:
                head, query = self._window(session, sender_id)
            rows = query.with_entities(self.SQLEvent.data).all()
        if not self.domain or not rows:
            return None
        if self._event_classes is None:
            self._event_classes = event_classes()
        events = deserialised(head + [json.loads(data) for (data,) in rows], self._event_classes)
        tracker = DialogueStateTracker.from_events(sender_id, events, self.domain.slots)
        if not fetch_events_from_all_sessions:
            setattr(tracker, _STORED, (len(head) + len(rows), len(rows)))
        return tracker

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Streams the tracker's new events to the event broker.

        Rasa's own ``stream_events`` loads the stored conversation again to tell which events
        are new; a tracker this store loaded or saved knows it already.
        """
        known = getattr(tracker, _STORED, None)
        if self.event_broker is None or known is None or known[0] > len(tracker.events):
            await super().stream_events(tracker)
            return
        new_events = list(tracker.events)[known[0] :]
        await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Adds the tracker's new events as rows, moving the restart point when it is due."""
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        events = list(tracker.events)
        with self.session_scope() as session:
            known = getattr(tracker, _STORED, None)
            if known is not None and known[0] <= len(events):
                # The tracker this store loaded or saved, under the conversation's lock:
                # nothing else wrote this conversation's rows since (the class docstring).
                upto, stored = known
            else:
                head, query = self._window(session, sender_id)
                stored = query.count()
                upto = len(head) + stored
            new_events = events[upto:]
            if new_events:
                # One INSERT of plain rows: the ORM's bookkeeping per object cost more than
                # the writing (docs/benchmarks.md, "Whole conversations through the stack").
                session.execute(
                    self.SQLEvent.__table__.insert(),
                    [self._row(sender_id, event) for event in new_events],
                )
            if any(isinstance(event, SessionStarted) for event in new_events):
                # A new session: Rasa's rule, the rows since it, applies until it grows long.
                self._drop_restart_point(session, sender_id)
                due = True
            else:
                due = stored + len(new_events) > self.max_events
            stored += len(new_events)
            if due:
                session.flush()
                stored = self._move_restart_point(session, tracker)
            session.commit()
        setattr(tracker, _STORED, (len(events), stored))

    def _window(self, session: Session, sender_id: str) -> tuple[list[dict[str, Any]], Query]:
        """The serialised head and the query of the rows a turn loads."""
        point = session.execute(
            sa.select(restart_points.c.first_event_id, restart_points.c.head).where(
                restart_points.c.sender_id == sender_id
            )
        ).first()
        if point is None:
            return [], self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
        rows = session.query(self.SQLEvent).filter(
            self.SQLEvent.sender_id == sender_id, self.SQLEvent.id >= point.first_event_id
        )
        return list(json.loads(point.head)), rows.order_by(self.SQLEvent.id)

    def _move_restart_point(self, session: Session, tracker: DialogueStateTracker) -> int:
        """Records a restart point if more than ``max_events`` rows follow the current one;
        returns how many rows follow the restart point now."""
        _, query = self._window(session, tracker.sender_id)
        rows = query.with_entities(self.SQLEvent.id, self.SQLEvent.type_name).all()
        if len(rows) <= self.max_events:
            return len(rows)
        events = list(tracker.events)
        offset = len(events) - len(rows)
        window = events[offset:]
        if offset < 0 or [event.type_name for event in window] != [kind for _, kind in rows]:
            logger.warning("stored events do not match the tracker's; not trimmed this turn")
            return len(rows)
        cut = restart_cut(window, self.keep_events)
        if cut is None:
            return len(rows)
        head = restart_head(state_before(tracker, offset + cut), window[cut].timestamp)
        self._drop_restart_point(session, tracker.sender_id)
        session.execute(
            restart_points.insert().values(
                sender_id=tracker.sender_id,
                first_event_id=rows[cut][0],
                head=json.dumps([event.as_dict() for event in head]),
            )
        )
        return len(rows) - cut

    @staticmethod
    def _drop_restart_point(session: Session, sender_id: str) -> None:
        session.execute(restart_points.delete().where(restart_points.c.sender_id == sender_id))

    @staticmethod
    def _row(sender_id: str, event: Event) -> dict[str, Any]:
        """The ``events`` row of one event, as Rasa's ``SQLTrackerStore.save`` writes it."""
        data = event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }
