"""A per-sender token bucket: how many messages a citizen may send before being asked to wait.

Each sender has a bucket of ``burst`` tokens that refills at ``per_minute`` tokens a minute;
a message takes one token, and a message that finds the bucket empty is refused (the channel
base tells the citizen to wait and send it again). A person typing never meets the limit
(the defaults allow ten messages at once and one every three seconds after that); a script
flooding one conversation does, and then costs Rasa nothing.

The bucket lives in this process's memory, or in Redis when the channels share one
(``CIVICDESK_REDIS_URL``, as with several Rasa processes), so a sender's limit is the same
whichever process takes the message. If Redis cannot be reached the process's own buckets are
used: a Redis outage loosens the limit per process, it never refuses a citizen wrongly.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

PER_MINUTE_ENV = "CIVICDESK_RATE_LIMIT_PER_MINUTE"
BURST_ENV = "CIVICDESK_RATE_LIMIT_BURST"
DEFAULT_PER_MINUTE = 20
DEFAULT_BURST = 10
REDIS_URL_ENV = "CIVICDESK_REDIS_URL"


class RateLimiter(Protocol):
    async def allow(self, sender: str) -> bool:
        """Take a token from ``sender``'s bucket; ``False`` when it is empty."""
        ...


class MemoryTokenBucket:
    """Buckets in this process, at most ``max_senders`` of them (least recently used go
    first: a forgotten bucket is a full one, which only errs on the citizen's side)."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        *,
        max_senders: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._max = max_senders
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def allow(self, sender: str) -> bool:
        now = self._clock()
        tokens, at = self._buckets.pop(sender, (self._burst, now))
        tokens = min(self._burst, tokens + max(0.0, now - at) * self._rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[sender] = (tokens, now)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return allowed


# One bucket per key, as a hash {tokens, at}: refill, take, store and expire in one step, so
# two processes taking a token for one sender at once cannot both take the last one.
_BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(stored[1]) or burst
local at = tonumber(stored[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst / rate + 60) * 1000))
return allowed
"""


class RedisTokenBucket:
    """Buckets in Redis under ``prefix``, shared by every process using that server."""

    def __init__(
        self,
        client: redis_asyncio.Redis,
        per_minute: float,
        burst: int,
        *,
        prefix: str = "civicdesk:rate:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fallback = MemoryTokenBucket(per_minute, burst)
        self._client = client
        self._rate = per_minute / 60.0
        self._burst = burst
        self._prefix = prefix
        self._clock = clock
        self._script = client.register_script(_BUCKET_SCRIPT)

    async def allow(self, sender: str) -> bool:
        try:
            result = await self._script(
                keys=[self._prefix + sender], args=[self._rate, self._burst, self._clock()]
            )
        except (RedisError, OSError):
            logger.warning("rate limit store unreachable; using in-process buckets", exc_info=True)
            return await self._fallback.allow(sender)
        return bool(int(result))

    async def close(self) -> None:
        await self._client.close()


def _number(env: str, default: int) -> int:
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise ValueError(f"{env} must be a whole number") from error
    if value < 0:
        raise ValueError(f"{env} must not be negative")
    return value


def rate_settings(per_minute: int | None = None, burst: int | None = None) -> tuple[int, int]:
    """``(per_minute, burst)``: the values given, else the environment's, else the defaults."""
    rate = per_minute if per_minute is not None else _number(PER_MINUTE_ENV, DEFAULT_PER_MINUTE)
    size = burst if burst is not None else _number(BURST_ENV, DEFAULT_BURST)
    if rate < 0 or size < 0:
        raise ValueError("rate limit settings must not be negative")
    return rate, size


def rate_limiter_from_config(
    redis_url: str | None, per_minute: int, burst: int
) -> RateLimiter | None:
    """The limiter for these settings: ``None`` (no limit) when ``per_minute`` is 0, Redis
    buckets when a URL is given (or ``CIVICDESK_REDIS_URL``), else in-process ones."""
    if per_minute == 0:
        return None
    size = max(1, burst)
    url = redis_url or os.environ.get(REDIS_URL_ENV)
    if url:
        return RedisTokenBucket(redis_asyncio.Redis.from_url(url), per_minute, size)
    return MemoryTokenBucket(per_minute, size)


__all__ = [
    "BURST_ENV",
    "DEFAULT_BURST",
    "DEFAULT_PER_MINUTE",
    "PER_MINUTE_ENV",
    "MemoryTokenBucket",
    "RateLimiter",
    "RedisTokenBucket",
    "rate_limiter_from_config",
    "rate_settings",
]
