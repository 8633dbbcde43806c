"""Durable filing: every submission goes through a local outbox before the back office.

Each submission gets an idempotency key and a row in a SQLite file (standard library only).
Delivery is attempted at once; if the back office is unreachable the row stays pending and is
retried with exponential backoff and jitter, also after a restart of the action server. A row
is claimed before it is sent, so two deliverers never send the same row at the same time, and
the key travels in the ``Idempotency-Key`` header, so a retry after a lost reply files nothing
twice on a server that honours it.

Requests to talk to a person (handoffs), and withdrawals, reopenings and ratings, that the
back office could not take are kept in the same file and retried the same way, so none is
lost; the citizen is told the outcome once it is known.

Crashes in the middle (tests/faults/): a row is claimed by a process (its pid and start
time), and a row held by a process that no longer exists is sent again at once rather than
after the lease; the same submission from the same conversation within an hour (the citizen
sent it again because a crash swallowed the turn) is the row already kept, so it is filed
once. The file is meant for the processes of one host, which is where pids mean something.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from actions.observability import sender_tag
from actions.open311_client import (
    BackOfficeError,
    BackOfficeUnavailable,
    CitizenTicket,
    ExtensionUnavailable,
    Handoff,
    RequestRejected,
    TicketNotFound,
    TransitionRefused,
)
from open311_schema import NewServiceRequest, ServiceRequest, ServiceRequestCreated

logger = logging.getLogger(__name__)

State = Literal["pending", "sending", "delivered", "rejected"]

BASE_DELAY_SECONDS = 5.0
MAX_DELAY_SECONDS = 15 * 60.0
# A row left in "sending" this long (the process died mid-request) may be claimed again;
# sooner when the process that claimed it is known to be gone.
SENDING_LEASE_SECONDS = 120.0
# The same submission again from the same conversation within this time is the one kept: a
# turn lost to a crash is sent again by the citizen (or their platform), and must not file
# a second ticket.
REPEAT_WINDOW_SECONDS = 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    idempotency_key TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    service_code TEXT NOT NULL,
    payload TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    claimed_at REAL,
    created_at REAL NOT NULL,
    service_request_id TEXT,
    service_notice TEXT,
    announced INTEGER NOT NULL DEFAULT 0,
    payload_digest TEXT,
    claimed_by TEXT,
    pushed_at REAL,
    push_attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_conversation ON outbox (conversation_id, created_at);
CREATE TABLE IF NOT EXISTS handoffs (
    key TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    identity TEXT NOT NULL,
    message TEXT,
    service_request_id TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    claimed_at REAL,
    created_at REAL NOT NULL,
    handoff_id TEXT,
    department TEXT,
    expected_response TEXT,
    expected_response_hours INTEGER,
    announced INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT
);
CREATE INDEX IF NOT EXISTS handoffs_due ON handoffs (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS ticket_moves (
    key TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    identity TEXT NOT NULL,
    move TEXT NOT NULL,
    service_request_id TEXT NOT NULL,
    payload TEXT,
    state TEXT NOT NULL,
    outcome TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    claimed_at REAL,
    created_at REAL NOT NULL,
    announced INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT
);
CREATE INDEX IF NOT EXISTS ticket_moves_due ON ticket_moves (state, next_attempt_at);
"""
# Columns added after the first release: files made before them get them on opening.
_ADDED_COLUMNS = (
    ("outbox", "payload_digest", "TEXT"),
    ("outbox", "claimed_by", "TEXT"),
    ("outbox", "pushed_at", "REAL"),
    ("outbox", "push_attempts", "INTEGER NOT NULL DEFAULT 0"),
    # The language the citizen filed in (CivicDesk's ``locale`` field; None is English).
    ("outbox", "locale", "TEXT"),
    ("handoffs", "claimed_by", "TEXT"),
    ("ticket_moves", "claimed_by", "TEXT"),
)
# Each table's key column, for the claims that all three share.
_KEYS = {"outbox": "idempotency_key", "handoffs": "key", "ticket_moves": "key"}
# After a push Rasa did not take (or whose announcement did not happen), wait this long
# times the pushes made so far before pushing again; give up after a day (the citizen is
# then told on their next message).
PUSH_RETRY_SECONDS = 10.0
PUSH_GIVE_UP_SECONDS = 24 * 3600.0
# A row delivered by the filing action is announced by that action at once; one still
# unannounced after this long was delivered by an action server that died before saying it.
ANNOUNCE_GRACE_SECONDS = 60.0


