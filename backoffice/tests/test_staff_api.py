"""Staff API: Basic sign-in, department scoping, personal fields and the audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import encode_basic_auth
from aiohttp.test_utils import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.models import AuditEntry, StaffRole
from tests.conftest import StaffFactory, file_request

Client = TestClient[Any, Any]


async def test_listing_without_credentials_is_401_with_a_challenge(client: Client) -> None:
    response = await client.get("/api/v1/staff/tickets")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    body = await response.json()
    assert body["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "header", ["Bearer abc", "Basic !!!not-base64", "Basic " + "dXNlcjpwYXNz" + "=" * 3]
)
async def test_malformed_authorization_is_401(client: Client, header: str) -> None:
    response = await client.get("/api/v1/staff/tickets", headers={"Authorization": header})
    assert response.status == 401


async def test_wrong_password_or_unknown_user_is_401(
    client: Client, make_staff: StaffFactory
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    for login, password in (("ann", "wrong-password-1"), ("nobody", ann.password)):
        headers = {"Authorization": encode_basic_auth(login, password)}
        response = await client.get("/api/v1/staff/tickets", headers=headers)
        assert response.status == 401
        assert (await response.json())["error"]["message"] == "Wrong username or password."


async def test_agent_lists_only_their_department_with_personal_fields(
    client: Client, api_key: str, make_staff: StaffFactory
) -> None:
    light = await file_request(client, api_key)
    await file_request(client, api_key, service_code="graffiti", **{"attribute[fault]": ""})
    ann = await make_staff("ann", "Street Lighting", StaffRole.AGENT)

    response = await client.get("/api/v1/staff/tickets", headers=ann.headers)
    assert response.status == 200
    tickets = (await response.json())["tickets"]
    assert [t["service_request_id"] for t in tickets] == [light]
    assert tickets[0]["citizen"]["email"] == "citizen@example.org"
    assert tickets[0]["citizen"]["account_id"] == "telegram:12345"
    assert tickets[0]["status"] == "new"


async def test_admin_lists_every_department(
    client: Client, api_key: str, make_staff: StaffFactory
) -> None:
    light = await file_request(client, api_key)
    graffiti = await file_request(
        client, api_key, service_code="graffiti", **{"attribute[fault]": ""}
    )
    root = await make_staff("root", "Customer Services", StaffRole.ADMIN)
    response = await client.get("/api/v1/staff/tickets", headers=root.headers)
    assert response.status == 200
    assert {t["service_request_id"] for t in (await response.json())["tickets"]} == {
        light,
        graffiti,
    }


async def test_listing_limit_is_validated(client: Client, make_staff: StaffFactory) -> None:
    ann = await make_staff("ann", "Street Lighting")
    for bad in ("0", "501", "-1", "ten", "1e3", "٣"):
        response = await client.get(f"/api/v1/staff/tickets?limit={bad}", headers=ann.headers)
        assert response.status == 400, bad
        assert "limit must be" in (await response.json())["error"]["message"]
    response = await client.get("/api/v1/staff/tickets?limit=500", headers=ann.headers)
    assert response.status == 200


async def test_other_departments_ticket_is_404_and_audited(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    light = await file_request(client, api_key)
    bob = await make_staff("bob", "Street Cleaning")
    ann = await make_staff("ann", "Street Lighting")

    response = await client.get(f"/api/v1/staff/tickets/{light}", headers=bob.headers)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"

    response = await client.get(f"/api/v1/staff/tickets/{light}", headers=ann.headers)
    assert response.status == 200
    assert (await response.json())["ticket"]["citizen"]["last_name"] == "Lovelace"

    async with sessionmaker() as session:
        actions = [
            entry.action
            for entry in await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert actions == ["ticket.not_found", "ticket.read"]


async def test_audit_log_is_append_only_in_the_database(
    client: Client,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    assert (await client.get("/api/v1/staff/tickets", headers=ann.headers)).status == 200
    for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with sessionmaker.begin() as session:
                await session.execute(text(statement))
    async with sessionmaker() as session:
        assert [e.action for e in await session.scalars(select(AuditEntry))] == ["tickets.list"]
