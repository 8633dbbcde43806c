"""Reading the audit log: supervisors their department's part, admins all, agents nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from open311_schema import format_datetime
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.models import AuditEntry, StaffRole, utcnow
from tests.conftest import StaffFactory, StaffLogin, file_request

Client = TestClient[Any, Any]
AUDIT = "/api/v1/staff/audit"


async def _read(client: Client, who: StaffLogin, **query: str) -> list[dict[str, Any]]:
    response = await client.get(AUDIT, params=query, headers=who.headers)
    assert response.status == 200, await response.text()
    entries: list[dict[str, Any]] = (await response.json())["entries"]
    return entries


async def _arrange(client: Client, api_key: str, make_staff: StaffFactory) -> dict[str, Any]:
    light = await file_request(client, api_key)
    graffiti = await file_request(
        client, api_key, service_code="graffiti", **{"attribute[fault]": ""}
    )
    ann = await make_staff("ann", "Street Lighting")
    sue = await make_staff("sue", "Street Lighting", StaffRole.SUPERVISOR)
    bob = await make_staff("bob", "Street Cleaning")
    root = await make_staff("root", "IT", StaffRole.ADMIN)
    for who, reference in ((ann, light), (bob, graffiti)):
        response = await client.post(
            f"/api/v1/staff/tickets/{reference}/status",
            json={"status": "acknowledged"},
            headers=who.headers,
        )
        assert response.status == 200
    response = await client.post(
        f"/api/v1/citizens/telegram:12345/tickets/{light}/withdraw",
        json={},
        headers={"X-API-Key": api_key},
    )
    assert response.status == 200
    return {"light": light, "graffiti": graffiti, "ann": ann, "sue": sue, "bob": bob, "root": root}


async def test_supervisor_reads_own_department_admin_all_agent_nothing(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    s = await _arrange(client, api_key, make_staff)

    entries = await _read(client, s["sue"])
    assert [(e["action"], e["staff_username"], e["service_request_id"]) for e in entries] == [
        ("ticket.withdraw", None, s["light"]),
        ("ticket.status", "ann", s["light"]),
    ]
    assert entries[0]["actor"] == "citizen"
    assert entries[1]["actor"] == "staff"
    assert entries[1]["detail"] == {"from": "new", "to": "acknowledged"}
    assert entries[0]["at"].endswith("Z")

    everything = await _read(client, s["root"])
    actions = [(e["action"], e["service_request_id"]) for e in everything]
    assert ("ticket.status", s["graffiti"]) in actions
    # The supervisor's own read is in the log (and the admin sees it).
    assert ("audit.read", None) in actions

    refused = await client.get(AUDIT, headers=s["ann"].headers)
    assert refused.status == 403
    assert (await client.get(AUDIT)).status == 401

    async with sessionmaker() as session:
        logged = list((await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())
    reads = [e for e in logged if e.action.startswith("audit.read")]
    assert [e.action for e in reads] == ["audit.read", "audit.read", "audit.read.refused"]
    assert reads[0].detail["entries"] == 2


async def test_filters_by_ticket_staff_and_time(
    client: Client, api_key: str, make_staff: StaffFactory
) -> None:
    s = await _arrange(client, api_key, make_staff)
    root = s["root"]

    by_ticket = await _read(client, root, service_request_id=s["graffiti"])
    assert [(e["action"], e["staff_username"]) for e in by_ticket] == [("ticket.status", "bob")]
    by_staff = await _read(client, root, staff="ann")
    assert [e["service_request_id"] for e in by_staff] == [s["light"]]
    assert await _read(client, root, staff="nobody") == []
    assert await _read(client, root, service_request_id="CD-ZZZZZZ") == []
    # Another department's ticket is out of a supervisor's reach even when named.
    assert await _read(client, s["sue"], service_request_id=s["graffiti"]) == []

    later = format_datetime(utcnow() + timedelta(minutes=1))
    earlier = format_datetime(utcnow() - timedelta(minutes=10))
    assert await _read(client, root, since=later) == []
    assert await _read(client, root, until=earlier) == []
    assert len(await _read(client, root, since=earlier, until=later, limit="2")) == 2


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "501"},
        {"limit": "ten"},
        {"since": "yesterday"},
        {"since": "2026-11-30T12:00:00"},  # no offset
        {"until": "2026-13-01T00:00Z"},
        {"since": "2026-11-30T12:00Z", "until": "2026-11-30T11:00Z"},
    ],
)
async def test_bad_filters_are_400(
    client: Client, make_staff: StaffFactory, query: dict[str, str]
) -> None:
    root = await make_staff("root", "IT", StaffRole.ADMIN)
    response = await client.get(AUDIT, params=query, headers=root.headers)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_request"
