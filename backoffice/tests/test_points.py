"""Points for confirmed reports: opt-in, one point once on confirmation, never taken away."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.models import StaffRole
from civicdesk_backoffice.settings import Settings
from tests.conftest import (
    ClientFactory,
    StaffFactory,
    StaffLogin,
    audit_log,
    file_request,
    post_status,
)
from tests.console_helpers import Client, browser, signed_in

CITIZEN = "/api/v1/citizens/telegram:12345"


async def _opt_in(client: Client, api_key: str, reference: str, value: Any = True) -> Any:
    return await client.put(
        f"{CITIZEN}/tickets/{reference}/points",
        json={"opt_in": value},
        headers={"X-API-Key": api_key},
    )


async def _balance(client: Client, api_key: str) -> Any:
    answer = await client.get(f"{CITIZEN}/points", headers={"X-API-Key": api_key})
    assert answer.status == 200
    return await answer.json()


async def _filed_and_opted_in(client: Client, api_key: str, **form: Any) -> str:
    reference = await file_request(client, api_key, **form)
    answer = await _opt_in(client, api_key, reference)
    assert answer.status == 200
    assert await answer.json() == {
        "service_request_id": reference,
        "opt_in": True,
        "points_earned": 0,
    }
    return reference


async def test_a_confirmed_report_earns_one_point_once(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    reference = await _filed_and_opted_in(client, api_key)
    assert (await _balance(client, api_key))["balance"] == 0
    assert (await post_status(client, ann, reference, "acknowledged")).status == 200
    assert (await post_status(client, ann, reference, "resolved")).status == 200
    body = await _balance(client, api_key)
    assert body["balance"] == 1
    assert [(a["points"], a["reason"], a["service_request_id"]) for a in body["awards"]] == [
        (1, "report_confirmed", reference)
    ]
    # Reopened, confirmed again, then rejected: still exactly the one point, never removed.
    assert (await post_status(client, ann, reference, "reopened")).status == 200
    assert (await post_status(client, ann, reference, "in_progress")).status == 200
    assert (await post_status(client, ann, reference, "rejected")).status == 200
    assert (await _balance(client, api_key))["balance"] == 1
    awards = [e for e in await audit_log(sessionmaker) if e.action == "points.award"]
    assert len(awards) == 1
    assert awards[0].detail == {"points": 1, "reason": "report_confirmed", "status": "acknowledged"}


async def test_no_point_without_opt_in_or_for_rejected_duplicate_and_applications(
    client: Client, api_key: str, make_staff: StaffFactory
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    cleo = await make_staff("cleo", "Street Cleaning")
    silent = await file_request(client, api_key)
    rejected = await _filed_and_opted_in(client, api_key)
    original = await file_request(client, api_key)
    duplicate = await _filed_and_opted_in(client, api_key)
    application = await _filed_and_opted_in(
        client,
        api_key,
        service_code="bulky_waste",
        **{"attribute[fault]": None},  # type: ignore[arg-type]
    )
    assert (await post_status(client, ann, silent, "resolved")).status == 200
    assert (await post_status(client, ann, rejected, "rejected")).status == 200
    moved = await post_status(client, ann, duplicate, "duplicate", duplicate_of=original)
    assert moved.status == 200
    assert (await post_status(client, cleo, application, "resolved")).status == 200
    assert (await _balance(client, api_key)) == {
        "identity": "telegram:12345",
        "balance": 0,
        "awards": [],
    }


async def _sign_in_browser(
    aiohttp_client: ClientFactory, settings: Settings, who: StaffLogin
) -> Client:
    staff_browser = await browser(aiohttp_client, settings)
    await signed_in(staff_browser, who)
    return staff_browser


async def test_the_console_confirms_and_shows_the_points_on_the_ticket(
    aiohttp_client: ClientFactory, settings: Settings, make_staff: StaffFactory, api_key: str
) -> None:
    sue = await make_staff("sue", "Street Lighting", StaffRole.SUPERVISOR)
    staff_browser = await _sign_in_browser(aiohttp_client, settings, sue)
    reference = await _filed_and_opted_in(staff_browser, api_key)
    page = await (await staff_browser.get(f"/staff/tickets/{reference}")).text()
    assert "Opted in to points; earned on this report: 0" in page
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    answer = await staff_browser.post(
        f"/staff/tickets/{reference}/status",
        data={"csrf_token": csrf, "status": "in_progress"},
        allow_redirects=False,
    )
    assert answer.status == 303
    page = await (await staff_browser.get(f"/staff/tickets/{reference}")).text()
    assert "Opted in to points; earned on this report: 1" in page
    assert (await _balance(staff_browser, api_key))["balance"] == 1


async def test_points_api_refusals(client: Client, api_key: str) -> None:
    reference = await file_request(client, api_key)
    assert (await client.get(f"{CITIZEN}/points")).status == 403
    bad_identity = await client.get(
        "/api/v1/citizens/nocolon/points", headers={"X-API-Key": api_key}
    )
    assert bad_identity.status == 400
    assert (await _opt_in(client, api_key, reference, "yes")).status == 400
    other = await client.put(
        f"/api/v1/citizens/telegram:999/tickets/{reference}/points",
        json={"opt_in": True},
        headers={"X-API-Key": api_key},
    )
    assert other.status == 404
    assert (await other.json())["error"]["code"] == "not_found"
    # Saying no again is allowed and recorded.
    assert (await (await _opt_in(client, api_key, reference, False)).json())["opt_in"] is False
