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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from civicdesk_backoffice import api_keys
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import IdempotencyRecord, Ticket, utcnow

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 255
ABANDONED_AFTER = timedelta(minutes=5)
"""A claim still without a ticket after this long belongs to a request that died; it is
taken over instead of answering 409 forever."""


class InvalidApiKeyError(PermissionError):
    """The API key presented with a request is unknown or revoked."""


@dataclass(frozen=True)
class Claim:
    """This request owns the key and must file the ticket."""

    record_id: int


@dataclass(frozen=True)
class Replay:
    """The key was used before with the same body: answer with this ticket."""

    ticket: Ticket


@dataclass(frozen=True)
class ClaimRequest:
    """One request's wish to claim an ``Idempotency-Key``, for :func:`claim_batch`.

    Attributes:
        api_key: The API key the request presented, not yet verified.
        key: The ``Idempotency-Key`` header value.
        body_hash: :func:`fingerprint` of the request body.
    """

    api_key: str
    key: str
    body_hash: str


@dataclass(frozen=True)
class Claimed:
    """What :func:`claim_batch` settled for one request whose API key is valid.

    Attributes:
        api_key_id: The verified API key.
        claim: The new claim; None when the key was already in use (or asked for twice in
            one group), which :func:`claim` then sorts out: replay, 422 or 409.
    """

    api_key_id: int
    claim: Claim | None


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


_CLAIM_MANY = insert(IdempotencyRecord).returning(
    IdempotencyRecord.id, IdempotencyRecord.api_key_id, IdempotencyRecord.key
)
_TAKEN = select(IdempotencyRecord.api_key_id, IdempotencyRecord.key).where(
    IdempotencyRecord.api_key_id.in_(bindparam("api_key_ids", expanding=True)),
    IdempotencyRecord.key.in_(bindparam("keys", expanding=True)),
)


async def claim_batch(
    sessionmaker: async_sessionmaker[AsyncSession], wanted: Sequence[ClaimRequest]
) -> list[Claimed | BaseException]:
    """Verify the API keys and claim the free keys of several requests in one transaction.

    One read per distinct API key, one read of the keys already taken, one multi-row
    insert of the claims and one commit, whatever the number of requests. If another
    transaction takes one of the keys between that read and the insert, nothing is claimed
    here and every request is left to :func:`claim` (its :attr:`Claimed.claim` is None).

    Returns:
        One outcome per request, in order: :class:`Claimed`, or :class:`InvalidApiKeyError`.
    """
    try:
        return await _claim_batch_once(sessionmaker, wanted, insert_claims=True)
    except IntegrityError:
        return await _claim_batch_once(sessionmaker, wanted, insert_claims=False)


async def _claim_batch_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    wanted: Sequence[ClaimRequest],
    *,
    insert_claims: bool,
) -> list[Claimed | BaseException]:
    claimed: dict[tuple[int, str], int] = {}
    async with sessionmaker.begin() as session:
        connection = await session.connection()
        keys = {
            presented: await api_keys.lookup_active_key(connection, presented)
            for presented in {request.api_key for request in wanted}
        }
        # Which request (by position) may claim each (API key, Idempotency-Key) pair.
        owners: dict[tuple[int, str], int] = {}
        for index, request in enumerate(wanted):
            active = keys[request.api_key]
            if active is not None:
                owners.setdefault((active.id, request.key), index)
        if insert_claims and owners:
            ids = sorted({api_key_id for api_key_id, _ in owners})
            names = sorted({key for _, key in owners})
            result = await connection.execute(_TAKEN, {"api_key_ids": ids, "keys": names})
            taken = set(result.tuples().all())
            free = {pair: index for pair, index in owners.items() if pair not in taken}
            now = utcnow()
            rows = [
                {
                    "api_key_id": api_key_id,
                    "key": key,
                    "request_hash": wanted[index].body_hash,
                    "created_at": now,
                }
                for (api_key_id, key), index in free.items()
            ]
            if rows:
                inserted = await connection.execute(_CLAIM_MANY, rows)
                claimed = {(api_key_id, key): record_id for record_id, api_key_id, key in inserted}
    outcomes: list[Claimed | BaseException] = []
    for index, request in enumerate(wanted):
        active = keys[request.api_key]
        if active is None:
            outcomes.append(InvalidApiKeyError())
            continue
        pair = (active.id, request.key)
        record_id = claimed.get(pair) if owners[pair] == index else None
        outcomes.append(Claimed(active.id, None if record_id is None else Claim(record_id)))
    return outcomes


async def complete_many(
    connection: AsyncConnection, completed: Sequence[tuple[Claim, int]]
) -> None:
    """Record each new ticket on its claim, in the transaction that stores the tickets."""
    if completed:
        await connection.execute(
            _COMPLETE,
            [
                {"record_id": claim.record_id, "ticket_id": ticket_id}
                for claim, ticket_id in completed
            ],
        )


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
