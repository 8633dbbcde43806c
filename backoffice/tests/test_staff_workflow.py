"""Staff changes: lifecycle transitions, assignment, comments, SLA, roles and the audit log."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.models import StaffRole, Ticket, TicketStatus, utcnow
from civicdesk_backoffice.workflow import TRANSITIONS
from tests.conftest import StaffFactory, audit_log, file_request, post_status

Client = TestClient[Any, Any]


def _url(reference: str, action: str = "") -> str:
    return f"/api/v1/staff/tickets/{reference}" + (f"/{action}" if action else "")


async def test_lifecycle_happy_path_and_open311_status(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reference = await file_request(client, api_key)
    ann = await make_staff("ann", "Street Lighting")
    for status in ("acknowledged", "in_progress"):
        response = await post_status(client, ann, reference, status)
        assert response.status == 200, await response.text()
        assert (await response.json())["ticket"]["status"] == status
    response = await post_status(client, ann, reference, "resolved", note="Lamp replaced.")
    assert response.status == 200
    public = await (await client.get(f"/open311/v2/requests/{reference}.json")).json()
    assert public[0]["status"] == "closed"
    assert public[0]["status_notes"] == "Lamp replaced."

    assert (await post_status(client, ann, reference, "reopened")).status == 200
    public = await (await client.get(f"/open311/v2/requests/{reference}.json")).json()
    assert public[0]["status"] == "open"

    changes = [e.detail for e in await audit_log(sessionmaker) if e.action == "ticket.status"]
    assert changes == [
        {"from": "new", "to": "acknowledged"},
        {"from": "acknowledged", "to": "in_progress"},
        {"from": "in_progress", "to": "resolved"},
        {"from": "resolved", "to": "reopened"},
    ]


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ((), "closed"),
        ((), "reopened"),
        (("resolved",), "in_progress"),
        (("rejected",), "closed"),
        (("duplicate",), "resolved"),
        (("resolved", "closed"), "resolved"),
    ],
)
async def test_disallowed_transitions_are_409(
    client: Client, api_key: str, make_staff: StaffFactory, path: tuple[str, ...], refused: str
) -> None:
    reference = await file_request(client, api_key)
    original = await file_request(client, api_key)
    ann = await make_staff("ann", "Street Lighting")
    for status in path:
        extra = {"duplicate_of": original} if status == "duplicate" else {}
        assert (await post_status(client, ann, reference, status, **extra)).status == 200
    response = await post_status(client, ann, reference, refused)
    assert response.status == 409
    error = (await response.json())["error"]
    assert error["code"] == "conflict"
    assert f"cannot become {refused}" in error["message"]


def test_every_status_has_transitions_and_nothing_goes_back_to_new() -> None:
    assert set(TRANSITIONS) == set(TicketStatus)
    assert all(TicketStatus.NEW not in targets for targets in TRANSITIONS.values())
    assert all(status not in TRANSITIONS[status] for status in TicketStatus)


@pytest.mark.parametrize(
    "body",
    [{"status": "fixed"}, {"status": 3}, {}, {"status": "resolved", "note": "x" * 1001}],
)
async def test_bad_status_bodies_are_400(
    client: Client, api_key: str, make_staff: StaffFactory, body: dict[str, Any]
) -> None:
    reference = await file_request(client, api_key)
    ann = await make_staff("ann", "Street Lighting")
    response = await client.post(_url(reference, "status"), json=body, headers=ann.headers)
    assert response.status == 400


async def test_non_json_bodies_are_refused(
    client: Client, api_key: str, make_staff: StaffFactory
) -> None:
    reference = await file_request(client, api_key)
    ann = await make_staff("ann", "Street Lighting")
    response = await client.post(_url(reference, "status"), data="status=x", headers=ann.headers)
    assert response.status == 415
    response = await client.post(
        _url(reference, "status"),
        data=b"[1, 2",
        headers={**ann.headers, "Content-Type": "application/json"},
    )
    assert response.status == 400


async def test_other_department_cannot_see_or_change_and_is_audited(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reference = await file_request(client, api_key)
    bob = await make_staff("bob", "Street Cleaning", StaffRole.SUPERVISOR)
    for action, body in (
        ("status", {"status": "acknowledged"}),
        ("comments", {"body": "hello"}),
        ("assignment", {"department": "Street Cleaning"}),
    ):
        response = await client.post(_url(reference, action), json=body, headers=bob.headers)
        assert response.status == 404, action
    async with sessionmaker() as session:
        ticket = (await session.scalars(select(Ticket))).one()
    assert ticket.status == "new"
    assert ticket.department == "Street Lighting"
    assert [e.action for e in await audit_log(sessionmaker)] == ["ticket.not_found"] * 3


async def test_supervisor_assigns_within_department_agent_may_not(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reference = await file_request(client, api_key)
    ann = await make_staff("ann", "Street Lighting", StaffRole.AGENT)
    sue = await make_staff("sue", "Street Lighting", StaffRole.SUPERVISOR)
    bob = await make_staff("bob", "Street Cleaning", StaffRole.AGENT)

    response = await client.post(
        _url(reference, "assignment"), json={"assignee": "ann"}, headers=ann.headers
    )
    assert response.status == 403

    response = await client.post(
        _url(reference, "assignment"), json={"assignee": "bob"}, headers=sue.headers
    )
    assert response.status == 400
    assert "no staff member 'bob'" in (await response.json())["error"]["message"]

    response = await client.post(
        _url(reference, "assignment"), json={"assignee": "ann"}, headers=sue.headers
    )
    assert response.status == 200
    assert (await response.json())["ticket"]["assignee"] == "ann"

    mine = await client.get("/api/v1/staff/tickets?assigned=me", headers=ann.headers)
    assert [t["service_request_id"] for t in (await mine.json())["tickets"]] == [reference]
    theirs = await client.get("/api/v1/staff/tickets?assigned=me", headers=sue.headers)
    assert (await theirs.json())["tickets"] == []

    # Transfer to another department: it leaves the supervisor's reach.
    response = await client.post(
        _url(reference, "assignment"),
        json={"department": "Street Cleaning", "assignee": "bob"},
        headers=sue.headers,
    )
    assert response.status == 200
    assert (await client.get(_url(reference), headers=sue.headers)).status == 404
    bob_view = await client.get(_url(reference), headers=bob.headers)
    assert bob_view.status == 200
    assert (await bob_view.json())["ticket"]["assignee"] == "bob"
    assignments = [e for e in await audit_log(sessionmaker) if e.action == "ticket.assign"]
    assert len(assignments) == 2
    assert assignments[1].detail["to"]["department"] == "Street Cleaning"


async def test_admin_works_across_departments(
    client: Client, api_key: str, make_staff: StaffFactory
) -> None:
    reference = await file_request(client, api_key)
    root = await make_staff("root", "Customer Services", StaffRole.ADMIN)
    await make_staff("bob", "Street Cleaning")
    assert (await post_status(client, root, reference, "acknowledged")).status == 200
    response = await client.post(
        _url(reference, "assignment"),
        json={"department": "Street Cleaning", "assignee": "bob"},
        headers=root.headers,
    )
    assert response.status == 200
    ticket = (await response.json())["ticket"]
    assert ticket["department"] == "Street Cleaning"
    assert ticket["assignee"] == "bob"


async def test_comments_internal_and_public(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reference = await file_request(client, api_key)
    ann = await make_staff("ann", "Street Lighting")
    response = await client.post(
        _url(reference, "comments"), json={"body": "Caller sounded upset."}, headers=ann.headers
    )
    assert response.status == 201
    assert (await response.json())["comment"]["visibility"] == "internal"
    response = await client.post(
        _url(reference, "comments"),
        json={"body": "A crew is booked for Monday.", "visibility": "public"},
        headers=ann.headers,
    )
    assert response.status == 201

    for bad in (
        {"body": ""},
        {"body": "x" * 4001},
        {"body": "a\x00"},
        {"body": "ok", "visibility": "all"},
    ):
        response = await client.post(_url(reference, "comments"), json=bad, headers=ann.headers)
        assert response.status == 400, bad

    view = (await (await client.get(_url(reference), headers=ann.headers)).json())["ticket"]
    assert [(c["visibility"], c["staff_username"]) for c in view["comments"]] == [
        ("internal", "ann"),
        ("public", "ann"),
    ]
    actions = [e.action for e in await audit_log(sessionmaker)]
    assert actions == ["ticket.comment", "ticket.comment", "ticket.read"]


async def test_sla_due_date_and_overdue_flag_and_filter(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    late = await file_request(client, api_key)
    on_time = await file_request(client, api_key)
    late_but_resolved = await file_request(client, api_key)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Ticket)
            .where(Ticket.service_request_id.in_([late, late_but_resolved]))
            .values(expected_at=utcnow() - timedelta(hours=1))
        )
        await session.execute(
            update(Ticket)
            .where(Ticket.service_request_id == late_but_resolved)
            .values(status="resolved")
        )
    ann = await make_staff("ann", "Street Lighting")
    listing = await (await client.get("/api/v1/staff/tickets", headers=ann.headers)).json()
    flags = {t["service_request_id"]: t["overdue"] for t in listing["tickets"]}
    assert flags == {late: True, on_time: False, late_but_resolved: False}
    assert all(t["sla_due_at"].endswith("Z") for t in listing["tickets"])

    overdue = await client.get("/api/v1/staff/tickets?overdue=true", headers=ann.headers)
    assert [t["service_request_id"] for t in (await overdue.json())["tickets"]] == [late]
    fine = await client.get("/api/v1/staff/tickets?overdue=false", headers=ann.headers)
    assert {t["service_request_id"] for t in (await fine.json())["tickets"]} == {
        on_time,
        late_but_resolved,
    }
    resolved = await client.get("/api/v1/staff/tickets?status=resolved", headers=ann.headers)
    assert [t["service_request_id"] for t in (await resolved.json())["tickets"]] == [
        late_but_resolved
    ]
    for bad in ("overdue=maybe", "status=fixed", "assigned=bob"):
        response = await client.get(f"/api/v1/staff/tickets?{bad}", headers=ann.headers)
        assert response.status == 400, bad


async def test_catalogue_reload_is_for_admins_only(
    client: Client, make_staff: StaffFactory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    sue = await make_staff("sue", "Street Lighting", StaffRole.SUPERVISOR)
    root = await make_staff("root", "Customer Services", StaffRole.ADMIN)
    response = await client.post("/api/v1/staff/catalogue/reload", headers=sue.headers)
    assert response.status == 403
    response = await client.post("/api/v1/staff/catalogue/reload", headers=root.headers)
    assert response.status == 200
    assert "catalogue version 1" in (await response.json())["catalogue"]
    actions = [e.action for e in await audit_log(sessionmaker)]
    assert actions == ["catalogue.reload.refused", "catalogue.reload"]


async def test_concurrent_status_changes_never_both_win(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    reference = await file_request(client, api_key)
    ann = await make_staff("ann", "Street Lighting")
    assert (await post_status(client, ann, reference, "in_progress")).status == 200
    first, second = await asyncio.gather(
        post_status(client, ann, reference, "resolved"),
        post_status(client, ann, reference, "rejected"),
    )
    statuses = sorted([first.status, second.status])
    # PostgreSQL locks the row, so the loser sees the new status (409). SQLite serialises
    # writers; should it refuse a stale one as busy, that is a 503 to retry. Never two
    # winners, never a 500.
    assert statuses[0] == 200
    assert statuses[1] in (409, 503)
    winner = "resolved" if first.status == 200 else "rejected"
    async with sessionmaker() as session:
        ticket = (await session.scalars(select(Ticket))).one()
    assert ticket.status == winner
    changes = [e.detail for e in await audit_log(sessionmaker) if e.action == "ticket.status"]
    assert changes[-1] == {"from": "in_progress", "to": winner}
    assert len(changes) == 2
