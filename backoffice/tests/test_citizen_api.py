"""Client API: a citizen's own tickets by channel identity, their comments and photos."""

from __future__ import annotations

import io
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.models import StaffRole
from tests.conftest import StaffFactory, audit_log, file_request

Client = TestClient[Any, Any]
ME = "telegram:12345"
SOMEONE_ELSE = "wechat:o6_bmjrPTlm6_2sgVt7hMZOPfL2M"


def _key(api_key: str) -> dict[str, str]:
    return {"X-API-Key": api_key}


async def test_lists_only_the_citizens_own_tickets(client: Client, api_key: str) -> None:
    mine = [await file_request(client, api_key) for _ in range(2)]
    await file_request(client, api_key, account_id=SOMEONE_ELSE)
    await file_request(client, api_key, account_id="")

    response = await client.get(f"/api/v1/citizens/{ME}/tickets", headers=_key(api_key))
    assert response.status == 200
    tickets = (await response.json())["tickets"]
    assert [t["service_request_id"] for t in tickets] == list(reversed(mine))
    first = tickets[0]
    assert first["status"] == "new"
    assert first["open311_status"] == "open"
    assert first["service_name"] == "Street light not working"
    assert first["overdue"] is False
    assert first["sla_due_at"].endswith("Z")
    # The bot already knows who the citizen is; the answer repeats no contact details.
    assert "citizen@example.org" not in await response.text()

    response = await client.get(f"/api/v1/citizens/{ME}/tickets?limit=1", headers=_key(api_key))
    assert len((await response.json())["tickets"]) == 1
    response = await client.get("/api/v1/citizens/telegram:999/tickets", headers=_key(api_key))
    assert (await response.json())["tickets"] == []


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "cd_" + "z" * 32}, {"X-API-Key": "nope"}])
async def test_needs_a_valid_api_key(client: Client, headers: dict[str, str]) -> None:
    response = await client.get(f"/api/v1/citizens/{ME}/tickets", headers=headers)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    "identity", ["12345", "Telegram:1", "telegram:", "telegram:a b", "x" * 40 + ":1"]
)
async def test_malformed_identity_is_400(client: Client, api_key: str, identity: str) -> None:
    response = await client.get(f"/api/v1/citizens/{identity}/tickets", headers=_key(api_key))
    assert response.status == 400
    assert "channel:id" in (await response.json())["error"]["message"]


async def test_another_citizens_ticket_is_404(client: Client, api_key: str) -> None:
    theirs = await file_request(client, api_key, account_id=SOMEONE_ELSE)
    for method, suffix, body in (
        ("GET", "", None),
        ("POST", "/comments", {"body": "Is it fixed?"}),
    ):
        response = await client.request(
            method,
            f"/api/v1/citizens/{ME}/tickets/{theirs}{suffix}",
            json=body,
            headers=_key(api_key),
        )
        assert response.status == 404, (method, suffix)
    response = await client.get(
        f"/api/v1/citizens/{SOMEONE_ELSE}/tickets/{theirs}", headers=_key(api_key)
    )
    assert response.status == 200


async def test_citizen_adds_information_and_sees_only_public_notes(
    client: Client, api_key: str, make_staff: StaffFactory
) -> None:
    reference = await file_request(client, api_key)
    url = f"/api/v1/citizens/{ME}/tickets/{reference}"
    response = await client.post(
        f"{url}/comments",
        json={"body": "It is the second lamp from the corner."},
        headers=_key(api_key),
    )
    assert response.status == 201
    assert (await response.json())["comment"]["author"] == "citizen"
    for bad in ({"body": ""}, {"body": None}, {"body": 5}, {"text": "hi"}):
        response = await client.post(f"{url}/comments", json=bad, headers=_key(api_key))
        assert response.status == 400, bad

    ann = await make_staff("ann", "Street Lighting", StaffRole.AGENT)
    staff_url = f"/api/v1/staff/tickets/{reference}/comments"
    await client.post(staff_url, json={"body": "Internal: check the cable."}, headers=ann.headers)
    await client.post(
        staff_url,
        json={"body": "We will fix it this week.", "visibility": "public"},
        headers=ann.headers,
    )

    view = (await (await client.get(url, headers=_key(api_key))).json())["ticket"]
    assert [(c["author"], c["body"]) for c in view["comments"]] == [
        ("citizen", "It is the second lamp from the corner."),
        ("staff", "We will fix it this week."),
    ]
    text = str(view)
    assert "Internal" not in text
    assert "ann" not in text

    # Staff see the citizen's comment too.
    staff_view = await (
        await client.get(f"/api/v1/staff/tickets/{reference}", headers=ann.headers)
    ).json()
    assert [c["author"] for c in staff_view["ticket"]["comments"]] == ["citizen", "staff", "staff"]


