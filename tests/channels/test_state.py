"""Shared state for the adapters: in memory, and on the machine's real Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis_asyncio

from channels._state import MemoryState, RedisState, SharedState, state_from_config
from tests.channels.conftest import free_port


async def _exercise(state: SharedState) -> None:
    assert await state.get("k") is None
    await state.set("k", "v", ttl_seconds=60)
    assert await state.get("k") == "v"
    await state.delete("k")
    assert await state.get("k") is None
    for n in range(5):
        await state.push("box", f"m{n}", ttl_seconds=60, max_items=3)
    assert await state.drain("box") == ["m2", "m3", "m4"]
    assert await state.drain("box") == []
    assert [await state.incr("count", ttl_seconds=60) for _ in range(3)] == [1, 2, 3]


async def test_memory_state() -> None:
    await _exercise(MemoryState())


async def test_redis_state(redis_state: RedisState) -> None:
    await _exercise(redis_state)


async def test_memory_state_expires_keys() -> None:
    state = MemoryState()
    await state.set("k", "v", ttl_seconds=0)
    await state.push("box", "m", ttl_seconds=0, max_items=3)
    await asyncio.sleep(0.01)
    assert await state.get("k") is None
    assert await state.drain("box") == []


async def test_memory_state_stays_bounded() -> None:
    state = MemoryState(max_keys=10)
    for n in range(50):
        await state.set(str(n), "v", ttl_seconds=60)
    assert len(state._values) <= 10
    assert await state.get("49") == "v"


async def test_redis_state_is_shared_between_processes(redis_state: RedisState) -> None:
    other = redis_asyncio.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        second = RedisState(other, prefix=redis_state._prefix)
        await redis_state.set("k", "v", ttl_seconds=60)
        await redis_state.push("box", "m", ttl_seconds=60, max_items=3)
        assert await second.get("k") == "v"
        assert await second.drain("box") == ["m"]
    finally:
        await other.close()


async def test_unreachable_redis_falls_back_to_memory() -> None:
    state = RedisState.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        await _exercise(state)
    finally:
        await state.close()


def test_state_choice_follows_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICDESK_REDIS_URL", raising=False)
    assert isinstance(state_from_config(None), MemoryState)
    assert isinstance(state_from_config("redis://127.0.0.1:6379/0"), RedisState)
