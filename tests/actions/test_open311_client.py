"""The client's CivicDesk extensions and their fallbacks, against a scripted HTTP server."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from actions.open311_client import (
    IDEMPOTENCY_HEADER,
    BackOfficeUnavailable,
    ExtensionUnavailable,
    Open311Client,
    RequestRejected,
    TicketNotFound,
)
from actions.service_matching import search_catalogue
from open311_schema import NewServiceRequest

TICKET = {
    "service_request_id": "CD-7K2M9Q",
    "status": "open",
    "service_code": "street_light",
    "service_name": "Street light",
    "requested_datetime": "2026-05-01T10:00:00Z",
    "updated_datetime": "2026-05-01T10:00:00Z",
}
SERVICES = [
    {"service_code": "street_light", "service_name": "Street light", "keywords": "lamp, dark"},
    {"service_code": "road_damage", "service_name": "Pothole", "keywords": "pothole, road"},
]


def client(handler: Callable[[httpx.Request], httpx.Response]) -> Open311Client:
    return Open311Client("http://bo", "cd_key", transport=httpx.MockTransport(handler))


async def test_search_uses_the_back_office_endpoint() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/services/search"
        assert request.url.params["q"] == "dark lamp"
        hits = [{"service_code": "street_light", "service_name": "Street light", "score": 3.2}]
        return httpx.Response(200, json={"query": "dark lamp", "results": hits})

    async with client(handler) as api:
        [match] = await search_catalogue(api, "dark lamp")

    assert (match.service_code, match.score) == ("street_light", 3.2)


async def test_search_falls_back_to_ranking_the_open311_list() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/services/search":
            return httpx.Response(404, json=[{"code": 404, "description": "no"}])
        assert request.url.path == "/open311/v2/services.json"
        return httpx.Response(200, json=SERVICES)

    async with client(handler) as api:
        matches = await search_catalogue(api, "the lamp is dark")

    assert [m.service_code for m in matches] == ["street_light"]


async def test_filing_sends_the_idempotency_key_and_treats_409_as_try_later() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get(IDEMPOTENCY_HEADER))
        if len(seen) == 1:
            return httpx.Response(409, json=[{"code": 409, "description": "in flight"}])
        return httpx.Response(201, json=[{"service_request_id": "CD-7K2M9Q"}])

    request = NewServiceRequest("street_light", address_string="1 Main St")
    async with client(handler) as api:
        with pytest.raises(BackOfficeUnavailable):
            await api.create_request(request, idempotency_key="k1")
        created = await api.create_request(request, idempotency_key="k1")

    assert seen == ["k1", "k1"]
    assert created.service_request_id == "CD-7K2M9Q"


async def test_missing_extension_and_missing_ticket_are_told_apart() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/v1/"):
            return httpx.Response(404, json=[{"code": 404, "description": "not found"}])
        if request.url.path == "/open311/v2/requests/CD-7K2M9Q.json":
            return httpx.Response(200, json=[TICKET])
        return httpx.Response(404, json=[{"code": 404, "description": "no ticket"}])

    async with client(handler) as api:
        with pytest.raises(ExtensionUnavailable):
            await api.reopen_request("CD-7K2M9Q", "still dark")
        with pytest.raises(TicketNotFound):
            await api.withdraw_request("CD-AAAAAA", "not needed")


async def test_follow_up_extension_posts_json() -> None:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        assert request.url.path == "/api/v1/citizen/tickets/CD-7K2M9Q/rating"
        return httpx.Response(204)

    async with client(handler) as api:
        await api.rate_request("CD-7K2M9Q", 4)
        with pytest.raises(ValueError, match="1 to 5"):
            await api.rate_request("CD-7K2M9Q", 9)

    assert bodies == [{"rating": 4}]


async def test_a_refusal_is_still_a_refusal() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json=[{"code": 403, "description": "bad key"}])

    async with client(handler) as api:
        with pytest.raises(RequestRejected):
            await api.create_request(NewServiceRequest("x", address_string="1 Main St"))
