"""Client API: a citizen's own tickets by channel identity, and their comments."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from civicdesk_backoffice.models import StaffRole
from tests.conftest import StaffFactory, file_request

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
