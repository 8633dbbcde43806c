"""Citizen follow-ups: withdraw, reopen, rating, handoffs to a person, duplicates named."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.models import StaffRole, Ticket, utcnow
from tests.conftest import StaffFactory, audit_log, file_request, post_status

Client = TestClient[Any, Any]
ME = "telegram:12345"
SOMEONE_ELSE = "wechat:o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
# street_light in tests/data/catalogue.yml
SLA_HOURS = 120


def _key(api_key: str) -> dict[str, str]:
    return {"X-API-Key": api_key}


def _url(reference: str, action: str, identity: str = ME) -> str:
    return f"/api/v1/citizens/{identity}/tickets/{reference}/{action}"


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_withdraw_closes_an_open_ticket_with_the_reason_kept(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    reference = await file_request(client, api_key)
    response = await client.post(
        _url(reference, "withdraw"), json={"reason": "Fixed itself."}, headers=_key(api_key)
    )
    assert response.status == 200, await response.text()
    ticket = (await response.json())["ticket"]
    assert ticket["status"] == "closed"
    assert ticket["open311_status"] == "closed"
    assert ticket["status_notes"] == "Withdrawn by the citizen."
    assert [(c["author"], c["body"]) for c in ticket["comments"]] == [("citizen", "Fixed itself.")]
    # Same shape as GET of the ticket.
    shown = await (await client.get(_url(reference, "")[:-1], headers=_key(api_key))).json()
    assert set(shown["ticket"]) == set(ticket)

    public = await (await client.get(f"/open311/v2/requests/{reference}.json")).json()
    assert public[0]["status"] == "closed"
    # The reason stays between the citizen and staff: Open311 is public.
    assert "Fixed itself" not in str(public)

    # Closed now: withdrawing again is not a move the lifecycle allows.
    again = await client.post(_url(reference, "withdraw"), json={}, headers=_key(api_key))
    assert again.status == 422
    assert (await again.json())["error"]["code"] == "unprocessable"

    entries = await audit_log(sessionmaker)
    assert [(e.action, e.staff_user_id, e.detail.get("to")) for e in entries] == [
        ("ticket.withdraw", None, "closed")
    ]


async def test_withdraw_without_reason_and_from_every_open_status(
    client: Client, api_key: str, make_staff: StaffFactory
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    for path in ((), ("acknowledged",), ("in_progress",), ("resolved", "reopened")):
        reference = await file_request(client, api_key)
        for status in path:
            assert (await post_status(client, ann, reference, status)).status == 200
        response = await client.post(_url(reference, "withdraw"), json={}, headers=_key(api_key))
        assert response.status == 200, path
        assert (await response.json())["ticket"]["comments"] == []
    for path in (("resolved",), ("rejected",)):
        reference = await file_request(client, api_key)
        for status in path:
            assert (await post_status(client, ann, reference, status)).status == 200
        response = await client.post(_url(reference, "withdraw"), json={}, headers=_key(api_key))
        assert response.status == 422, path


async def test_reopen_restarts_the_sla_and_needs_a_reason(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reference = await file_request(client, api_key)
    ann = await make_staff("ann", "Street Lighting")

    refused = await client.post(
        _url(reference, "reopen"), json={"reason": "Still dark."}, headers=_key(api_key)
    )
    assert refused.status == 422  # still new
    assert (await post_status(client, ann, reference, "resolved")).status == 200
    # Pretend it was filed long ago, so the old due date has passed.
    async with sessionmaker.begin() as session:
        await session.execute(update(Ticket).values(expected_at=utcnow() - timedelta(days=3)))

    for bad in ({}, {"reason": ""}, {"reason": "   "}, {"reason": 7}, {"reason": "x" * 1001}):
        response = await client.post(_url(reference, "reopen"), json=bad, headers=_key(api_key))
        assert response.status == 400, bad

    before = utcnow()
    response = await client.post(
        _url(reference, "reopen"), json={"reason": "Still dark."}, headers=_key(api_key)
    )
    assert response.status == 200
    ticket = (await response.json())["ticket"]
    assert ticket["status"] == "reopened"
    assert ticket["overdue"] is False
    due = _parse(ticket["sla_due_at"])
    assert before + timedelta(hours=SLA_HOURS) - timedelta(seconds=5) <= due
    assert due <= utcnow() + timedelta(hours=SLA_HOURS)
    assert [c["body"] for c in ticket["comments"]] == ["Still dark."]

    # Staff see it back in the open queue.
    queue = await client.get("/api/v1/staff/tickets?status=reopened", headers=ann.headers)
    assert [t["service_request_id"] for t in (await queue.json())["tickets"]] == [reference]


async def test_rating_after_resolution_replaces_the_earlier_one(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reference = await file_request(client, api_key)
    ann = await make_staff("ann", "Street Lighting")
    early = await client.post(_url(reference, "rating"), json={"rating": 5}, headers=_key(api_key))
    assert early.status == 422
    assert (await post_status(client, ann, reference, "resolved")).status == 200

    response = await client.post(
        _url(reference, "rating"), json={"rating": 2, "comment": "Slow."}, headers=_key(api_key)
    )
    assert response.status == 200
    assert (await response.json())["ticket"]["rating"] == 2
    assert (await post_status(client, ann, reference, "closed")).status == 200
    response = await client.post(
        _url(reference, "rating"), json={"rating": 4}, headers=_key(api_key)
    )
    ticket = (await response.json())["ticket"]
    assert ticket["rating"] == 4
    assert [c["body"] for c in ticket["comments"]] == ["Slow."]
    staff_view = await client.get(f"/api/v1/staff/tickets/{reference}", headers=ann.headers)
    assert (await staff_view.json())["ticket"]["rating"] == 4

    for bad in (
        {},
        {"rating": 0},
        {"rating": 6},
        {"rating": "5"},
        {"rating": 4.5},
        {"rating": True},
        {"rating": None},
        {"rating": 3, "comment": "x" * 1001},
        {"rating": 3, "comment": 12},
    ):
        response = await client.post(_url(reference, "rating"), json=bad, headers=_key(api_key))
        assert response.status == 400, bad
    ratings = [e.detail for e in await audit_log(sessionmaker) if e.action == "ticket.rating"]
    assert [(d["from"], d["to"]) for d in ratings] == [(None, 2), (2, 4)]


@pytest.mark.parametrize("action", ["withdraw", "reopen", "rating"])
async def test_someone_elses_or_unknown_ticket_is_404(
    client: Client, api_key: str, action: str
) -> None:
    theirs = await file_request(client, api_key, account_id=SOMEONE_ELSE)
    body = {"reason": "x", "rating": 3}
    for reference in (theirs, "CD-ZZZZZZ", "nonsense"):
        response = await client.post(_url(reference, action), json=body, headers=_key(api_key))
        assert response.status == 404, reference
        assert (await response.json())["error"]["code"] == "not_found"
    response = await client.post(
        _url(theirs, action), json=body, headers={"X-API-Key": "cd_" + "z" * 32}
    )
    assert response.status == 403


async def test_handoff_is_queued_for_the_tickets_department_and_answered(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reference = await file_request(client, api_key)
    before = utcnow()
    response = await client.post(
        f"/api/v1/citizens/{ME}/handoffs",
        json={"message": "Can someone call me about the lamp?", "service_request_id": reference},
        headers=_key(api_key),
    )
    assert response.status == 201, await response.text()
    handoff = await response.json()
    assert set(handoff) == {
        "handoff_id",
        "status",
        "department",
        "department_name",
        "expected_response",
        "expected_response_hours",
    }
    assert handoff["status"] == "waiting"
    assert handoff["department"] == "Street Lighting"
    assert handoff["department_name"] == "Street Lighting", "English without a locale"
    assert handoff["expected_response_hours"] == 24
    expected = _parse(handoff["expected_response"])
    assert before + timedelta(hours=24) - timedelta(seconds=5) <= expected
    assert handoff["expected_response"].endswith("Z")

    ann = await make_staff("ann", "Street Lighting")
    bob = await make_staff("bob", "Street Cleaning", StaffRole.SUPERVISOR)
    root = await make_staff("root", "IT", StaffRole.ADMIN)
    queue = await (await client.get("/api/v1/staff/handoffs", headers=ann.headers)).json()
    assert [(h["handoff_id"], h["service_request_id"]) for h in queue["handoffs"]] == [
        (handoff["handoff_id"], reference)
    ]
    assert queue["handoffs"][0]["message"] == "Can someone call me about the lamp?"
    assert queue["handoffs"][0]["identity"] == ME
    assert (await (await client.get("/api/v1/staff/handoffs", headers=bob.headers)).json()) == {
        "handoffs": []
    }
    everything = await (await client.get("/api/v1/staff/handoffs", headers=root.headers)).json()
    assert len(everything["handoffs"]) == 1

    reply_url = f"/api/v1/staff/handoffs/{handoff['handoff_id']}/reply"
    assert (await client.post(reply_url, json={"text": "Hi"}, headers=bob.headers)).status == 404
    for bad in ({}, {"text": ""}, {"text": 5}, {"text": "x" * 4001}):
        assert (await client.post(reply_url, json=bad, headers=ann.headers)).status == 400, bad
    response = await client.post(
        reply_url, json={"text": "We will call you today."}, headers=ann.headers
    )
    assert response.status == 200
    answered = (await response.json())["handoff"]
    assert answered["status"] == "answered"
    assert answered["reply"] == "We will call you today."
    assert answered["answered_by"] == "ann"
    again = await client.post(reply_url, json={"text": "Again"}, headers=ann.headers)
    assert again.status == 409

    waiting = await client.get("/api/v1/staff/handoffs?status=waiting", headers=ann.headers)
    assert (await waiting.json())["handoffs"] == []
    bad_filter = await client.get("/api/v1/staff/handoffs?status=open", headers=ann.headers)
    assert bad_filter.status == 400
    actions = [e.action for e in await audit_log(sessionmaker)]
    assert actions.count("handoff.create") == 1
    assert actions.count("handoff.reply") == 1
    assert "handoff.not_found" in actions


async def test_handoff_without_ticket_goes_to_the_default_department(
    client: Client, api_key: str, make_staff: StaffFactory
) -> None:
    response = await client.post(
        f"/api/v1/citizens/{ME}/handoffs",
        json={"message": "I need to talk to a person."},
        headers=_key(api_key),
    )
    assert response.status == 201
    assert (await response.json())["department"] == "Citizen Services"
    desk = await make_staff("desk", "Citizen Services")
    queue = await (await client.get("/api/v1/staff/handoffs", headers=desk.headers)).json()
    assert [h["service_request_id"] for h in queue["handoffs"]] == [None]


async def test_bad_handoffs_are_refused(client: Client, api_key: str) -> None:
    theirs = await file_request(client, api_key, account_id=SOMEONE_ELSE)
    url = f"/api/v1/citizens/{ME}/handoffs"
    for bad in (
        {},
        {"message": ""},
        {"message": None},
        {"message": ["hi"]},
        {"message": "x" * 4001},
        {"message": "hi\x00"},
        {"message": "hi", "service_request_id": 12},
    ):
        response = await client.post(url, json=bad, headers=_key(api_key))
        assert response.status == 400, bad
    response = await client.post(
        url, json={"message": "hi", "service_request_id": theirs}, headers=_key(api_key)
    )
    assert response.status == 404
    response = await client.post("/api/v1/citizens/nobody/handoffs", json={"message": "hi"})
    assert response.status == 403
    response = await client.post(
        "/api/v1/citizens/nobody/handoffs", json={"message": "hi"}, headers=_key(api_key)
    )
    assert response.status == 400


async def test_duplicate_names_the_original_everywhere(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    original = await file_request(client, api_key, account_id=SOMEONE_ELSE)
    reference = await file_request(client, api_key)
    elsewhere = await file_request(
        client, api_key, service_code="graffiti", **{"attribute[fault]": ""}
    )
    ann = await make_staff("ann", "Street Lighting")

    for extra, code in (
        ({}, 422),
        ({"duplicate_of": reference}, 422),  # itself
        ({"duplicate_of": "CD-ZZZZZZ"}, 422),
        ({"duplicate_of": elsewhere}, 422),  # another department's, out of reach
        ({"duplicate_of": 5}, 400),
    ):
        response = await post_status(client, ann, reference, "duplicate", **extra)
        assert response.status == code, extra
    wrong = await post_status(client, ann, reference, "acknowledged", duplicate_of=original)
    assert wrong.status == 422

    response = await post_status(
        client, ann, reference, "duplicate", duplicate_of=original, note="Same lamp."
    )
    assert response.status == 200, await response.text()
    staff_ticket = (await response.json())["ticket"]
    assert staff_ticket["duplicate_of"] == original
    assert staff_ticket["status_notes"] == f"Duplicate of {original}. Same lamp."

    mine = await client.get(f"/api/v1/citizens/{ME}/tickets/{reference}", headers=_key(api_key))
    assert (await mine.json())["ticket"]["duplicate_of"] == original
    public = await (await client.get(f"/open311/v2/requests/{reference}.json")).json()
    assert public[0]["status"] == "closed"
    assert original in public[0]["status_notes"]
    async with sessionmaker() as session:
        stored = (
            await session.scalars(select(Ticket).where(Ticket.service_request_id == reference))
        ).one()
    assert stored.duplicate_of == original

    # Reopened, it is no longer a duplicate of anything.
    response = await post_status(client, ann, reference, "reopened")
    assert (await response.json())["ticket"]["duplicate_of"] is None


@pytest.mark.parametrize("action", ["withdraw", "reopen", "rating"])
async def test_non_json_bodies_are_refused(client: Client, api_key: str, action: str) -> None:
    reference = await file_request(client, api_key)
    response = await client.post(_url(reference, action), data="x=1", headers=_key(api_key))
    assert response.status == 415
    response = await client.post(
        _url(reference, action),
        data=b"[1,",
        headers={**_key(api_key), "Content-Type": "application/json"},
    )
    assert response.status == 400
