"""API keys of Open311 clients (the bot): issued once, stored only as a SHA-256 hash.

A key looks like ``cd_`` followed by 32 URL-safe random characters. Its first 8 characters
are kept in clear so an administrator can tell keys apart in ``api-key list`` and so a
presented key is looked up without scanning every hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from civicdesk_backoffice.models import ApiKey, utcnow

KEY_PREFIX = "cd_"
_RANDOM_BYTES = 24  # encodes to exactly 32 URL-safe characters
KEY_LENGTH = len(KEY_PREFIX) + 32
LISTED_PREFIX_LENGTH = 8
_KEY_SHAPE = re.compile(r"cd_[A-Za-z0-9_-]{32}")


class ApiKeyNameTakenError(ValueError):
    """Another key already uses this name."""


def generate_api_key() -> str:
    """A fresh random API key (shown to the administrator once, never stored)."""
    return KEY_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


def hash_api_key(key: str) -> str:
    """The stored form of a key: SHA-256, hex.

    A plain hash is enough here, unlike passwords: the key has 192 random bits, so there
    is nothing to guess from a leaked hash.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


async def create_api_key(session: AsyncSession, name: str) -> str:
    """Issue a key under a new name; the caller commits.

    Returns:
        The key in clear; this is the only time it is available.

    Raises:
        ApiKeyNameTakenError: if a key (even a revoked one) already has this name.
    """
    if await _by_name(session, name) is not None:
        raise ApiKeyNameTakenError(f"an API key named {name!r} already exists")
    key = generate_api_key()
    session.add(
        ApiKey(
            name=name,
            key_prefix=key[:LISTED_PREFIX_LENGTH],
            key_hash=hash_api_key(key),
            created_at=utcnow(),
        )
    )
    await session.flush()
    return key


async def rekey_api_key(session: AsyncSession, name: str) -> str:
    """Give the key called ``name`` a new secret (creating or un-revoking it); caller commits.

    Returns:
        The new key in clear.
    """
    row = await _by_name(session, name)
    if row is None:
        return await create_api_key(session, name)
    key = generate_api_key()
    row.key_prefix = key[:LISTED_PREFIX_LENGTH]
    row.key_hash = hash_api_key(key)
    row.created_at = utcnow()
    row.revoked_at = None
    await session.flush()
    return key


async def revoke_api_key(session: AsyncSession, name: str) -> bool:
    """Revoke the key called ``name``; the caller commits.

    Returns:
        False if there is no active key of that name.
    """
    row = await _by_name(session, name)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    await session.flush()
    return True


async def list_api_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key, active or revoked, by name."""
    return list((await session.scalars(select(ApiKey).order_by(ApiKey.name))).all())


async def find_active_key(session: AsyncSession, presented: str) -> ApiKey | None:
    """The active key matching ``presented``, or None.

    Hashes are compared in constant time so response timing does not reveal how much of a
    guessed key was right.
    """
    if not _KEY_SHAPE.fullmatch(presented):
        return None
    presented_hash = hash_api_key(presented)
    candidates = await session.scalars(
        select(ApiKey).where(
            ApiKey.key_prefix == presented[:LISTED_PREFIX_LENGTH], ApiKey.revoked_at.is_(None)
        )
    )
    for candidate in candidates:
        if hmac.compare_digest(candidate.key_hash, presented_hash):
            return candidate
    return None


@dataclass(frozen=True)
class ActiveKey:
    """What the Open311 filing path needs of a verified key."""

    id: int
    name: str


_ACTIVE_BY_PREFIX = select(ApiKey.id, ApiKey.name, ApiKey.key_hash).where(
    ApiKey.key_prefix == bindparam("prefix"), ApiKey.revoked_at.is_(None)
)


async def lookup_active_key(connection: AsyncConnection, presented: str) -> ActiveKey | None:
    """:func:`find_active_key` through SQLAlchemy Core, for the ticket-filing hot path.

    Same rules (shape check, indexed prefix lookup, constant-time hash comparison), no ORM
    session. Nothing is cached: a revoked key is refused from the next request on.
    """
    if not _KEY_SHAPE.fullmatch(presented):
        return None
    presented_hash = hash_api_key(presented)
    rows = await connection.execute(_ACTIVE_BY_PREFIX, {"prefix": presented[:LISTED_PREFIX_LENGTH]})
    for key_id, name, key_hash in rows:
        if hmac.compare_digest(key_hash, presented_hash):
            return ActiveKey(key_id, name)
    return None


async def _by_name(session: AsyncSession, name: str) -> ApiKey | None:
    return (await session.scalars(select(ApiKey).where(ApiKey.name == name))).first()
