"""``Idempotency-Key`` on ``POST /api/v1/citizens/{identity}/handoffs``: a retried request for
a person creates one handoff (the bot's outbox retries when an answer did not come back)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice import api_keys
from civicdesk_backoffice.models import Handoff
from tests.conftest import file_request

Client = TestClient[Any, Any]
PATH = "/api/v1/citizens/telegram:12345/handoffs"


async def handoff_count(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Handoff)) or 0)


def headers(api_key: str, key: str | None) -> dict[str, str]:
    sent = {"X-API-Key": api_key}
    if key is not None:
        sent["Idempotency-Key"] = key
    return sent


async def test_the_same_key_twice_is_one_handoff(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    reference = await file_request(client, api_key, account_id="telegram:12345")
    body = {"message": "Please call me.", "service_request_id": reference}
    first = await client.post(PATH, json=body, headers=headers(api_key, "h-1"))
    again = await client.post(PATH, json=body, headers=headers(api_key, "h-1"))
    assert (first.status, again.status) == (201, 201)
    assert await again.json() == await first.json()
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await handoff_count(sessionmaker) == 1


async def test_without_a_key_or_with_another_key_each_request_is_a_handoff(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    body = {"message": "Please call me."}
    for key in (None, None, "h-2", "h-3"):
        assert (await client.post(PATH, json=body, headers=headers(api_key, key))).status == 201
    assert await handoff_count(sessionmaker) == 4


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (PATH, {"message": "Something else entirely."}),
        ("/api/v1/citizens/telegram:999/handoffs", {"message": "Please call me."}),
    ],
    ids=["another message", "another citizen"],
)
async def test_the_same_key_for_another_request_is_422_and_creates_nothing(
    client: Client,
    api_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    path: str,
    body: dict[str, str],
) -> None:
    first = await client.post(
        PATH, json={"message": "Please call me."}, headers=headers(api_key, "k")
    )
    reused = await client.post(path, json=body, headers=headers(api_key, "k"))
    assert first.status == 201
    assert reused.status == 422
    assert "Idempotency-Key" in (await reused.json())["error"]["message"]
    assert await handoff_count(sessionmaker) == 1


async def test_concurrent_retries_make_one_handoff(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    body = {"message": "Please call me."}
    responses = await asyncio.gather(
        *(client.post(PATH, json=body, headers=headers(api_key, "race")) for _ in range(6))
    )
    assert [r.status for r in responses] == [201] * 6
    assert len({(await r.json())["handoff_id"] for r in responses}) == 1
    assert await handoff_count(sessionmaker) == 1


async def test_keys_are_scoped_per_api_key(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker.begin() as session:
        other = await api_keys.create_api_key(session, "other-client")
    body = {"message": "Please call me."}
    first = await client.post(PATH, json=body, headers=headers(api_key, "shared"))
    second = await client.post(PATH, json=body, headers=headers(other, "shared"))
    assert (first.status, second.status) == (201, 201)
    assert (await first.json())["handoff_id"] != (await second.json())["handoff_id"]
    assert await handoff_count(sessionmaker) == 2


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "ключ", "a\tb"])
async def test_a_malformed_key_is_400(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession], key: str
) -> None:
    response = await client.post(PATH, json={"message": "hi"}, headers=headers(api_key, key))
    assert response.status == 400
    assert await handoff_count(sessionmaker) == 0
