"""What a citizen's API call must never do, whatever its body: change a filed ticket's
service, owner, department, assignee or description, set its status to anything but what
the call itself means (withdraw closes, reopen reopens), or read or touch another citizen's
ticket. Property tests on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.models import Handoff, Ticket, TicketComment, TicketStatus
from tests.conftest import file_request
from tests.fuzz.naughty import LOOKALIKE, NAUGHTY

Client = TestClient[Any, Any]
OWNER = "telegram:111"
DESCRIPTION = "The lamp outside number 12"  # street_light_form's, on the owner's ticket
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
PROTECTED = [
    "status",
    "service_code",
    "service_name",
    "department",
    "assignee",
    "assignee_id",
    "account_id",
    "identity",
    "service_request_id",
    "duplicate_of",
    "description",
    "email",
    "expected_datetime",
    "attributes",
]
ORDINARY = ["body", "comment", "reason", "rating", "message", "opt_in", "media_id"]
values = (
    st.sampled_from([s.value for s in TicketStatus])
    | st.sampled_from(["other_problem", "pothole", "Parks", "telegram:999", "CD-AAAAAA"])
    | st.sampled_from(NAUGHTY)
    | st.integers(-1, 7)
    | st.booleans()
    | st.none()
    | st.lists(st.text(max_size=5), max_size=3)
)
bodies = st.dictionaries(st.sampled_from(PROTECTED + ORDINARY), values, max_size=8)
# (method, path under the ticket or the citizen, status the call itself may leave).
CALLS = {
    "comments": ("POST", "/tickets/{ref}/comments", None),
    "rating": ("POST", "/tickets/{ref}/rating", None),
    "points": ("PUT", "/tickets/{ref}/points", None),
    "withdraw": ("POST", "/tickets/{ref}/withdraw", TicketStatus.CLOSED.value),
    "reopen": ("POST", "/tickets/{ref}/reopen", TicketStatus.REOPENED.value),
    "handoffs": ("POST", "/handoffs", None),
}
# Identities a confused or hostile client might try for the owner's tickets.
near_misses = [
    OWNER.upper(),
    " " + OWNER,
    OWNER + " ",
    OWNER + "\u200b",
    OWNER + "\x00",
    "telegram:111 ",
    "telegram:0111",
    "telegram:11",
    "telegram:1111",
    "Telegram:111",
    "webchat:111",
    "telegram%3A111",
    "telegram:111/../222",
    "".join(chr(ord(c) + 0xFEE0) for c in OWNER),
    "telegram:*",
    "telegram:%",
    "telegram:_11",
]
others = (
    st.sampled_from(near_misses)
    | st.sampled_from(NAUGHTY + LOOKALIKE)
    | st.from_regex(
        r"(telegram|wechat|webchat|rest|signed_rest):[A-Za-z0-9_.@+=-]{1,20}", fullmatch=True
    )
)

_tickets: dict[int, str] = {}


async def owners_ticket(client: Client, api_key: str) -> str:
    # Hypothesis reuses the test's fixtures for every example: file once per test.
    if id(client) not in _tickets:
        _tickets[id(client)] = await file_request(client, api_key, account_id=OWNER)
    return _tickets[id(client)]


async def snapshot(
    sessionmaker: async_sessionmaker[AsyncSession], reference: str
) -> dict[str, Any]:
    async with sessionmaker() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.service_request_id == reference))
        assert ticket is not None
        comments = await session.scalar(
            select(func.count())
            .select_from(TicketComment)
            .where(TicketComment.ticket_id == ticket.id)
        )
        handoffs = await session.scalar(
            select(func.count()).select_from(Handoff).where(Handoff.ticket_id == ticket.id)
        )
        return {
            "status": ticket.status,
            "service_code": ticket.service_code,
            "account_id": ticket.account_id,
            "department": ticket.department,
            "assignee_id": ticket.assignee_id,
            "duplicate_of": ticket.duplicate_of,
            "description": ticket.description,
            "email": ticket.email,
            "attributes": ticket.attributes,
            "comments": comments,
            "handoffs": handoffs,
        }


@FUZZ
@given(body=bodies, call=st.sampled_from(sorted(CALLS)))
async def test_no_body_changes_a_filed_tickets_protected_fields(
    client: Client,
    api_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    body: dict[str, Any],
    call: str,
) -> None:
    reference = await owners_ticket(client, api_key)
    before = await snapshot(sessionmaker, reference)
    method, path, moves_to = CALLS[call]
    if call == "handoffs":
        body = {**body, "service_request_id": reference}
    response = await client.request(
        method,
        f"/api/v1/citizens/{OWNER}" + path.format(ref=reference),
        json=body,
        headers={"X-API-Key": api_key},
    )
    assert response.status < 500, await response.text()
    after = await snapshot(sessionmaker, reference)
    fixed = ("service_code", "account_id", "department", "assignee_id", "duplicate_of")
    assert {k: after[k] for k in fixed} == {k: before[k] for k in fixed}
    assert (after["description"], after["email"], after["attributes"]) == (
        before["description"],
        before["email"],
        before["attributes"],
    )
    allowed = {before["status"]} if response.status >= 300 or moves_to is None else {moves_to}
    assert after["status"] in allowed, (call, body, response.status)


@FUZZ
@given(identity=others, call=st.sampled_from(sorted(CALLS)), body=bodies)
async def test_another_citizen_can_neither_see_nor_touch_the_ticket(
    client: Client,
    api_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    identity: str,
    call: str,
    body: dict[str, Any],
) -> None:
    assume(identity != OWNER)
    reference = await owners_ticket(client, api_key)
    before = await snapshot(sessionmaker, reference)
    key = {"X-API-Key": api_key}
    base = f"/api/v1/citizens/{quote(identity, safe='') or 'x'}"
    listed = await client.get(f"{base}/tickets", headers=key)
    assert listed.status in (200, 400, 404), await listed.text()
    assert reference not in await listed.text()
    assert DESCRIPTION not in await listed.text()
    read = await client.get(f"{base}/tickets/{reference}", headers=key)
    assert read.status in (400, 404), await read.text()
    assert DESCRIPTION not in await read.text()  # a 404 may name the reference asked for
    method, path, _ = CALLS[call]
    if call == "handoffs":
        body = {**body, "message": "Please call me.", "service_request_id": reference}
    else:
        body = {**body, "body": "x", "reason": "x", "rating": 5, "opt_in": True}
    changed = await client.request(
        method, base + path.format(ref=reference), json=body, headers=key
    )
    assert changed.status in (400, 404), (call, changed.status, await changed.text())
    assert await snapshot(sessionmaker, reference) == before
