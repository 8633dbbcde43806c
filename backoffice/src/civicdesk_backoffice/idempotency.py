"""``Idempotency-Key`` on ticket creation: a retried POST files nothing twice.

The first request with a key claims it (a committed row without a ticket), files the
ticket, and records the ticket on the claim in the ticket's own transaction. A request that
comes later with the same key and the same body gets the same ticket back; with another
body it is refused (422); while the first one is still being processed it is told to retry
(409). A claim whose request failed is released, so a corrected request may reuse the key.
Keys are scoped to the API key that sent them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import IdempotencyRecord, Ticket, utcnow

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 255
ABANDONED_AFTER = timedelta(minutes=5)
"""A claim still without a ticket after this long belongs to a request that died; it is
taken over instead of answering 409 forever."""


@dataclass(frozen=True)
class Claim:
    """This request owns the key and must file the ticket."""

    record_id: int


@dataclass(frozen=True)
class Replay:
    """The key was used before with the same body: answer with this ticket."""

    ticket: Ticket


def read_key(raw: str | None) -> str | None:
    """The ``Idempotency-Key`` header value, or None when absent.

    Raises:
        ApiError: 400 when it is blank, too long or not printable ASCII.
    """
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > MAX_KEY_CHARS or not (key.isascii() and key.isprintable()):
        raise ApiError(
            400,
            f"The {HEADER} header must be 1 to {MAX_KEY_CHARS} printable ASCII characters, "
            "for example a UUID.",
        )
    return key


def fingerprint(pairs: Iterable[tuple[str, str]]) -> str:
    """A hash of the request body that ignores field order and the API key itself."""
    relevant = sorted((name, value.strip()) for name, value in pairs if name != "api_key")
    return hashlib.sha256(json.dumps(relevant, ensure_ascii=False).encode("utf-8")).hexdigest()


_CLAIM = insert(IdempotencyRecord).returning(IdempotencyRecord.id)
"""The claim row, inserted and committed by one statement on an autocommit connection."""
_COMPLETE = (
    update(IdempotencyRecord)
    .where(IdempotencyRecord.id == bindparam("record_id"))
    .values(ticket_id=bindparam("ticket_id"))
)


async def claim(
    autocommit: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    api_key_id: int,
    key: str,
    body_hash: str,
) -> Claim | Replay:
    """Claim ``key`` for this request, or find what an earlier request with it produced.

    Args:
        autocommit: The engine in autocommit mode: a first use of a key is one committed
            ``INSERT ... RETURNING`` (one round trip, no BEGIN/COMMIT).
        sessionmaker: Sessions for looking at an earlier claim of the same key.
        api_key_id: The client's API key, which scopes its idempotency keys.
        key: The ``Idempotency-Key`` header value.
        body_hash: :func:`fingerprint` of the request body.

    Raises:
        ApiError: 422 when the key was used with another body, 409 while the first
            request with the key is still in flight.
    """
    now = utcnow()
    row = {"api_key_id": api_key_id, "key": key, "request_hash": body_hash, "created_at": now}
    try:
        async with autocommit.connect() as connection:
            return Claim((await connection.execute(_CLAIM, row)).scalar_one())
    except IntegrityError:
        pass  # the key is taken: look at what took it
    async with sessionmaker.begin() as session:
        query = select(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.key == key
        )
        existing = (await session.scalars(query.with_for_update())).first()
        if existing is None:  # released between our insert and this read
            raise _in_flight()
        if existing.request_hash != body_hash:
            raise ApiError(
                422,
                f"This {HEADER} was already used for a different request; "
                "use a new key for a new request.",
            )
        if existing.ticket_id is not None:
            ticket = await session.get(Ticket, existing.ticket_id)
            if ticket is not None:
                return Replay(ticket)
        if now - existing.created_at < ABANDONED_AFTER:
            raise _in_flight()
        existing.created_at = now
        return Claim(existing.id)


async def complete(session: AsyncSession, claimed: Claim, ticket_id: int) -> None:
    """Record the new ticket on the claim, inside the transaction that stores the ticket."""
    connection = await session.connection()
    await connection.execute(_COMPLETE, {"record_id": claimed.record_id, "ticket_id": ticket_id})


async def release(sessionmaker: async_sessionmaker[AsyncSession], claimed: Claim) -> None:
    """Give the key up after the request failed, so it can be retried."""
    async with sessionmaker.begin() as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.id == claimed.record_id, IdempotencyRecord.ticket_id.is_(None)
            )
        )


def _in_flight() -> ApiError:
    return ApiError(
        409,
        f"A request with this {HEADER} is still being processed; retry in a few seconds.",
        headers={"Retry-After": "2"},
    )