def process_token(pid: int) -> str | None:
    """``"pid:start time"`` of a process that exists now, None if there is none.

    The start time (``/proc/<pid>/stat``, field 22) tells a reused pid from the process
    that held it; without ``/proc`` the token is the pid alone."""
    if not Path("/proc/self/stat").exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return f"{pid}:"
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return f"{pid}:{fields[19]}"


def _claimer_gone(token: str) -> bool:
    """Whether the process that claimed a row (its ``process_token``) has ended."""
    pid, _, _ = token.partition(":")
    if not pid.isdigit():
        return False  # not a token this code wrote: trust the lease alone
    return process_token(int(pid)) != token


# Kinds of waiting work as /metrics names them, and the table each is kept in.
_BACKLOG_TABLES = {"submissions": "outbox", "handoffs": "handoffs", "ticket_moves": "ticket_moves"}


class Filer(Protocol):
    """The part of the Open311 client the outbox needs."""

    async def create_request(
        self,
        request: NewServiceRequest,
        *,
        idempotency_key: str | None = None,
        locale: str | None = None,
    ) -> ServiceRequestCreated: ...


class HandoffFiler(Protocol):
    """The part of the Open311 client that files a request for a person."""

    async def create_handoff(
        self,
        identity: str,
        message: str,
        service_request_id: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Handoff: ...


async def file_handoff(
    client: HandoffFiler, identity: str, message: str, reference: str | None, key: str
) -> Handoff:
    """Files a request for a person about ``reference``; when that ticket is not this
    citizen's (any more), about no ticket, so the person still gets the words. ``key`` makes
    every try of one request one handoff (the request about no ticket has a key of its own,
    as it is another request to the back office)."""
    try:
        return await client.create_handoff(identity, message, reference, idempotency_key=key)
    except TicketNotFound:
        return await client.create_handoff(
            identity, message, None, idempotency_key=f"{key}-unlinked"
        )


class MoveSender(Protocol):
    """The part of the Open311 client that withdraws, reopens and rates tickets."""

    async def withdraw_request(
        self, identity: str, service_request_id: str, reason: str | None = None
    ) -> CitizenTicket: ...

    async def reopen_request(
        self, identity: str, service_request_id: str, reason: str
    ) -> CitizenTicket: ...

    async def rate_request(
        self, identity: str, service_request_id: str, rating: int, comment: str | None = None
    ) -> CitizenTicket: ...

    async def add_photo(
        self, identity: str, service_request_id: str, media_id: str, text: str | None = None
    ) -> None: ...

    async def get_request(self, service_request_id: str) -> ServiceRequest: ...


# "photo": a photo for a ticket (detail: {"media_id", "text"}); its outcome is told by
# actions/follow_up.py, not with the lifecycle moves.
Move = Literal["withdraw", "reopen", "rate", "photo"]
# What became of a kept move: done, or refused (the ticket's status did not allow it, or it is
# not this citizen's ticket).
Outcome = Literal["done", "refused", "not_found"]
# The Open311 status a move leaves the ticket in, to recognise a retry of a move that was
# done but whose reply was lost.
_STATUS_AFTER = {"withdraw": "closed", "reopen": "open"}


@dataclass(frozen=True)
class QueuedMove:
    """A withdraw, reopen or rating kept until the back office takes it."""

    key: str
    conversation_id: str
    move: Move
    service_request_id: str
    state: State
    attempts: int
    outcome: Outcome | None = None


@dataclass(frozen=True)
class QueuedHandoff:
    """A request for a person kept until the back office takes it."""

    key: str
    conversation_id: str
    state: State
    attempts: int
    handoff_id: str | None = None
    department: str | None = None
    expected_response: str | None = None
    expected_response_hours: int | None = None


@dataclass(frozen=True)
class OutboxEntry:
    """One submission and where it stands."""

    idempotency_key: str
    conversation_id: str
    service_code: str
    state: State
    attempts: int
    created_at: float
    service_request_id: str | None = None
    service_notice: str | None = None


def backoff_delay(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after ``attempts`` failures: exponential, capped, with full jitter.

    The jitter keeps many queued submissions from hammering a recovering back office at once.
    """
    ceiling = min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2 ** max(attempts - 1, 0))
    return float(ceiling / 2 + rng() * ceiling / 2)


class Outbox:
    """The outbox in one SQLite file.

    Args:
        path: The SQLite file; its folder is created if missing.
        clock: Seconds since the epoch (tests pass a fake clock).
        rng: Uniform random numbers in [0, 1) for the jitter.
        owner: Who claims rows (``process_token`` of this process; tests pass another).
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        owner: str | None = None,
    ) -> None:
        self._path = path
        self._clock = clock
        self._rng = rng
        self._owner = owner or process_token(os.getpid()) or f"{os.getpid()}:"
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)
            for table, column, kind in _ADDED_COLUMNS:
                present = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
                if column not in present:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        # What a process that died mid-send left claimed is due again now (a restarted
        # action server sends it at once instead of after the lease).
        self.release_orphans()

    def release_orphans(self) -> int:
        """Make rows claimed by processes that have ended pending and due now; returns how
        many. The relay calls it every round, a new process on opening the file."""
        released = 0
        now = self._clock()
        with self._connect() as db:
            for table, key_column in _KEYS.items():
                rows = db.execute(
                    f"SELECT {key_column} AS key, claimed_by FROM {table}"  # noqa: S608
                    " WHERE state = 'sending' AND claimed_by IS NOT NULL AND claimed_by != ?",
                    (self._owner,),
                ).fetchall()
                for row in rows:
                    if not _claimer_gone(str(row["claimed_by"])):
                        continue
                    released += db.execute(
                        f"UPDATE {table} SET state = 'pending', claimed_at = NULL,"  # noqa: S608
                        f" claimed_by = NULL, next_attempt_at = ? WHERE {key_column} = ?"
                        " AND state = 'sending' AND claimed_by = ?",
                        (now, row["key"], row["claimed_by"]),
                    ).rowcount
        if released:
            logger.info("outbox: %d row(s) left by an ended process are due again", released)
        return released

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self._path, timeout=10, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA journal_mode=WAL")
            yield db
        finally:
            db.close()

    def backlog(self) -> dict[str, tuple[int, float | None]]:
        """What still waits for the back office, per kind (``submissions``, ``handoffs``,
        ``ticket_moves``): how many rows and the age in seconds of the oldest (``None`` when
        there is none). Read by the action server's ``/metrics``; nothing personal in it."""
        now = self._clock()
        result: dict[str, tuple[int, float | None]] = {}
        with self._connect() as db:
            for kind, table in _BACKLOG_TABLES.items():
                count, oldest = db.execute(
                    f"SELECT count(*), min(created_at) FROM {table}"  # noqa: S608 (fixed names)
                    " WHERE state IN ('pending', 'sending')"
                ).fetchone()
                result[kind] = (int(count), None if oldest is None else max(0.0, now - oldest))
        return result

    def enqueue(
        self, conversation_id: str, request: NewServiceRequest, *, locale: str | None = None
    ) -> OutboxEntry:
        """Store a submission durably before any attempt to send it, with the language it
        is filed in (``locale``, e.g. ``zh-Hans``; None for English): the ticket keeps it, so
        staff and status messages answer in it.

        The same submission from the same conversation within ``REPEAT_WINDOW_SECONDS``
        (not one the back office refused) is the row already kept, returned as it stands:
        the citizen sent it again because a crash swallowed the turn that filed it, and it
        must be filed once and its reference told."""
        payload = _dump(request)
        digest = hashlib.sha256(f"{conversation_id}\n{payload}".encode()).hexdigest()
        now = self._clock()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            kept = db.execute(
                "SELECT idempotency_key FROM outbox WHERE conversation_id = ? AND"
                " payload_digest = ? AND created_at > ? AND state != 'rejected'"
                " ORDER BY created_at DESC LIMIT 1",
                (conversation_id, digest, now - REPEAT_WINDOW_SECONDS),
            ).fetchone()
            if kept is not None:
                key = str(kept["idempotency_key"])
                logger.info("outbox: submission %s sent again; the kept row stands", key[:8])
            else:
                key = uuid.uuid4().hex
                db.execute(
                    "INSERT INTO outbox (idempotency_key, conversation_id, service_code,"
                    " payload, payload_digest, locale, state, next_attempt_at, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                    (
                        key,
                        conversation_id,
                        request.service_code,
                        payload,
                        digest,
                        locale,
                        now,
                        now,
                    ),
                )
            db.execute("COMMIT")
        return self.get(key)

    def get(self, key: str) -> OutboxEntry:
        with self._connect() as db:
            row = db.execute("SELECT * FROM outbox WHERE idempotency_key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return _entry(row)

    def entries_for(self, conversation_id: str) -> list[OutboxEntry]:
        """A conversation's submissions, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM outbox WHERE conversation_id = ? ORDER BY created_at",
                (conversation_id,),
            ).fetchall()
        return [_entry(row) for row in rows]

    def take_unannounced(self, conversation_id: str) -> list[OutboxEntry]:
        """Submissions delivered after the citizen was told "your reference follows".

        Each is returned once: the caller tells the citizen its reference.
        """
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(
                "SELECT * FROM outbox WHERE conversation_id = ? AND state = 'delivered'"
                " AND announced = 0 ORDER BY created_at",
                (conversation_id,),
            ).fetchall()
            db.execute(
                "UPDATE outbox SET announced = 1 WHERE conversation_id = ? AND"
                " state = 'delivered' AND announced = 0",
                (conversation_id,),
            )
            db.execute("COMMIT")
        return [_entry(row) for row in rows]

    def mark_announced(self, key: str) -> None:
        with self._connect() as db:
            db.execute("UPDATE outbox SET announced = 1 WHERE idempotency_key = ?", (key,))

    def due_keys(self, limit: int = 20) -> list[str]:
        """Keys of rows that may be sent now."""
        self.release_orphans()
        now = self._clock()
        with self._connect() as db:
            rows = db.execute(
                "SELECT idempotency_key FROM outbox WHERE (state = 'pending' AND"
                " next_attempt_at <= ?) OR (state = 'sending' AND claimed_at < ?)"
                " ORDER BY next_attempt_at LIMIT ?",
                (now, now - SENDING_LEASE_SECONDS, limit),
            ).fetchall()
        return [str(row["idempotency_key"]) for row in rows]

    def _claim(self, key: str) -> tuple[NewServiceRequest, str | None] | None:
        now = self._clock()
        with self._connect() as db:
            claimed = db.execute(
                "UPDATE outbox SET state = 'sending', claimed_at = ?, claimed_by = ?"
                " WHERE idempotency_key = ?"
                " AND (state = 'pending' OR (state = 'sending' AND claimed_at < ?))",
                (now, self._owner, key, now - SENDING_LEASE_SECONDS),
            ).rowcount
            if claimed != 1:
                return None
            row = db.execute(
                "SELECT payload, locale FROM outbox WHERE idempotency_key = ?", (key,)
            ).fetchone()
        return _load(str(row["payload"])), row["locale"]

    async def deliver(self, key: str, client: Filer) -> OutboxEntry:
        """Try to send one submission now, whatever its schedule.

        Returns the entry afterwards: ``delivered`` with its reference, ``pending`` with a
        later retry scheduled, or ``rejected``. An entry another deliverer holds is returned
        unchanged.
        """
        claimed = self._claim(key)
        if claimed is None:
            return self.get(key)
        request, locale = claimed
        # Log lines name the submission by its key's start and the sender by a keyed hash:
        # the request itself holds contact details and the citizen's words.
        sender = sender_tag(request.account_id)
        logger.debug("submission %s claimed for sending (%s)", key[:8], sender)
        try:
            created = await client.create_request(request, idempotency_key=key, locale=locale)
        except BackOfficeUnavailable:
            logger.info("submission %s kept for a retry (%s)", key[:8], sender)
            self._reschedule(key)
        except RequestRejected as error:
            logger.error(
                "back office rejected queued submission %s: %s (%s)", key[:8], error.status, sender
            )
            self._finish(key, "rejected", None, None)
        else:
            reference = created.service_request_id or created.token
            logger.info("submission %s filed as %s (%s)", key[:8], reference, sender)
            self._finish(key, "delivered", reference, created.service_notice)
            self._wake_pending()
        return self.get(key)

    def _wake_pending(self) -> None:
        # The back office just took a submission, so it is back: what waits out a backoff
        # from its outage is due now, and the citizens hear their references without
        # waiting up to the longest backoff (the relay sends them in its next rounds).
        now = self._clock()
        with self._connect() as db:
            db.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE state = 'pending'"
                " AND next_attempt_at > ?",
                (now, now),
            )

    # Telling the citizen: the relay pushes a conversation whose delivered reference is not
    # told yet, and again later while it stays untold (Rasa was down, or restarting).

    def conversations_to_push(self) -> list[str]:
        """Conversations holding a delivered reference not yet told whose next push is due:
        pushed before and not told since (after ``PUSH_RETRY_SECONDS`` times the pushes so
        far), or never pushed and delivered by a filing action that did not tell it."""
        now = self._clock()
        with self._connect() as db:
            rows = db.execute(
                "SELECT DISTINCT conversation_id FROM outbox WHERE state = 'delivered'"
                " AND announced = 0 AND created_at > ? AND ("
                " (pushed_at IS NULL AND created_at < ?)"
                " OR (pushed_at IS NOT NULL AND pushed_at + ? * push_attempts <= ?))",
                (
                    now - PUSH_GIVE_UP_SECONDS,
                    now - ANNOUNCE_GRACE_SECONDS,
                    PUSH_RETRY_SECONDS,
                    now,
                ),
            ).fetchall()
        return [str(row["conversation_id"]) for row in rows]

    def mark_pushed(self, conversation_id: str) -> None:
        """Record a push of the conversation's untold references (taken by Rasa or not)."""
        with self._connect() as db:
            db.execute(
                "UPDATE outbox SET pushed_at = ?, push_attempts = push_attempts + 1"
                " WHERE conversation_id = ? AND state = 'delivered' AND announced = 0",
                (self._clock(), conversation_id),
            )

    async def deliver_due(self, client: Filer, limit: int = 20) -> list[OutboxEntry]:
        """Send every row whose retry time has come; stop early while the back office is down."""
        results = []
        for key in self.due_keys(limit):
            entry = await self.deliver(key, client)
            results.append(entry)
            if entry.state == "pending":
                break
        return results

    def _reschedule(self, key: str) -> None:
        with self._connect() as db:
            row = db.execute(
                "SELECT attempts FROM outbox WHERE idempotency_key = ?", (key,)
            ).fetchone()
            attempts = int(row["attempts"]) + 1
            db.execute(
                "UPDATE outbox SET state = 'pending', attempts = ?, next_attempt_at = ?,"
                " claimed_at = NULL, claimed_by = NULL WHERE idempotency_key = ?",
                (attempts, self._clock() + backoff_delay(attempts, self._rng), key),
            )

    def _finish(self, key: str, state: State, reference: str | None, notice: str | None) -> None:
        # The payload (description, address) is no longer needed once the back office has it.
        with self._connect() as db:
            db.execute(
                "UPDATE outbox SET state = ?, service_request_id = ?, service_notice = ?,"
                " payload = NULL, claimed_at = NULL, claimed_by = NULL,"
                " attempts = attempts + 1 WHERE idempotency_key = ?",
                (state, reference, notice, key),
            )

    # A citizen's data: what this file holds about a conversation goes on request, and
    # finished rows go after the retention period (bot/retention.py calls both).

    def erase_conversation(self, conversation_id: str) -> dict[str, int]:
        """Delete every row of ``conversation_id`` in the three tables, waiting work too: a
        submission kept for a citizen who asked to be erased must not file a ticket with
        their contact details afterwards. Returns how many rows went, per kind."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            counts = {
                kind: db.execute(
                    f"DELETE FROM {table} WHERE conversation_id = ?",  # noqa: S608 (fixed names)
                    (conversation_id,),
                ).rowcount
                for kind, table in _BACKLOG_TABLES.items()
            }
            db.execute("COMMIT")
        return counts

    def drop_finished(self, older_than_seconds: float) -> dict[str, int]:
        """Delete delivered and rejected rows created more than ``older_than_seconds`` ago.

        What such a row still holds (the conversation id, the citizen's identity, the ticket
        reference; a refused request for a person keeps its words) links a chat to a ticket
        and is of no use to the outbox any more. Rows still waiting are never touched.
        Returns how many rows went, per kind."""
        cutoff = self._clock() - older_than_seconds
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            counts = {
                kind: db.execute(
                    f"DELETE FROM {table} WHERE state IN ('delivered', 'rejected')"  # noqa: S608
                    " AND created_at < ?",
                    (cutoff,),
                ).rowcount
                for kind, table in _BACKLOG_TABLES.items()
            }
            db.execute("COMMIT")
        return counts

    # Requests for a person: kept like submissions when the back office cannot take them.

    def enqueue_handoff(
        self,
        conversation_id: str,
        identity: str,
        message: str,
        service_request_id: str | None = None,
        key: str | None = None,
    ) -> QueuedHandoff:
        """Keep a request for a person durably; the relay sends it when the back office is up.

        ``key``: the idempotency key of a first try that may have reached the back office, so
        the relay's tries count as the same request.
        """
        key = key or uuid.uuid4().hex
        now = self._clock()
        with self._connect() as db:
            db.execute(
                "INSERT INTO handoffs (key, conversation_id, identity, message,"
                " service_request_id, state, next_attempt_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                (key, conversation_id, identity, message, service_request_id, now, now),
            )
        return self.get_handoff(key)

    def get_handoff(self, key: str) -> QueuedHandoff:
        with self._connect() as db:
            row = db.execute("SELECT * FROM handoffs WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return _queued_handoff(row)

    def take_unannounced_handoffs(self, conversation_id: str) -> list[QueuedHandoff]:
        """Kept requests for a person delivered since the citizen heard "kept"; each once."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(
                "SELECT * FROM handoffs WHERE conversation_id = ? AND state = 'delivered'"
                " AND announced = 0 ORDER BY created_at",
                (conversation_id,),
            ).fetchall()
            db.execute(
                "UPDATE handoffs SET announced = 1 WHERE conversation_id = ? AND"
                " state = 'delivered' AND announced = 0",
                (conversation_id,),
            )
            db.execute("COMMIT")
        return [_queued_handoff(row) for row in rows]

    async def deliver_handoff(self, key: str, client: HandoffFiler) -> QueuedHandoff:
        """Try to send one kept request for a person now (claimed first, like a submission)."""
        now = self._clock()
        with self._connect() as db:
            claimed = db.execute(
                "UPDATE handoffs SET state = 'sending', claimed_at = ?, claimed_by = ?"
                " WHERE key = ?"
                " AND (state = 'pending' OR (state = 'sending' AND claimed_at < ?))",
                (now, self._owner, key, now - SENDING_LEASE_SECONDS),
            ).rowcount
            row = db.execute("SELECT * FROM handoffs WHERE key = ?", (key,)).fetchone()
        if claimed != 1 or row is None:
            return self.get_handoff(key)
        identity, message = str(row["identity"]), str(row["message"])
        reference = row["service_request_id"]
        try:
            handoff = await file_handoff(client, identity, message, reference, key)
        except BackOfficeUnavailable:
            with self._connect() as db:
                attempts = int(row["attempts"]) + 1
                db.execute(
                    "UPDATE handoffs SET state = 'pending', attempts = ?, next_attempt_at = ?,"
                    " claimed_at = NULL WHERE key = ?",
                    (attempts, self._clock() + backoff_delay(attempts, self._rng), key),
                )
        except (RequestRejected, ExtensionUnavailable, ValueError) as error:
            # Kept, not deleted: staff can still read it from this file.
            # The kind only: an error's text may quote what the citizen wrote.
            logger.error(
                "back office refused a kept request for a person: %s", type(error).__name__
            )
            self._finish_handoff(key, "rejected", None, keep_message=True)
        else:
            self._finish_handoff(key, "delivered", handoff, keep_message=False)
        return self.get_handoff(key)

    async def deliver_due_handoffs(
        self, client: HandoffFiler, limit: int = 20
    ) -> list[QueuedHandoff]:
        """Send every kept request for a person whose retry time has come."""
        now = self._clock()
        with self._connect() as db:
            keys = [
                str(row["key"])
                for row in db.execute(
                    "SELECT key FROM handoffs WHERE (state = 'pending' AND next_attempt_at <= ?)"
                    " OR (state = 'sending' AND claimed_at < ?) ORDER BY next_attempt_at LIMIT ?",
                    (now, now - SENDING_LEASE_SECONDS, limit),
                ).fetchall()
            ]
        results = []
        for key in keys:
            entry = await self.deliver_handoff(key, client)
            results.append(entry)
            if entry.state == "pending":
                break
        return results

    def _finish_handoff(
        self, key: str, state: State, handoff: Handoff | None, *, keep_message: bool
    ) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE handoffs SET state = ?, handoff_id = ?, department = ?,"
                " expected_response = ?, expected_response_hours = ?, claimed_at = NULL,"
                " attempts = attempts + 1, message = CASE WHEN ? THEN message END WHERE key = ?",
                (
                    state,
                    handoff.handoff_id if handoff else None,
                    handoff.department if handoff else None,
                    handoff.expected_response.isoformat() if handoff else None,
                    handoff.expected_response_hours if handoff else None,
                    keep_message,
                    key,
                ),
            )

    # Withdraw, reopen and rating: kept the same way when the back office is unreachable.

    def enqueue_move(
        self,
        conversation_id: str,
        identity: str,
        move: Move,
        service_request_id: str,
        detail: str | int | dict[str, str] | None,
    ) -> QueuedMove:
        """Keep a withdraw (detail: reason or None), reopen (reason), rating (1-5) or photo
        (``{"media_id": ..., "text": ...}``)."""
        key = uuid.uuid4().hex
        now = self._clock()
        with self._connect() as db:
            db.execute(
                "INSERT INTO ticket_moves (key, conversation_id, identity, move,"
                " service_request_id, payload, state, next_attempt_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                (
                    key,
                    conversation_id,
                    identity,
                    move,
                    service_request_id,
                    json.dumps(detail),
                    now,
                    now,
                ),
            )
        return self.get_move(key)

    def get_move(self, key: str) -> QueuedMove:
        with self._connect() as db:
            row = db.execute("SELECT * FROM ticket_moves WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return _queued_move(row)

    def take_unannounced_moves(self, conversation_id: str) -> list[QueuedMove]:
        """Kept withdrawals, reopenings and ratings that have an outcome the citizen has not
        heard yet; each once."""
        return self._take_unannounced(conversation_id, photos=False)

    def take_unannounced_photos(self, conversation_id: str) -> list[QueuedMove]:
        """Kept photos that have an outcome the citizen has not heard yet; each once."""
        return self._take_unannounced(conversation_id, photos=True)

    def _take_unannounced(self, conversation_id: str, *, photos: bool) -> list[QueuedMove]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(
                "SELECT * FROM ticket_moves WHERE conversation_id = ? AND outcome IS NOT NULL"
                " AND announced = 0 AND (move = 'photo') = ? ORDER BY created_at",
                (conversation_id, int(photos)),
            ).fetchall()
            db.execute(
                "UPDATE ticket_moves SET announced = 1 WHERE conversation_id = ? AND"
                " outcome IS NOT NULL AND announced = 0 AND (move = 'photo') = ?",
                (conversation_id, int(photos)),
            )
            db.execute("COMMIT")
        return [_queued_move(row) for row in rows]

    async def deliver_move(self, key: str, client: MoveSender) -> QueuedMove:
        """Try to send one kept move now (claimed first, like a submission)."""
        now = self._clock()
        with self._connect() as db:
            claimed = db.execute(
                "UPDATE ticket_moves SET state = 'sending', claimed_at = ?, claimed_by = ?"
                " WHERE key = ?"
                " AND (state = 'pending' OR (state = 'sending' AND claimed_at < ?))",
                (now, self._owner, key, now - SENDING_LEASE_SECONDS),
            ).rowcount
            row = db.execute("SELECT * FROM ticket_moves WHERE key = ?", (key,)).fetchone()
        if claimed != 1 or row is None:
            return self.get_move(key)
        move, reference = str(row["move"]), str(row["service_request_id"])
        identity, detail = str(row["identity"]), json.loads(row["payload"] or "null")
        outcome: Outcome
        try:
            if move == "withdraw":
                await client.withdraw_request(identity, reference, detail)
            elif move == "reopen":
                await client.reopen_request(identity, reference, str(detail))
            elif move == "photo":
                photo = detail if isinstance(detail, dict) else {}
                await client.add_photo(
                    identity, reference, str(photo["media_id"]), photo.get("text")
                )
            else:
                await client.rate_request(identity, reference, int(detail))
            outcome = "done"
        except BackOfficeUnavailable:
            with self._connect() as db:
                attempts = int(row["attempts"]) + 1
                db.execute(
                    "UPDATE ticket_moves SET state = 'pending', attempts = ?,"
                    " next_attempt_at = ?, claimed_at = NULL WHERE key = ?",
                    (attempts, self._clock() + backoff_delay(attempts, self._rng), key),
                )
            return self.get_move(key)
        except TicketNotFound:
            outcome = "not_found"
        except TransitionRefused:
            outcome = await self._done_before(client, move, reference, int(row["attempts"]))
        except (RequestRejected, ExtensionUnavailable, KeyError, ValueError, TypeError) as error:
            logger.error("back office refused a kept ticket move: %s", type(error).__name__)
            outcome = "refused"
        with self._connect() as db:
            db.execute(
                "UPDATE ticket_moves SET state = ?, outcome = ?, payload = NULL,"
                " claimed_at = NULL, attempts = attempts + 1 WHERE key = ?",
                ("delivered" if outcome == "done" else "rejected", outcome, key),
            )
        return self.get_move(key)

    @staticmethod
    async def _done_before(client: MoveSender, move: str, reference: str, attempts: int) -> Outcome:
        # A retry refused with 422 may be the echo of an earlier attempt that was done but
        # whose reply was lost: the ticket then already is where the move leaves it.
        if attempts == 0 or move not in _STATUS_AFTER:
            return "refused"
        try:
            ticket = await client.get_request(reference)
        except BackOfficeError:
            return "refused"
        return "done" if ticket.status == _STATUS_AFTER[move] else "refused"

    async def deliver_due_moves(self, client: MoveSender, limit: int = 20) -> list[QueuedMove]:
        """Send every kept move whose retry time has come."""
        now = self._clock()
        with self._connect() as db:
            keys = [
                str(row["key"])
                for row in db.execute(
                    "SELECT key FROM ticket_moves WHERE (state = 'pending' AND"
                    " next_attempt_at <= ?) OR (state = 'sending' AND claimed_at < ?)"
                    " ORDER BY next_attempt_at LIMIT ?",
                    (now, now - SENDING_LEASE_SECONDS, limit),
                ).fetchall()
            ]
        results = []
        for key in keys:
            entry = await self.deliver_move(key, client)
            results.append(entry)
            if entry.state == "pending":
                break
        return results


def _queued_move(row: sqlite3.Row) -> QueuedMove:
    return QueuedMove(
        key=str(row["key"]),
        conversation_id=str(row["conversation_id"]),
        move=row["move"],
        service_request_id=str(row["service_request_id"]),
        state=row["state"],
        attempts=int(row["attempts"]),
        outcome=row["outcome"],
    )


def _dump(request: NewServiceRequest) -> str:
    return json.dumps(request.to_form())


def _load(payload: str) -> NewServiceRequest:
    return NewServiceRequest.from_form([(str(k), str(v)) for k, v in json.loads(payload)])


def _queued_handoff(row: sqlite3.Row) -> QueuedHandoff:
    return QueuedHandoff(
        key=str(row["key"]),
        conversation_id=str(row["conversation_id"]),
        state=row["state"],
        attempts=int(row["attempts"]),
        handoff_id=row["handoff_id"],
        department=row["department"],
        expected_response=row["expected_response"],
        expected_response_hours=row["expected_response_hours"],
    )


def _entry(row: sqlite3.Row) -> OutboxEntry:
    return OutboxEntry(
        idempotency_key=str(row["idempotency_key"]),
        conversation_id=str(row["conversation_id"]),
        service_code=str(row["service_code"]),
        state=row["state"],
        attempts=int(row["attempts"]),
        created_at=float(row["created_at"]),
        service_request_id=row["service_request_id"],
        service_notice=row["service_notice"],
    )
