"""``GET /metrics``: requests by route pattern, filings, the outbox backlog; who may read it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.app import create_app
from civicdesk_backoffice.models import OutboxMessage
from civicdesk_backoffice.settings import MetricsSettings, Settings
from tests.conftest import ClientFactory, file_request, street_light_form

Client = TestClient[Any, Any]


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value in Prometheus text, 0 when absent."""
    for family in text_string_to_metric_families(text):
        for item in family.samples:
            if item.name == name and all(item.labels.get(k) == v for k, v in labels.items()):
                return float(item.value)
    return 0.0


async def scrape(client: Client) -> str:
    response = await client.get("/metrics")
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain")
    return await response.text()


async def test_requests_and_filings_are_counted_without_personal_data(
    client: Client, api_key: str
) -> None:
    before = await scrape(client)
    reference = await file_request(client, api_key)
    key = {"Idempotency-Key": "metrics-1"}
    form = street_light_form(api_key)
    first = await client.post("/open311/v2/requests.json", data=form, headers=key)
    replay = await client.post("/open311/v2/requests.json", data=form, headers=key)
    assert (first.status, replay.status) == (201, 201)
    assert replay.headers["Idempotent-Replayed"] == "true"
    mine = await client.get(
        "/api/v1/citizens/telegram:12345/tickets", headers={"X-API-Key": api_key}
    )
    assert mine.status == 200
    await client.get("/no/such/path/+49301234567")
    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    # Two filings; the replay files nothing.
    assert moved("civicdesk_backoffice_tickets_created_total") == 2
    requests = "civicdesk_backoffice_requests_total"
    filing = {"method": "POST", "route": "/open311/v2/requests.{fmt}", "status": "201"}
    assert moved(requests, **filing) == 3
    citizen = {"method": "GET", "route": "/api/v1/citizens/{identity}/tickets", "status": "200"}
    assert moved(requests, **citizen) == 1
    assert moved(requests, method="GET", route="<unmatched>", status="404") == 1
    assert (
        moved("civicdesk_backoffice_request_seconds_count", method="POST", route=filing["route"])
        == 3
    )
    for personal in ("telegram:12345", "+49 30 1234567", "1234567", "Lovelace", "example.org"):
        assert personal not in after
    assert reference not in after


async def test_the_outbox_backlog_is_read_when_scraped(
    client: Client, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    empty = await scrape(client)
    assert sample(empty, "civicdesk_backoffice_outbox_rows", state="pending") == 0
    assert sample(empty, "civicdesk_backoffice_outbox_oldest_pending_seconds") == 0
    now = datetime.now(timezone.utc)
    async with sessionmaker.begin() as session:
        for state, age in (("pending", 90), ("pending", 30), ("failed", 600), ("sent", 900)):
            created = now - timedelta(seconds=age)
            session.add(
                OutboxMessage(
                    identity="telegram:12345",
                    kind="status",
                    entities={},
                    state=state,
                    created_at=created,
                    next_attempt_at=created,
                )
            )
    text = await scrape(client)
    assert sample(text, "civicdesk_backoffice_outbox_rows", state="pending") == 2
    assert sample(text, "civicdesk_backoffice_outbox_rows", state="failed") == 1
    oldest = sample(text, "civicdesk_backoffice_outbox_oldest_pending_seconds")
    assert 90 <= oldest < 150
    assert "telegram:12345" not in text


async def test_metrics_are_refused_through_a_proxy_and_need_a_token_when_set(
    aiohttp_client: ClientFactory, client: Client, settings: Settings
) -> None:
    proxied = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert proxied.status == 403
    assert (await proxied.json())["error"]["code"] == "forbidden"

    guarded = await aiohttp_client(
        create_app(
            settings.model_copy(update={"metrics": MetricsSettings(token=SecretStr("m-secret"))})
        )
    )
    bare = await guarded.get("/metrics")
    wrong = await guarded.get("/metrics", headers={"Authorization": "Bearer other"})
    right = await guarded.get("/metrics", headers={"Authorization": "Bearer m-secret"})
    assert (bare.status, wrong.status, right.status) == (401, 401, 200)
    assert (await bare.json())["error"]["code"] == "unauthorized"
    assert "civicdesk_backoffice_requests_total" in await right.text()
