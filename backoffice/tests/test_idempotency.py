"""``Idempotency-Key`` on ``POST /open311/v2/requests``: retries file nothing twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice import api_keys
from civicdesk_backoffice.models import ApiKey, IdempotencyRecord, Ticket, utcnow
from tests.conftest import street_light_form

Client = TestClient[Any, Any]
PATH = "/open311/v2/requests.json"


async def _ticket_count(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Ticket)) or 0)


async def test_same_key_and_body_returns_the_same_ticket(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    headers = {"Idempotency-Key": "7f0c3c1e-5a7b-4f8e-9d59-1d7a2b3c4d5e"}
    first = await client.post(PATH, data=street_light_form(api_key), headers=headers)
    assert first.status == 201
    assert "Idempotent-Replayed" not in first.headers
    again = await client.post(PATH, data=street_light_form(api_key), headers=headers)
    assert again.status == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await again.json()) == (await first.json())
    assert await _ticket_count(sessionmaker) == 1

    # Field order does not make a different body; XML replays the same ticket too.
    reordered = dict(reversed(list(street_light_form(api_key).items())))
    xml = await client.post("/open311/v2/requests.xml", data=reordered, headers=headers)
    assert xml.status == 201
    assert (await first.json())[0]["service_request_id"] in await xml.text()
    assert await _ticket_count(sessionmaker) == 1


async def test_without_a_key_every_post_files_a_ticket(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    for _ in range(2):
        assert (await client.post(PATH, data=street_light_form(api_key))).status == 201
    assert await _ticket_count(sessionmaker) == 2


async def test_same_key_with_another_body_is_422(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    headers = {"Idempotency-Key": "key-1"}
    assert (await client.post(PATH, data=street_light_form(api_key), headers=headers)).status == 201
    other = street_light_form(api_key, description="Another lamp.")
    response = await client.post(PATH, data=other, headers=headers)
    assert response.status == 422
    (error,) = await response.json()
    assert error["code"] == 422
    assert "different request" in error["description"]
    assert await _ticket_count(sessionmaker) == 1


async def test_key_still_in_flight_is_409(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    headers = {"Idempotency-Key": "key-2"}
    assert (await client.post(PATH, data=street_light_form(api_key), headers=headers)).status == 201
    # Make the record look like a first request that has not finished yet.
    async with sessionmaker.begin() as session:
        await session.execute(update(IdempotencyRecord).values(ticket_id=None))
    response = await client.post(PATH, data=street_light_form(api_key), headers=headers)
    assert response.status == 409
    assert response.headers["Retry-After"] == "2"
    assert "still being processed" in (await response.json())[0]["description"]

    # A claim abandoned long ago (the process died) is taken over.
    async with sessionmaker.begin() as session:
        await session.execute(
            update(IdempotencyRecord).values(created_at=utcnow() - timedelta(hours=1))
        )
    response = await client.post(PATH, data=street_light_form(api_key), headers=headers)
    assert response.status == 201
    assert await _ticket_count(sessionmaker) == 2


async def test_failed_request_releases_the_key(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    headers = {"Idempotency-Key": "key-3"}
    bad = street_light_form(api_key, **{"attribute[fault]": "exploded"})
    assert (await client.post(PATH, data=bad, headers=headers)).status == 400
    unknown = street_light_form(api_key, service_code="no_such_service")
    assert (await client.post(PATH, data=unknown, headers=headers)).status == 404
    # A corrected request may use the key now.
    assert (await client.post(PATH, data=street_light_form(api_key), headers=headers)).status == 201


async def test_concurrent_retries_file_one_ticket(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    headers = {"Idempotency-Key": "key-4"}
    responses = await asyncio.gather(
        *(client.post(PATH, data=street_light_form(api_key), headers=headers) for _ in range(5))
    )
    statuses = sorted(response.status for response in responses)
    assert set(statuses) <= {201, 409}
    assert 201 in statuses
    ids = {
        (await response.json())[0]["service_request_id"]
        for response in responses
        if response.status == 201
    }
    assert len(ids) == 1
    assert await _ticket_count(sessionmaker) == 1


async def test_keys_are_scoped_per_api_key(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker.begin() as session:
        other_key = await api_keys.create_api_key(session, "other-client")
    headers = {"Idempotency-Key": "shared"}
    first = await client.post(PATH, data=street_light_form(api_key), headers=headers)
    second = await client.post(PATH, data=street_light_form(other_key), headers=headers)
    assert first.status == second.status == 201
    assert (await first.json()) != (await second.json())
    async with sessionmaker() as session:
        assert len((await session.scalars(select(ApiKey))).all()) == 2


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "ключ", "a\tb"])
async def test_malformed_key_is_400(client: Client, api_key: str, key: str) -> None:
    response = await client.post(
        PATH, data=street_light_form(api_key), headers={"Idempotency-Key": key}
    )
    assert response.status == 400
    assert "Idempotency-Key" in (await response.json())[0]["description"]
