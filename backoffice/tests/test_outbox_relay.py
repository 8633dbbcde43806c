"""Chat pushes: outbox rows written with staff changes, relayed to a fake of Rasa's HTTP API.

The fake is a real HTTP server on 127.0.0.1 that records every ``trigger_intent`` call and
answers with the status codes a test queues (200 once the queue is empty).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice import outbox
from civicdesk_backoffice.app import create_app
from civicdesk_backoffice.models import OutboxMessage, Ticket
from civicdesk_backoffice.settings import RasaSettings, Settings
from tests.conftest import ClientFactory, StaffFactory, StaffLogin, file_request, post_status

Client = TestClient[Any, Any]
TOKEN = "rasa-test-token"
ServerFactory = Callable[..., Awaitable[TestServer]]


@dataclass
class FakeRasa:
    """Records trigger_intent calls; answers the queued statuses first, then 200."""

    statuses: list[int] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0
    url: str = ""

    async def trigger_intent(self, request: web.Request) -> web.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.calls.append(
            {
                "sender_id": request.match_info["sender_id"],
                "query": dict(request.query),
                "body": await request.json(),
            }
        )
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({"tracker": {}}, status=status)


@pytest.fixture
async def fake_rasa(aiohttp_server: ServerFactory) -> FakeRasa:
    fake = FakeRasa()
    app = web.Application()
    app.router.add_post("/conversations/{sender_id}/trigger_intent", fake.trigger_intent)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


def _rasa(fake: FakeRasa, **overrides: Any) -> RasaSettings:
    values: dict[str, Any] = {
        "url": fake.url,
        "token": SecretStr(TOKEN),
        "backoff_seconds": 0.05,
        "backoff_cap_seconds": 0.2,
        "poll_seconds": 0.05,
        "timeout_seconds": 5,
    }
    values.update(overrides)
    return RasaSettings(**values)


@pytest.fixture
async def relayed(aiohttp_client: ClientFactory, settings: Settings, fake_rasa: FakeRasa) -> Client:
    """The application with its relay pushing to the fake Rasa."""
    configured = settings.model_copy(update={"rasa": _rasa(fake_rasa, max_attempts=3)})
    return await aiohttp_client(create_app(configured))


async def _rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def _settled(
    sessionmaker: async_sessionmaker[AsyncSession], count: int, timeout: float = 15.0
) -> list[OutboxMessage]:
    """Wait until ``count`` rows exist and none is pending any more."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        rows = await _rows(sessionmaker)
        if len(rows) == count and all(row.state != "pending" for row in rows):
            return rows
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError([(r.id, r.state, r.attempts, r.last_error) for r in rows])
        await asyncio.sleep(0.05)


async def _status(client: Client, who: StaffLogin, reference: str, status: str) -> None:
    response = await post_status(client, who, reference, status, note=f"Now {status}.")
    assert response.status == 200, await response.text()


