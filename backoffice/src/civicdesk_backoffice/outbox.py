"""Pushes to citizens' chats: outbox rows written with the change, and the relay sending them.

When staff change a ticket's status, add a public comment or answer a handoff, the view
calls :func:`enqueue` inside the transaction of that change, so the push exists exactly
when the change does. :class:`OutboxRelay` runs in the back office process (when
``BACKOFFICE__RASA__URL`` and ``BACKOFFICE__RASA__TOKEN`` are set) and sends each row to
Rasa's HTTP API as ``POST {url}/conversations/{sender_id}/trigger_intent``.

Claiming a row moves its ``next_attempt_at`` forward by a lease in a short transaction
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so several relays, in one process or many,
never send the same row at the same time; a relay that dies mid-send leaves the row to be
sent again once the lease is over. Failed sends are retried with exponential backoff and
jitter up to ``max_attempts``; then the row stays in the table marked ``failed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.app_keys import SESSIONMAKER, SETTINGS
from civicdesk_backoffice.models import OutboxMessage, OutboxState, Ticket, utcnow
from civicdesk_backoffice.settings import RasaSettings

logger = logging.getLogger(__name__)

CHAT_IDENTITY = re.compile(r"[a-z][a-z0-9_]{0,31}:[A-Za-z0-9_.@+=-]{1,200}")
"""A citizen's chat identity, ``channel:sender_id`` (e.g. ``telegram:12345``)."""

INTENT = "EXTERNAL_ticket_update"
LEASE = timedelta(minutes=2)
"""How long a claimed row is left alone by other relays; longer than any send may take."""
BATCH_SIZE = 20


class PushKind(str, enum.Enum):
    """What a push announces."""

    STATUS = "status"
    COMMENT = "comment"
    HANDOFF_REPLY = "handoff_reply"


def enqueue(
    session: AsyncSession,
    *,
    identity: str | None,
    kind: PushKind,
    ticket: Ticket | None = None,
    message: str | None = None,
) -> OutboxMessage | None:
    """Add a push to the session's transaction; nothing when ``identity`` is no chat identity.

    Args:
        session: The session of the change being announced.
        identity: The citizen's ``channel:sender_id`` (a ticket's ``account_id``).
        kind: What happened.
        ticket: The ticket it is about, if any; its reference and status are sent.
        message: The public note, comment or reply text.

    Returns:
        The new row, or None when the citizen cannot be reached in a chat.
    """
    if identity is None or CHAT_IDENTITY.fullmatch(identity) is None:
        return None
    now = utcnow()
    row = OutboxMessage(
        identity=identity,
        ticket_id=None if ticket is None else ticket.id,
        kind=kind.value,
        entities={
            "service_request_id": "" if ticket is None else ticket.service_request_id,
            "status": "" if ticket is None else ticket.status,
            "kind": kind.value,
            "message": message or "",
            # The language the ticket was filed in, so the bot answers in it ("" without one).
            "locale": "" if ticket is None else ticket.locale,
        },
        state=OutboxState.PENDING.value,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(row)
    return row


def backoff_seconds(settings: RasaSettings, attempts: int, rng: random.Random) -> float:
    """Wait before the next try after ``attempts`` failed ones: doubling, capped, +-50 % jitter."""
    base = min(settings.backoff_cap_seconds, settings.backoff_seconds * 2 ** (attempts - 1))
    return float(base * rng.uniform(0.5, 1.5))


@dataclass(frozen=True)
class _Claimed:
    id: int
    identity: str
    entities: dict[str, Any]
    attempts: int


class OutboxRelay:
    """Sends due outbox rows to Rasa until stopped."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: RasaSettings,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._settings = settings
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not security)
        self._url = settings.url.rstrip("/")

    async def run(self) -> None:
        """Send due rows, then wait ``poll_seconds``; forever (cancel the task to stop)."""
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                try:
                    sent = await self.run_once(http)
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # the database may be down; try again later
                    logger.warning("outbox relay pass failed: %s", type(error).__name__)
                    sent = 0
                if sent < BATCH_SIZE:
                    await asyncio.sleep(self._settings.poll_seconds)

    async def run_once(self, http: aiohttp.ClientSession) -> int:
        """Claim the due rows (at most :data:`BATCH_SIZE`), send them and record the outcome.

        Returns:
            How many rows were claimed.
        """
        claimed = await self._claim()
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._send(http, row) for row in claimed))
        await self._record(claimed, outcomes)
        return len(claimed)

    async def _claim(self) -> list[_Claimed]:
        now = utcnow()
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.state == OutboxState.PENDING.value,
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(BATCH_SIZE)
            # PostgreSQL: rows another relay is claiming right now are skipped, not waited
            # for. SQLite ignores the clause (it has one writer at a time anyway).
            .with_for_update(skip_locked=True)
        )
        async with self._sessionmaker.begin() as session:
            rows = list((await session.scalars(query)).all())
            for row in rows:
                row.attempts += 1
                row.next_attempt_at = now + LEASE
            return [_Claimed(r.id, r.identity, dict(r.entities), r.attempts) for r in rows]

    async def _send(self, http: aiohttp.ClientSession, row: _Claimed) -> str | None:
        """Send one push; None on success, else a short reason (no personal data)."""
        channel, _, sender_id = row.identity.partition(":")
        url = f"{self._url}/conversations/{quote(sender_id, safe='')}/trigger_intent"
        params = {"output_channel": channel, "token": self._settings.token.get_secret_value()}
        body = {"name": INTENT, "entities": row.entities}
        try:
            async with http.post(url, params=params, json=body) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return type(error).__name__

    async def _record(self, claimed: list[_Claimed], outcomes: list[str | None]) -> None:
        now = utcnow()
        async with self._sessionmaker.begin() as session:
            for row, problem in zip(claimed, outcomes, strict=True):
                stored = await session.get(OutboxMessage, row.id)
                if stored is None:  # pragma: no cover (rows are never deleted)
                    continue
                if problem is None:
                    stored.state = OutboxState.SENT.value
                    stored.sent_at = now
                    stored.last_error = None
                    logger.info("outbox %d sent (attempt %d)", row.id, row.attempts)
                    continue
                stored.last_error = problem[:200]
                if row.attempts >= self._settings.max_attempts:
                    stored.state = OutboxState.FAILED.value
                    logger.warning(
                        "outbox %d failed for good after %d attempts: %s",
                        row.id,
                        row.attempts,
                        problem,
                    )
                else:
                    delay = backoff_seconds(self._settings, row.attempts, self._rng)
                    stored.next_attempt_at = now + timedelta(seconds=delay)
                    logger.info(
                        "outbox %d attempt %d failed (%s); next in %.1f s",
                        row.id,
                        row.attempts,
                        problem,
                        delay,
                    )


async def relay_context(app: web.Application) -> AsyncIterator[None]:
    """Run one relay while the application runs (an aiohttp cleanup context)."""
    relay = OutboxRelay(app[SESSIONMAKER], app[SETTINGS].rasa)
    task = asyncio.create_task(relay.run(), name="outbox-relay")
    logger.info("outbox relay started")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
