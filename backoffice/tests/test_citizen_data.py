"""A citizen's data on request (export, erase) and the retention of contact details."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice import log_ids
from civicdesk_backoffice.__main__ import main
from civicdesk_backoffice.app import create_app
from civicdesk_backoffice.models import (
    AuditEntry,
    Handoff,
    OutboxMessage,
    StaffRole,
    Ticket,
    utcnow,
)
from civicdesk_backoffice.retention import strip_closed_contacts
from civicdesk_backoffice.settings import RasaSettings, Settings
from tests.conftest import ClientFactory, StaffFactory, audit_log, file_request, post_status

Client = TestClient[Any, Any]
ME = "telegram:12345"
OTHER = "telegram:777"
PERSONAL = ("+49 30 1234567", "citizen@example.org", "Ada", "Lovelace", "device-123", ME)


def _key(api_key: str) -> dict[str, str]:
    return {"X-API-Key": api_key}


async def _arrange(client: Client, api_key: str, make_staff: StaffFactory) -> dict[str, Any]:
    """Two tickets of ME in two departments, one of someone else, a handoff, a push."""
    lamp = await file_request(client, api_key)
    graffiti = await file_request(
        client, api_key, service_code="graffiti", **{"attribute[fault]": None}
    )
    theirs = await file_request(client, api_key, account_id=OTHER, phone="+49 30 7654321")
    handoff = await client.post(
        f"/api/v1/citizens/{ME}/handoffs",
        json={"message": "Please call me about the lamp.", "service_request_id": lamp},
        headers=_key(api_key),
    )
    assert handoff.status == 201, await handoff.text()
    lighting = await make_staff("sam", "Street Lighting", StaffRole.SUPERVISOR)
    # A public note: the change is pushed to ME's chat (an outbox row).
    moved = await post_status(client, lighting, lamp, "acknowledged", note="On our list.")
    assert moved.status == 200, await moved.text()
    comment = await client.post(
        f"/api/v1/staff/tickets/{lamp}/comments",
        json={"body": "Checked the pole.", "visibility": "internal"},
        headers=lighting.headers,
    )
    assert comment.status == 201, await comment.text()
    return {
        "lamp": lamp,
        "graffiti": graffiti,
        "theirs": theirs,
        "admin": await make_staff("root", "Citizen Services", StaffRole.ADMIN),
        "supervisor": lighting,
        "agent": await make_staff("ann", "Street Lighting", StaffRole.AGENT),
    }


async def test_an_admin_exports_everything_held_about_an_identity(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = await _arrange(client, api_key, make_staff)
    answer = await client.get(f"/api/v1/staff/citizens/{ME}/export", headers=world["admin"].headers)
    assert answer.status == 200, await answer.text()
    body = await answer.json()
    assert body["identity"] == ME
    assert body["scope"] == "all"
    by_ref = {ticket["service_request_id"]: ticket for ticket in body["tickets"]}
    assert set(by_ref) == {world["lamp"], world["graffiti"]}
    lamp = by_ref[world["lamp"]]
    assert lamp["citizen"]["phone"] == "+49 30 1234567"
    assert lamp["citizen"]["email"] == "citizen@example.org"
    assert "Checked the pole." in [c["body"] for c in lamp["comments"]]
    assert lamp["media"] == []
    assert [h["message"] for h in body["handoffs"]] == ["Please call me about the lamp."]
    assert [p["service_request_id"] for p in body["chat_pushes"]] == [world["lamp"]]
    actions = {entry["action"] for entry in body["audit"]}
    assert {"ticket.status", "ticket.comment"} <= actions
    assert "+49 30 7654321" not in json.dumps(body)
    # The export is audited per ticket and as a whole, without the identity.
    entries = await audit_log(sessionmaker)
    exported = [e for e in entries if e.action == "citizen.exported"]
    assert len(exported) == 2
    summary = [e for e in entries if e.action == "citizen.export"]
    assert [e.detail["tickets"] for e in summary] == [2]
    assert ME not in json.dumps([e.detail for e in entries if e.action.startswith("citizen.")])


async def test_a_supervisor_exports_only_their_department_and_an_agent_is_refused(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = await _arrange(client, api_key, make_staff)
    mine = await client.get(
        f"/api/v1/staff/citizens/{ME}/export", headers=world["supervisor"].headers
    )
    assert mine.status == 200
    body = await mine.json()
    assert body["scope"] == "department:Street Lighting"
    assert [t["service_request_id"] for t in body["tickets"]] == [world["lamp"]]

    for action, method in (("export", "GET"), ("erase", "POST")):
        refused = await client.request(
            method, f"/api/v1/staff/citizens/{ME}/{action}", headers=world["agent"].headers
        )
        assert refused.status == 403
        assert (await refused.json())["error"]["code"] == "forbidden"
    entries = [e.action for e in await audit_log(sessionmaker)]
    assert "citizen.export.refused" in entries
    assert "citizen.erase.refused" in entries
    unsigned = await client.get(f"/api/v1/staff/citizens/{ME}/export")
    assert unsigned.status == 401
    malformed = await client.get(
        "/api/v1/staff/citizens/not-an-identity/export", headers=world["admin"].headers
    )
    assert malformed.status == 400
    # Nothing was erased by the refusals.
    async with sessionmaker() as session:
        phones = (await session.scalars(select(Ticket.phone).where(Ticket.account_id == ME))).all()
    assert phones == ["+49 30 1234567", "+49 30 1234567"]


async def test_erasing_removes_contact_details_keeps_tickets_and_is_idempotent(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = await _arrange(client, api_key, make_staff)
    url = f"/api/v1/staff/citizens/{ME}/erase"
    first = await client.post(url, headers=world["admin"].headers)
    assert first.status == 200, await first.text()
    erased = (await first.json())["erased"]
    assert sorted(erased["tickets"]) == sorted([world["lamp"], world["graffiti"]])
    assert erased["handoffs"] == 1
    assert erased["pushes_deleted"] == 1

    async with sessionmaker() as session:
        tickets = {t.service_request_id: t for t in (await session.scalars(select(Ticket))).all()}
        handoffs = (await session.scalars(select(Handoff))).all()
        pushes = (await session.scalars(select(OutboxMessage))).all()
    for reference in (world["lamp"], world["graffiti"]):
        ticket = tickets[reference]
        assert (ticket.phone, ticket.email, ticket.first_name, ticket.last_name) == (None,) * 4
        assert (ticket.device_id, ticket.account_id) == (None, None)
        assert ticket.description == "The lamp outside number 12 is off."
    assert tickets[world["lamp"]].status == "acknowledged"
    # Someone else's ticket is untouched.
    assert tickets[world["theirs"]].phone == "+49 30 7654321"
    assert [h.identity for h in handoffs] == ["erased"]
    assert [h.message for h in handoffs] == ["Please call me about the lamp."]
    assert all(push.identity != ME for push in pushes)
    # The citizen's own list no longer has them; the public Open311 view still shows the ticket.
    listed = await client.get(f"/api/v1/citizens/{ME}/tickets", headers=_key(api_key))
    assert (await listed.json())["tickets"] == []
    public = await client.get(f"/open311/v2/requests/{world['lamp']}.json")
    assert public.status == 200
    # Audited per ticket and as a whole; no entry holds what was erased.
    entries = await audit_log(sessionmaker)
    per_ticket = [e for e in entries if e.action == "citizen.erased"]
    assert len(per_ticket) == 2
    assert set(per_ticket[0].detail["fields"]) == {
        "phone",
        "email",
        "first_name",
        "last_name",
        "device_id",
        "account_id",
    }
    details = json.dumps([e.detail for e in entries])
    for personal in PERSONAL:
        assert personal not in details

    again = await client.post(url, headers=world["admin"].headers)
    assert again.status == 200
    assert (await again.json())["erased"] == {
        "tickets": [],
        "handoffs": 0,
        "points": 0,
        "pushes_deleted": 0,
    }
    export = await client.get(f"/api/v1/staff/citizens/{ME}/export", headers=world["admin"].headers)
    assert (await export.json())["tickets"] == []


async def test_a_supervisor_erases_only_in_their_department(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    world = await _arrange(client, api_key, make_staff)
    answer = await client.post(
        f"/api/v1/staff/citizens/{ME}/erase", headers=world["supervisor"].headers
    )
    assert answer.status == 200
    assert (await answer.json())["erased"]["tickets"] == [world["lamp"]]
    async with sessionmaker() as session:
        graffiti = await session.scalar(
            select(Ticket).where(Ticket.service_request_id == world["graffiti"])
        )
    assert graffiti is not None
    assert (graffiti.phone, graffiti.account_id) == ("+49 30 1234567", ME)


async def _close(
    sessionmaker: async_sessionmaker[AsyncSession], reference: str, days_ago: float
) -> None:
    async with sessionmaker.begin() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.service_request_id == reference))
        assert ticket is not None
        ticket.status = "closed"
        ticket.closed_at = utcnow() - timedelta(days=days_ago)
        ticket.updated_at = ticket.closed_at


async def test_retention_strips_contact_details_of_long_closed_tickets_only(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    old = await file_request(client, api_key)
    recent = await file_request(client, api_key)
    still_open = await file_request(client, api_key)
    await _close(sessionmaker, old, days_ago=40)
    await _close(sessionmaker, recent, days_ago=10)
    async with sessionmaker.begin() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.service_request_id == still_open))
        assert ticket is not None
        ticket.updated_at = utcnow() - timedelta(days=400)

    result = await strip_closed_contacts(sessionmaker, 30)
    assert result.tickets == 1
    async with sessionmaker() as session:
        rows = {t.service_request_id: t for t in (await session.scalars(select(Ticket))).all()}
        entries = list(
            (
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == "ticket.contact_retention")
                )
            ).all()
        )
    assert (rows[old].phone, rows[old].email, rows[old].last_name) == (None, None, None)
    # The citizen keeps the link to their ticket; only erasure on request removes it.
    assert rows[old].account_id == ME
    assert rows[old].description == "The lamp outside number 12 is off."
    assert rows[recent].phone == "+49 30 1234567"
    assert rows[still_open].phone == "+49 30 1234567"
    assert [(e.ticket_id, e.detail["days"]) for e in entries] == [(rows[old].id, 30)]
    assert "phone" in entries[0].detail["fields"]
    assert "+49 30 1234567" not in json.dumps(entries[0].detail)
    # A second run finds nothing more to do.
    assert (await strip_closed_contacts(sessionmaker, 30)).tickets == 0


async def test_the_retention_command_is_off_until_configured(
    client: Client,
    api_key: str,
    db_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    old = await file_request(client, api_key)
    await _close(sessionmaker, old, days_ago=5)
    monkeypatch.setenv("BACKOFFICE__DB__URL", db_url)
    monkeypatch.delenv("BACKOFFICE__RETENTION__CONTACT_DAYS", raising=False)
    monkeypatch.chdir(Path(__file__).parent)
    capsys.readouterr()
    off = await asyncio.to_thread(main, ["retention", "run"])
    assert off == 1
    assert "retention is off" in capsys.readouterr().err
    monkeypatch.setenv("BACKOFFICE__RETENTION__CONTACT_DAYS", "3")
    on = await asyncio.to_thread(main, ["retention", "run"])
    out = capsys.readouterr().out
    assert on == 0
    assert "1 ticket(s)" in out
    async with sessionmaker() as session:
        phone = await session.scalar(select(Ticket.phone).where(Ticket.service_request_id == old))
    assert phone is None


async def test_erasure_is_logged_by_hashed_identity_only(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = await _arrange(client, api_key, make_staff)
    log_ids.configure("test-key")
    with caplog.at_level(logging.DEBUG, logger="civicdesk_backoffice"):
        answer = await client.post(
            f"/api/v1/staff/citizens/{ME}/erase", headers=world["admin"].headers
        )
    assert answer.status == 200
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert log_ids.sender_tag(ME) in text
    assert world["lamp"] in text
    for personal in PERSONAL:
        assert personal not in text


@dataclass
class FakeBotSide:
    """Rasa's erase route as bot/erasure.py answers it; records who was erased."""

    token: str
    erased: list[str] = field(default_factory=list)
    url: str = ""

    async def erase(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": {"code": "unauthorized"}}, status=401)
        self.erased.append(request.match_info["sender_id"])
        first = self.erased.count(request.match_info["sender_id"]) == 1
        outbox = {"submissions": 1 if first else 0, "handoffs": 0, "ticket_moves": 0}
        return web.json_response({"erased": {"events": 12 if first else 0, "outbox": outbox}})

    async def trigger_intent(self, request: web.Request) -> web.Response:
        return web.json_response({"tracker": {}})


BOT_TOKEN = "rasa-auth-token"


@pytest.fixture
async def bot_side(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> FakeBotSide:
    fake = FakeBotSide(BOT_TOKEN)
    app = web.Application()
    app.router.add_post("/civicdesk/conversations/{sender_id}/erase", fake.erase)
    app.router.add_post("/conversations/{sender_id}/trigger_intent", fake.trigger_intent)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


async def _with_rasa(
    aiohttp_client: ClientFactory, settings: Settings, url: str, token: str
) -> Client:
    rasa = RasaSettings(url=url, token=SecretStr(token), timeout_seconds=5, poll_seconds=0.05)
    return await aiohttp_client(create_app(settings.model_copy(update={"rasa": rasa})))


async def test_an_admins_erasure_reaches_the_bot_side_and_is_audited(
    aiohttp_client: ClientFactory,
    settings: Settings,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    bot_side: FakeBotSide,
) -> None:
    client = await _with_rasa(aiohttp_client, settings, bot_side.url, BOT_TOKEN)
    world = await _arrange(client, api_key, make_staff)
    url = f"/api/v1/staff/citizens/{ME}/erase"
    first = await client.post(url, headers=world["admin"].headers)
    assert first.status == 200, await first.text()
    assert (await first.json())["bot"] == {
        "status": "erased",
        "events": 12,
        "outbox": {"submissions": 1, "handoffs": 0, "ticket_moves": 0},
    }
    again = await client.post(url, headers=world["admin"].headers)
    assert (await again.json())["bot"]["events"] == 0
    # Rasa's sender id is the id part of the identity.
    assert bot_side.erased == ["12345", "12345"]
    summaries = [e for e in await audit_log(sessionmaker) if e.action == "citizen.erase"]
    assert [e.detail["bot"]["status"] for e in summaries] == ["erased", "erased"]
    assert summaries[0].detail["bot"]["outbox"]["submissions"] == 1
    assert "12345" not in json.dumps([e.detail for e in summaries])


async def test_the_answer_says_when_the_bot_side_was_not_erased(
    aiohttp_client: ClientFactory,
    settings: Settings,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    bot_side: FakeBotSide,
) -> None:
    wrong = await _with_rasa(aiohttp_client, settings, bot_side.url, "not-the-erasure-token")
    world = await _arrange(wrong, api_key, make_staff)
    url = f"/api/v1/staff/citizens/{ME}/erase"
    refused = await wrong.post(url, headers=world["admin"].headers)
    assert refused.status == 200
    body = await refused.json()
    assert body["bot"] == {"status": "refused", "reason": "HTTP 401 unauthorized"}
    # The back office's own erasure went ahead all the same.
    assert sorted(body["erased"]["tickets"]) == sorted([world["lamp"], world["graffiti"]])

    supervised = await wrong.post(url, headers=world["supervisor"].headers)
    assert (await supervised.json())["bot"]["status"] == "skipped"

    gone = await _with_rasa(aiohttp_client, settings, "http://127.0.0.1:9", BOT_TOKEN)
    down = await gone.post(url, headers=world["admin"].headers)
    assert (await down.json())["bot"]["status"] == "unreachable"

    plain = await aiohttp_client(create_app(settings))
    unset = await plain.post(url, headers=world["admin"].headers)
    assert (await unset.json())["bot"]["status"] == "not_configured"
    assert bot_side.erased == []
    statuses = [
        e.detail["bot"]["status"]
        for e in await audit_log(sessionmaker)
        if e.action == "citizen.erase"
    ]
    assert statuses == ["refused", "skipped", "unreachable", "not_configured"]