async def test_staff_changes_are_pushed_once_each(
    relayed: Client,
    api_key: str,
    make_staff: StaffFactory,
    fake_rasa: FakeRasa,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reference = await file_request(relayed, api_key)
    ann = await make_staff("ann", "Street Lighting")
    await _status(relayed, ann, reference, "acknowledged")
    comments = f"/api/v1/staff/tickets/{reference}/comments"
    response = await relayed.post(
        comments, json={"body": "Crew booked.", "visibility": "public"}, headers=ann.headers
    )
    assert response.status == 201
    response = await relayed.post(comments, json={"body": "internal only"}, headers=ann.headers)
    assert response.status == 201
    handoff = await relayed.post(
        "/api/v1/citizens/telegram:12345/handoffs",
        json={"message": "Call me?", "service_request_id": reference},
        headers={"X-API-Key": api_key},
    )
    handoff_id = (await handoff.json())["handoff_id"]
    response = await relayed.post(
        f"/api/v1/staff/handoffs/{handoff_id}/reply",
        json={"text": "Calling at 3."},
        headers=ann.headers,
    )
    assert response.status == 200

    rows = await _settled(sessionmaker, 3)
    assert [(r.kind, r.state, r.attempts) for r in rows] == [
        ("status", "sent", 1),
        ("comment", "sent", 1),
        ("handoff_reply", "sent", 1),
    ]
    await asyncio.sleep(0.3)  # a few more relay passes: nothing is sent twice
    assert len(fake_rasa.calls) == 3
    for call in fake_rasa.calls:
        assert call["sender_id"] == "12345"
        assert call["query"] == {"output_channel": "telegram", "token": TOKEN}
        assert call["body"]["name"] == "EXTERNAL_ticket_update"
    assert [c["body"]["entities"] for c in fake_rasa.calls] == [
        {
            "service_request_id": reference,
            "status": "acknowledged",
            "kind": "status",
            "message": "Now acknowledged.",
            "locale": "en",
        },
        {
            "service_request_id": reference,
            "status": "acknowledged",
            "kind": "comment",
            "message": "Crew booked.",
            "locale": "en",
        },
        {
            "service_request_id": reference,
            "status": "acknowledged",
            "kind": "handoff_reply",
            "message": "Calling at 3.",
            "locale": "en",
        },
    ]


async def test_identity_split_at_first_colon_and_quoted(
    relayed: Client,
    api_key: str,
    make_staff: StaffFactory,
    fake_rasa: FakeRasa,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reference = await file_request(relayed, api_key, account_id="wechat:o6_b+Pm=x")
    ann = await make_staff("ann", "Street Lighting")
    await _status(relayed, ann, reference, "in_progress")
    await _settled(sessionmaker, 1)
    assert fake_rasa.calls[0]["sender_id"] == "o6_b+Pm=x"
    assert fake_rasa.calls[0]["query"]["output_channel"] == "wechat"


async def test_a_500_is_retried_with_backoff_until_it_goes_through(
    relayed: Client,
    api_key: str,
    make_staff: StaffFactory,
    fake_rasa: FakeRasa,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake_rasa.statuses = [500, 500]
    reference = await file_request(relayed, api_key)
    ann = await make_staff("ann", "Street Lighting")
    await _status(relayed, ann, reference, "acknowledged")
    (row,) = await _settled(sessionmaker, 1)
    assert (row.state, row.attempts, row.last_error) == ("sent", 3, None)
    assert len(fake_rasa.calls) == 3
    assert len({str(call["body"]) for call in fake_rasa.calls}) == 1


async def test_attempts_are_bounded_and_the_failed_row_is_kept(
    relayed: Client,
    api_key: str,
    make_staff: StaffFactory,
    fake_rasa: FakeRasa,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    fake_rasa.statuses = [500] * 10
    reference = await file_request(relayed, api_key)
    ann = await make_staff("ann", "Street Lighting")
    await _status(relayed, ann, reference, "acknowledged")
    (row,) = await _settled(sessionmaker, 1)
    assert (row.state, row.attempts, row.last_error) == ("failed", 3, "HTTP 500")
    await asyncio.sleep(0.3)
    assert len(fake_rasa.calls) == 3


@pytest.mark.parametrize("account_id", ["", "web-visitor-7", "Telegram:1"])
async def test_tickets_without_a_chat_identity_get_no_push(
    relayed: Client,
    api_key: str,
    make_staff: StaffFactory,
    fake_rasa: FakeRasa,
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: str,
) -> None:
    reference = await file_request(relayed, api_key, account_id=account_id)
    ann = await make_staff("ann", "Street Lighting")
    await _status(relayed, ann, reference, "acknowledged")
    response = await relayed.post(
        f"/api/v1/staff/tickets/{reference}/comments",
        json={"body": "Public note.", "visibility": "public"},
        headers=ann.headers,
    )
    assert response.status == 201
    await asyncio.sleep(0.3)
    assert await _rows(sessionmaker) == []
    assert fake_rasa.calls == []


async def test_the_push_commits_or_rolls_back_with_the_change(
    relayed: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reference = await file_request(relayed, api_key)
    ann = await make_staff("ann", "Street Lighting")
    refused = await post_status(relayed, ann, reference, "closed")
    assert refused.status == 409
    assert await _rows(sessionmaker) == []


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    settings = RasaSettings(backoff_seconds=2, backoff_cap_seconds=60)
    rng = random.Random(7)  # noqa: S311 (jitter, not security)
    waits = [outbox.backoff_seconds(settings, attempt, rng) for attempt in range(1, 9)]
    bases = [2, 4, 8, 16, 32, 60, 60, 60]
    for wait, base in zip(waits, bases, strict=True):
        assert base * 0.5 <= wait <= base * 1.5
    assert len(set(waits)) == len(waits)  # jittered, not a fixed schedule


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_several_relays_on_postgresql_never_send_a_row_twice(
    client: Client,
    api_key: str,
    fake_rasa: FakeRasa,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reference = await file_request(client, api_key)
    async with sessionmaker.begin() as session:
        ticket = (await session.scalars(select(Ticket))).one()
        for number in range(120):
            outbox.enqueue(
                session,
                identity="telegram:12345",
                kind=outbox.PushKind.COMMENT,
                ticket=ticket,
                message=f"m{number}",
            )
    assert reference
    fake_rasa.delay = 0.01
    relays = [outbox.OutboxRelay(sessionmaker, _rasa(fake_rasa)) for _ in range(4)]

    async def drain(relay: outbox.OutboxRelay) -> None:
        async with aiohttp.ClientSession() as http:
            while await relay.run_once(http):
                pass

    await asyncio.gather(*(drain(relay) for relay in relays))
    sent = Counter(call["body"]["entities"]["message"] for call in fake_rasa.calls)
    assert sorted(sent) == sorted(f"m{n}" for n in range(120))
    assert set(sent.values()) == {1}
    rows = await _rows(sessionmaker)
    assert {(r.state, r.attempts) for r in rows} == {("sent", 1)}
