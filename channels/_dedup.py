"""Remembering which platform deliveries were already handled, so redeliveries create nothing.

Platforms redeliver a webhook when they do not get a quick 2xx (Telegram, WeChat) or when an
integrator retries. Each adapter *claims* a delivery key before it hands the message to Rasa;
only the first claim of a key within the TTL wins. Redis makes the claim hold across several
Rasa processes; the in-memory store is for one process in development.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Protocol

import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 24 * 60 * 60
REDIS_URL_ENV = "CIVICDESK_REDIS_URL"


class DedupStore(Protocol):
    """Claims delivery keys; a key can be claimed once per TTL."""

    async def claim(self, key: str) -> bool:
        """Return ``True`` the first time ``key`` is seen within the TTL, else ``False``."""

    async def release(self, key: str) -> None:
        """Forget ``key`` so that a redelivery is processed (used when handling failed)."""


class MemoryDedupStore:
    """Keys held in this process only: fine for one development process, not for several."""

    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS, max_keys: int = 100_000) -> None:
        self._ttl = ttl_seconds
        self._max_keys = max_keys
        self._expiry: dict[str, float] = {}

    async def claim(self, key: str) -> bool:
        now = time.monotonic()
        expires = self._expiry.get(key)
        if expires is not None and expires > now:
            return False
        if len(self._expiry) >= self._max_keys:
            self._prune(now)
        self._expiry[key] = now + self._ttl
        return True

    async def release(self, key: str) -> None:
        self._expiry.pop(key, None)

    def _prune(self, now: float) -> None:
        self._expiry = {k: v for k, v in self._expiry.items() if v > now}
        # Still full of live keys: drop the oldest half rather than grow without bound.
        if len(self._expiry) >= self._max_keys:
            ordered = sorted(self._expiry.items(), key=lambda item: item[1])
            self._expiry = dict(ordered[len(ordered) // 2 :])


class RedisDedupStore:
    """Keys in Redis (``SET NX EX``), shared by every Rasa process using the same server.

    If Redis cannot be reached the claim falls back to an in-memory store for that call, so a
    Redis outage degrades to per-process dedup instead of dropping citizens' messages.
    """

    def __init__(
        self,
        client: redis_asyncio.Redis,
        *,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        prefix: str = "civicdesk:dedup:",
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._prefix = prefix
        self._fallback = MemoryDedupStore(ttl_seconds)

    @classmethod
    def from_url(cls, url: str, *, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> RedisDedupStore:
        # from_url does not connect; the first command does.
        return cls(redis_asyncio.Redis.from_url(url), ttl_seconds=ttl_seconds)

    async def claim(self, key: str) -> bool:
        try:
            created = await self._client.set(self._prefix + key, b"1", nx=True, ex=self._ttl)
        except (RedisError, OSError):
            logger.warning("dedup store unreachable; using in-process dedup", exc_info=True)
            return await self._fallback.claim(key)
        return bool(created)

    async def release(self, key: str) -> None:
        try:
            await self._client.delete(self._prefix + key)
        except (RedisError, OSError):
            logger.warning("dedup store unreachable while releasing a key", exc_info=True)
        await self._fallback.release(key)

    async def close(self) -> None:
        await self._client.close()


def dedup_store_from_config(
    redis_url: str | None, *, ttl_seconds: int = DEFAULT_TTL_SECONDS
) -> DedupStore:
    """Redis when a URL is given (credentials or ``CIVICDESK_REDIS_URL``), else in-memory."""
    url = redis_url or os.environ.get(REDIS_URL_ENV)
    if url:
        return RedisDedupStore.from_url(url, ttl_seconds=ttl_seconds)
    return MemoryDedupStore(ttl_seconds)
