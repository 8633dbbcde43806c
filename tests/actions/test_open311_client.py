"""The client's CivicDesk extensions and their fallbacks, against a scripted HTTP server."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from urllib.parse import parse_qs

import httpx
import pytest

from actions.catalogue_language import catalogue_locale, locale_of_call
from actions.open311_client import (
    IDEMPOTENCY_HEADER,
    BackOfficeUnavailable,
    CitizenTicket,
    ExtensionUnavailable,
    Open311Client,
    RequestRejected,
    ServiceNeeds,
    TicketNotFound,
    TransitionRefused,
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


@pytest.mark.parametrize(("locale", "sent"), [("zh-Hans", ["zh-Hans"]), (None, [])])
async def test_filing_sends_the_language_filed_in_as_the_locale_field(
    locale: str | None, sent: list[str]
) -> None:
    forms: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        forms.append(parse_qs(request.content.decode()))
        return httpx.Response(201, json=[{"service_request_id": "CD-7K2M9Q"}])

    async with client(handler) as api:
        await api.create_request(
            NewServiceRequest("street_light", lat=1.0, long=2.0), locale=locale
        )

    assert forms[0].get("locale", []) == sent
    assert forms[0]["service_code"] == ["street_light"]


def not_found(request: httpx.Request) -> httpx.Response:
    body = {"error": {"code": "not_found", "message": "There is no ticket for this citizen."}}
    return httpx.Response(404, json=body)


CITIZEN_TICKET = {
    "service_request_id": "CD-7K2M9Q",
    "service_code": "street_light",
    "service_name": "Street light",
    "status": "closed",
    "open311_status": "closed",
    "status_notes": "Withdrawn by the citizen.",
}


@pytest.mark.parametrize(
    ("call", "path", "body"),
    [
        (
            lambda api: api.withdraw_request("telegram:12345", "CD-7K2M9Q", "fixed itself"),
            "withdraw",
            {"reason": "fixed itself"},
        ),
        (
            lambda api: api.withdraw_request("telegram:12345", "CD-7K2M9Q"),
            "withdraw",
            {},
        ),
        (
            lambda api: api.reopen_request("telegram:12345", "CD-7K2M9Q", "dark again"),
            "reopen",
            {"reason": "dark again"},
        ),
        (
            lambda api: api.rate_request("telegram:12345", "CD-7K2M9Q", 4),
            "rating",
            {"rating": 4},
        ),
        (
            lambda api: api.rate_request("telegram:12345", "CD-7K2M9Q", 2, "slow"),
            "rating",
            {"rating": 2, "comment": "slow"},
        ),
    ],
)
async def test_ticket_moves_follow_the_contract(
    call: Callable[[Open311Client], Awaitable[CitizenTicket]], path: str, body: object
) -> None:
    seen: list[tuple[str, str, str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(
            (
                request.method,
                request.url.raw_path.decode(),
                request.headers["X-API-Key"],
                json.loads(request.content),
            )
        )
        return httpx.Response(200, json={"ticket": {**CITIZEN_TICKET, "rating": 4}})

    async with client(handler) as api:
        ticket = await call(api)

    assert seen == [
        ("POST", f"/api/v1/citizens/telegram:12345/tickets/CD-7K2M9Q/{path}", "cd_key", body)
    ]
    assert ticket.status == "closed"
    assert ticket.rating == 4


@pytest.mark.parametrize(
    ("status", "raised"),
    [
        (404, TicketNotFound),
        (422, TransitionRefused),
        (405, ExtensionUnavailable),
        (503, BackOfficeUnavailable),
        (400, RequestRejected),
    ],
)
async def test_ticket_move_errors_are_told_apart(status: int, raised: type[Exception]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": "unprocessable", "message": "Not allowed from new."}}
        return httpx.Response(status, json=body)

    async with client(handler) as api:
        with pytest.raises(raised):
            await api.reopen_request("telegram:12345", "CD-7K2M9Q", "dark again")


async def test_bad_moves_are_refused_before_sending() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(200, json={"ticket": CITIZEN_TICKET})

    async with client(handler) as api:
        with pytest.raises(ValueError, match="1 to 5"):
            await api.rate_request("telegram:12345", "CD-7K2M9Q", 9)
        with pytest.raises(ValueError, match="1 to 5"):
            await api.rate_request("telegram:12345", "CD-7K2M9Q", True)
        with pytest.raises(ValueError, match="reason"):
            await api.reopen_request("telegram:12345", "CD-7K2M9Q", "  ")
        with pytest.raises(ValueError, match="message"):
            await api.create_handoff("telegram:12345", " ")

    assert sent == []


async def test_a_handoff_follows_the_contract() -> None:
    seen: list[tuple[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.raw_path.decode(), json.loads(request.content)))
        assert request.headers.get("Idempotency-Key") == "k-1", "a retry is the same handoff"
        return httpx.Response(
            201,
            json={
                "handoff_id": "h-1",
                "status": "waiting",
                "department": "Street Lighting",
                "expected_response": "2026-12-01T09:30:00Z",
                "expected_response_hours": 24,
            },
        )

    async with client(handler) as api:
        handoff = await api.create_handoff(
            "telegram:12345", "who fixes lamps?", "CD-7K2M9Q", idempotency_key="k-1"
        )

    assert seen == [
        (
            "/api/v1/citizens/telegram:12345/handoffs",
            {"message": "who fixes lamps?", "service_request_id": "CD-7K2M9Q"},
        )
    ]
    assert handoff.department == "Street Lighting"
    assert handoff.expected_response == datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    assert handoff.expected_response_hours == 24


async def test_a_handoff_in_a_chinese_conversation_names_the_department_in_chinese() -> None:
    seen: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(
            201,
            json={
                "handoff_id": "h-2",
                "status": "waiting",
                "department": "Street Lighting",
                "department_name": "路灯管理所",
                "expected_response": "2026-12-01T09:30:00Z",
                "expected_response_hours": 24,
            },
        )

    token = catalogue_locale.set("zh-Hans")
    try:
        async with client(handler) as api:
            handoff = await api.create_handoff("telegram:12345", "找人工")
    finally:
        catalogue_locale.reset(token)

    assert seen == [{"message": "找人工", "locale": "zh-Hans"}]
    assert handoff.department == "路灯管理所"


async def test_a_handoff_reply_of_the_wrong_shape_is_an_outage() -> None:
    async with client(lambda request: httpx.Response(201, json={"handoff_id": "h"})) as api:
        with pytest.raises(BackOfficeUnavailable):
            await api.create_handoff("telegram:12345", "help")


async def test_a_comment_goes_to_the_citizens_ticket() -> None:
    seen: list[tuple[str, str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(
            (
                request.url.raw_path.decode(),
                request.headers["X-API-Key"],
                json.loads(request.content),
            )
        )
        return httpx.Response(201, json={"comment": {"id": 1, "body": "it buzzes"}})

    async with client(handler) as api:
        await api.add_comment("telegram:12345", "CD-7K2M9Q", "it buzzes")

    assert seen == [
        (
            "/api/v1/citizens/telegram:12345/tickets/CD-7K2M9Q/comments",
            "cd_key",
            {"body": "it buzzes"},
        )
    ]


async def test_a_comment_on_someone_elses_ticket_is_not_found() -> None:
    async with client(not_found) as api:
        with pytest.raises(TicketNotFound):
            await api.add_comment("telegram:12345", "CD-7K2M9Q", "it buzzes")


async def test_a_photo_goes_to_the_citizens_ticket_by_media_id() -> None:
    seen: list[tuple[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.raw_path.decode(), json.loads(request.content)))
        return httpx.Response(201, json={"comment": None, "media": {"media_id": "m"}})

    async with client(handler) as api:
        await api.add_photo("telegram:12345", "CD-7K2M9Q", "Q2l2aWNEZXNrUGhvdG8x_A")
        await api.add_photo("telegram:12345", "CD-7K2M9Q", "Q2l2aWNEZXNrUGhvdG8x_A", "left side")

    path = "/api/v1/citizens/telegram:12345/tickets/CD-7K2M9Q/comments"
    assert seen == [
        (path, {"media_id": "Q2l2aWNEZXNrUGhvdG8x_A"}),
        (path, {"media_id": "Q2l2aWNEZXNrUGhvdG8x_A", "body": "left side"}),
    ]


@pytest.mark.parametrize(
    ("status", "raised"),
    [
        (404, TicketNotFound),
        (422, RequestRejected),
        (405, ExtensionUnavailable),
        (503, BackOfficeUnavailable),
    ],
)
async def test_a_refused_photo_raises_what_the_answer_means(
    status: int, raised: type[Exception]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": "x", "message": "That photo is already on another ticket."}}
        return httpx.Response(status, json=body)

    async with client(handler) as api:
        with pytest.raises(raised):
            await api.add_photo("telegram:12345", "CD-7K2M9Q", "Q2l2aWNEZXNrUGhvdG8x_A")


async def test_my_tickets_are_read_from_the_citizen_endpoint() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/citizens/webchat:abc-DEF_1/tickets"
        assert request.url.params["limit"] == "5"
        ticket = {
            "service_request_id": "CD-7K2M9Q",
            "service_code": "street_light",
            "service_name": "Street light",
            "status": "in_progress",
            "open311_status": "open",
            "status_notes": None,
            "description": "dark",
        }
        return httpx.Response(200, json={"tickets": [ticket]})

    async with client(handler) as api:
        [ticket] = await api.list_citizen_tickets("webchat:abc-DEF_1", limit=5)

    assert (ticket.service_request_id, ticket.status, ticket.open311_status) == (
        "CD-7K2M9Q",
        "in_progress",
        "open",
    )
    assert ticket.status_notes is None


async def test_a_server_without_citizen_tickets_is_told_apart_from_an_outage() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"code": "unavailable", "message": "x"}})

    async with client(not_found) as api:
        with pytest.raises(ExtensionUnavailable):
            await api.list_citizen_tickets("telegram:12345")
    async with client(down) as api:
        with pytest.raises(BackOfficeUnavailable):
            await api.list_citizen_tickets("telegram:12345")


async def test_a_service_asks_for_a_place_and_a_photo_only_where_the_catalogue_says_so() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/open311/v2/services.json"
        return httpx.Response(
            200,
            json=[
                {
                    **SERVICES[0],
                    "needs_photo": True,
                    "needs_location": False,
                    "location_question": "  ",
                    "photo_question": "A photo of your licence, please.",
                },
                {**SERVICES[1], "needs_photo": "yes", "location_question": "Which road?"},
            ],
        )

    async with client(handler) as api:
        first = await api.service_needs("street_light")
        second = await api.service_needs("road_damage")
        unknown = await api.service_needs("unknown")
    assert first == ServiceNeeds(False, True, None, "A photo of your licence, please.")
    # Without the extension fields a service is what plain Open311 implies: a place, no photo.
    assert second == ServiceNeeds(True, False, "Which road?", None)
    assert unknown == ServiceNeeds(True, False, None, None)


async def test_a_refusal_is_still_a_refusal() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json=[{"code": 403, "description": "bad key"}])

    async with client(handler) as api:
        with pytest.raises(RequestRejected):
            await api.create_request(NewServiceRequest("x", address_string="1 Main St"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_catalogue_is_read_once_while_fresh_then_revalidated_by_its_etag() -> None:
    seen: list[tuple[str, str | None]] = []
    versions = {"current": '"v1"'}

    def handler(request: httpx.Request) -> httpx.Response:
        held = request.headers.get("If-None-Match")
        seen.append((request.url.path, held))
        if held == versions["current"]:
            return httpx.Response(304, headers={"ETag": held})
        names = {'"v1"': "Street light", '"v2"': "Street lamp"}
        body = [{**SERVICES[0], "service_name": names[versions["current"]]}]
        return httpx.Response(200, json=body, headers={"ETag": versions["current"]})

    clock = Clock()
    api = Open311Client(
        "http://bo",
        "cd_key",
        transport=httpx.MockTransport(handler),
        catalogue_fresh_seconds=5.0,
        clock=clock,
    )
    async with api:
        first = await api.list_services()
        await api.service_needs("street_light")
        clock.now += 4.9
        await api.list_services()
        assert seen == [("/open311/v2/services.json", None)], "fresh: no second request"

        clock.now += 0.2  # past the freshness: asked again, and unchanged
        again = await api.list_services()
        assert seen[-1] == ("/open311/v2/services.json", '"v1"')
        assert [s.service_name for s in again] == [s.service_name for s in first]

        versions["current"] = '"v2"'  # the catalogue is reloaded
        clock.now += 5.1
        [changed] = await api.list_services()
        assert changed.service_name == "Street lamp"
        assert len(seen) == 3


async def test_a_server_without_etags_is_read_again_once_stale() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert "If-None-Match" not in request.headers
        paths.append(request.url.path)
        return httpx.Response(200, json={"service_code": "street_light", "attributes": []})

    clock = Clock()
    api = Open311Client("http://bo", "cd_key", transport=httpx.MockTransport(handler), clock=clock)
    async with api:
        await api.get_service_definition("street_light")
        await api.get_service_definition("street_light")
        clock.now += 60
        await api.get_service_definition("street_light")

    assert paths == ["/open311/v2/services/street_light.json"] * 2


async def test_no_freshness_asks_every_time() -> None:
    count = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        return httpx.Response(200, json=SERVICES)

    api = Open311Client(
        "http://bo", "cd_key", transport=httpx.MockTransport(handler), catalogue_fresh_seconds=0
    )
    async with api:
        await api.list_services()
        await api.list_services()

    assert count == 2


async def test_the_catalogue_is_read_in_the_calls_language_and_kept_apart_per_language() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        locale = request.url.params.get("locale")
        seen.append(locale)
        name = "路灯不亮" if locale == "zh-Hans" else "Street light"
        return httpx.Response(200, json=[{**SERVICES[0], "service_name": name}])

    api = Open311Client("http://bo", "cd_key", transport=httpx.MockTransport(handler))
    async with api:
        [english] = await api.list_services()
        token = catalogue_locale.set("zh-Hans")
        try:
            [chinese] = await api.list_services()
            await api.list_services()
        finally:
            catalogue_locale.reset(token)
        [again] = await api.list_services()

    assert (english.service_name, chinese.service_name, again.service_name) == (
        "Street light",
        "路灯不亮",
        "Street light",
    )
    assert seen == [None, "zh-Hans"], "each language read once, then kept"


def test_the_language_of_an_action_call_is_its_trackers_slot() -> None:
    def call(slots: object) -> dict[str, object]:
        return {"next_action": "action_x", "tracker": {"slots": slots}}

    assert locale_of_call(call({"language": "zh-Hans"})) == "zh-Hans"
    assert locale_of_call(call({"language": "en"})) is None
    assert locale_of_call(call({"language": "fr"})) is None
    assert locale_of_call(call("junk")) is None
    assert locale_of_call([]) is None