def _photo_form() -> FormData:
    image = Image.new("RGB", (32, 24), (20, 120, 200))
    out = io.BytesIO()
    image.save(out, format="PNG")
    form = FormData()
    form.add_field("file", out.getvalue(), filename="p.png", content_type="image/png")
    return form


async def _upload_photo(client: Client, api_key: str) -> str:
    response = await client.post("/api/v1/media", data=_photo_form(), headers=_key(api_key))
    assert response.status == 201
    media_id: str = (await response.json())["media_id"]
    return media_id


async def test_citizen_adds_a_photo_to_their_ticket_and_staff_see_it(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reference = await file_request(client, api_key)
    url = f"/api/v1/citizens/{ME}/tickets/{reference}/comments"
    first, second = await _upload_photo(client, api_key), await _upload_photo(client, api_key)

    response = await client.post(url, json={"media_id": first}, headers=_key(api_key))
    assert response.status == 201, await response.text()
    answer = await response.json()
    assert answer["comment"] is None
    assert answer["media"]["media_id"] == first
    assert answer["media"]["media_url"].endswith(f"/media/{first}.png")
    response = await client.post(
        url, json={"media_id": second, "body": "From the other side."}, headers=_key(api_key)
    )
    assert response.status == 201
    assert (await response.json())["comment"]["body"] == "From the other side."
    # A retry of the same photo (its reply was lost) changes nothing.
    response = await client.post(url, json={"media_id": first}, headers=_key(api_key))
    assert response.status == 201

    view = await (
        await client.get(f"/api/v1/citizens/{ME}/tickets/{reference}", headers=_key(api_key))
    ).json()
    assert [m["media_id"] for m in view["ticket"]["media"]] == [first, second]
    ann = await make_staff("ann", "Street Lighting", StaffRole.AGENT)
    staff_view = await (
        await client.get(f"/api/v1/staff/tickets/{reference}", headers=ann.headers)
    ).json()
    assert {m["media_id"] for m in staff_view["ticket"]["media"]} == {first, second}
    assert [c["body"] for c in staff_view["ticket"]["comments"]] == ["From the other side."]

    entries = [e for e in await audit_log(sessionmaker) if e.action == "ticket.comment"]
    assert [e.detail["media_id"] for e in entries] == [first, second, first]
    assert all(e.staff_user_id is None and e.detail["api_key_id"] for e in entries)


async def test_a_photo_must_exist_and_not_be_on_another_ticket(
    client: Client, api_key: str
) -> None:
    mine = await file_request(client, api_key)
    other = await file_request(client, api_key)
    taken = await _upload_photo(client, api_key)
    url = f"/api/v1/citizens/{ME}/tickets"
    response = await client.post(
        f"{url}/{other}/comments", json={"media_id": taken}, headers=_key(api_key)
    )
    assert response.status == 201

    for media_id in (taken, "A" * 22):
        response = await client.post(
            f"{url}/{mine}/comments",
            json={"media_id": media_id, "body": "Look."},
            headers=_key(api_key),
        )
        assert response.status == 422, media_id
        assert (await response.json())["error"]["message"]
    for bad in ({"media_id": 5}, {"media_id": ""}, {"media_id": "../x"}, {"media_id": None}):
        response = await client.post(f"{url}/{mine}/comments", json=bad, headers=_key(api_key))
        assert response.status == 400, bad
    # Nothing of a refused request was kept.
    view = await (await client.get(f"{url}/{mine}", headers=_key(api_key))).json()
    assert view["ticket"]["media"] == []
    assert view["ticket"]["comments"] == []


async def test_a_photo_on_another_citizens_ticket_is_404(client: Client, api_key: str) -> None:
    theirs = await file_request(client, api_key, account_id=SOMEONE_ELSE)
    photo = await _upload_photo(client, api_key)
    response = await client.post(
        f"/api/v1/citizens/{ME}/tickets/{theirs}/comments",
        json={"media_id": photo},
        headers=_key(api_key),
    )
    assert response.status == 404
    view = await (
        await client.get(f"/api/v1/citizens/{SOMEONE_ELSE}/tickets/{theirs}", headers=_key(api_key))
    ).json()
    assert view["ticket"]["media"] == []
