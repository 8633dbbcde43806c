"""Small shared state the adapters keep between requests, in Redis when several Rasa
processes serve one channel, else in memory.

What lives here: Telegram button payloads too long for ``callback_data``, the buttons last
offered to a WeChat citizen, and proactive messages waiting for the web chat page. None of it
is needed for long, so every key has a TTL.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from typing import Protocol

import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

from channels._dedup import REDIS_URL_ENV

logger = logging.getLogger(__name__)


class SharedState(Protocol):
    async def set(self, key: str, value: str, *, ttl_seconds: int) -> None: ...

    async def get(self, key: str) -> str | None: ...

    async def delete(self, key: str) -> None: ...

    async def push(self, key: str, value: str, *, ttl_seconds: int, max_items: int) -> None:
        """Append to the list at ``key``, keeping its newest ``max_items``."""

    async def drain(self, key: str) -> list[str]:
        """Every item of the list at ``key``, oldest first, and empty it."""

    async def incr(self, key: str, *, ttl_seconds: int) -> int:
        """Add one to the counter at ``key`` and (re)set its TTL; the new value.

        Callers put the time window in the key (``...:{minute}``), so a counter never
        outlives its window by more than ``ttl_seconds``.
        """


class MemoryState:
    """One process's state, bounded in keys."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._values: dict[str, tuple[float, str]] = {}
        self._lists: dict[str, tuple[float, deque[str]]] = {}
        self._max_keys = max_keys

    def _room(self) -> None:
        now = time.monotonic()
        if len(self._values) + len(self._lists) < self._max_keys:
            return
        self._values = {k: v for k, v in self._values.items() if v[0] > now}
        self._lists = {k: v for k, v in self._lists.items() if v[0] > now}
        while len(self._values) + len(self._lists) >= self._max_keys:
            # Still full of live keys: forget the oldest insertions first.
            if self._values:
                self._values.pop(next(iter(self._values)))
            else:
                self._lists.pop(next(iter(self._lists)))

    async def set(self, key: str, value: str, *, ttl_seconds: int) -> None:
        self._room()
        self._values.pop(key, None)
        self._values[key] = (time.monotonic() + ttl_seconds, value)

    async def get(self, key: str) -> str | None:
        entry = self._values.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)
        self._lists.pop(key, None)

    async def push(self, key: str, value: str, *, ttl_seconds: int, max_items: int) -> None:
        self._room()
        entry = self._lists.get(key)
        items = entry[1] if entry and entry[0] > time.monotonic() else deque(maxlen=max_items)
        items.append(value)
        self._lists[key] = (time.monotonic() + ttl_seconds, items)

    async def drain(self, key: str) -> list[str]:
        entry = self._lists.pop(key, None)
        if entry is None or entry[0] <= time.monotonic():
            return []
        return list(entry[1])

    async def incr(self, key: str, *, ttl_seconds: int) -> int:
        entry = self._values.get(key)
        if entry is None or entry[0] <= time.monotonic():
            self._room()
            self._values[key] = (time.monotonic() + ttl_seconds, "1")
            return 1
        count = int(entry[1]) + 1
        self._values[key] = (time.monotonic() + ttl_seconds, str(count))
        return count


class RedisState:
    """State in Redis, shared by every process using the same server and prefix.

    If Redis cannot be reached, calls fall back to this process's memory (logged), so a Redis
    outage degrades features (a button from before the outage may have expired) instead of
    failing the citizen's message.
    """

    def __init__(self, client: redis_asyncio.Redis, *, prefix: str = "civicdesk:state:") -> None:
        self._client = client
        self._prefix = prefix
        self._fallback = MemoryState()

    @classmethod
    def from_url(cls, url: str) -> RedisState:
        return cls(redis_asyncio.Redis.from_url(url))

    def _warn(self) -> None:
        logger.warning("shared state unreachable; using in-process state", exc_info=True)

    async def set(self, key: str, value: str, *, ttl_seconds: int) -> None:
        try:
            await self._client.set(self._prefix + key, value, ex=ttl_seconds)
        except (RedisError, OSError):
            self._warn()
            await self._fallback.set(key, value, ttl_seconds=ttl_seconds)

    async def get(self, key: str) -> str | None:
        try:
            value = await self._client.get(self._prefix + key)
        except (RedisError, OSError):
            self._warn()
            return await self._fallback.get(key)
        return None if value is None else bytes(value).decode("utf-8")

    async def delete(self, key: str) -> None:
        try:
            await self._client.delete(self._prefix + key)
        except (RedisError, OSError):
            self._warn()
        await self._fallback.delete(key)

    async def push(self, key: str, value: str, *, ttl_seconds: int, max_items: int) -> None:
        name = self._prefix + key
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.rpush(name, value)
                pipe.ltrim(name, -max_items, -1)
                pipe.expire(name, ttl_seconds)
                await pipe.execute()
        except (RedisError, OSError):
            self._warn()
            await self._fallback.push(key, value, ttl_seconds=ttl_seconds, max_items=max_items)

    async def drain(self, key: str) -> list[str]:
        name = self._prefix + key
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.lrange(name, 0, -1)
                pipe.delete(name)
                items, _ = await pipe.execute()
        except (RedisError, OSError):
            self._warn()
            return await self._fallback.drain(key)
        return [bytes(item).decode("utf-8") for item in items] + await self._fallback.drain(key)

    async def incr(self, key: str, *, ttl_seconds: int) -> int:
        name = self._prefix + key
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, ttl_seconds)
                count, _ = await pipe.execute()
        except (RedisError, OSError):
            self._warn()
            return await self._fallback.incr(key, ttl_seconds=ttl_seconds)
        return int(count)

    async def close(self) -> None:
        await self._client.close()


def state_from_config(redis_url: str | None) -> SharedState:
    """Redis when a URL is given (credentials or ``CIVICDESK_REDIS_URL``), else in-memory."""
    url = redis_url or os.environ.get(REDIS_URL_ENV)
    if url:
        return RedisState.from_url(url)
    return MemoryState()
