"""Working tickets in the staff console: queue, ticket page, status, notes, handoffs, pages."""

from __future__ import annotations

import re
from datetime import timedelta

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.console import _render
from civicdesk_backoffice.models import (
    OPEN_STATUS_SQL,
    OPEN_STATUSES,
    AuditEntry,
    Handoff,
    OutboxMessage,
    StaffRole,
    StaffUser,
    Ticket,
    utcnow,
)
from civicdesk_backoffice.settings import Settings
from tests.conftest import ClientFactory, StaffFactory, audit_log, file_request
from tests.console_helpers import Client, browser, post_form, signed_in


async def _insert_tickets(
    sessionmaker: async_sessionmaker[AsyncSession],
    count: int,
    *,
    department: str = "Street Lighting",
    service_code: str = "street_light",
    status: str = "new",
    overdue: bool = False,
    assignee: str | None = None,
    description: str = "Lamp {n} is dark.",
) -> list[str]:
    """Tickets written straight to the database, one minute apart, newest last."""
    now = utcnow()
    references = []
    async with sessionmaker.begin() as session:
        assignee_id = None
        if assignee is not None:
            assignee_id = await session.scalar(
                select(StaffUser.id).where(StaffUser.username == assignee)
            )
        for n in range(count):
            filed = now - timedelta(minutes=count - n)
            reference = f"CD-T{department[:1]}{status[:1].upper()}{n:03d}"[:9]
            references.append(reference)
            session.add(
                Ticket(
                    service_request_id=reference,
                    service_code=service_code,
                    status=status,
                    description=description.format(n=n),
                    department=department,
                    requested_at=filed,
                    updated_at=filed,
                    expected_at=filed + (timedelta(hours=-1) if overdue else timedelta(days=3)),
                    attributes={},
                    assignee_id=assignee_id,
                    account_id=f"telegram:{1000 + n}",
                )
            )
    return references


def _links(page: str) -> list[str]:
    return re.findall(r'href="/staff/tickets/(CD-[A-Z0-9]+)"', page)


async def test_the_open_statuses_of_the_partial_indexes_are_the_open_statuses() -> None:
    listed = set(re.findall(r"'([a-z_]+)'", OPEN_STATUS_SQL))
    assert listed == {status.value for status in OPEN_STATUSES}


async def test_queue_pages_by_keyset_without_gaps_or_repeats(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    created = await _insert_tickets(sessionmaker, 60)
    client = await browser(aiohttp_client, settings)
    await signed_in(client, ann)
    first = await (await client.get("/staff/queue")).text()
    page_one = _links(first)
    assert page_one == list(reversed(created))[:50]  # newest first
    next_link = re.search(r'href="([^"]+)" rel="next"', first)
    assert next_link is not None
    second = await (await client.get(next_link.group(1).replace("&amp;", "&"))).text()
    assert _links(second) == list(reversed(created))[50:]
    assert 'rel="next"' not in second
    # Due soonest first walks the other way round.
    by_sla = _links(await (await client.get("/staff/queue?sort=sla")).text())
    assert by_sla == created[:50]


async def test_tabs_count_and_filter(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    fresh = await _insert_tickets(sessionmaker, 3)
    late = await _insert_tickets(sessionmaker, 2, status="acknowledged", overdue=True)
    mine = await _insert_tickets(sessionmaker, 1, status="in_progress", assignee="ann")
    await _insert_tickets(sessionmaker, 4, status="resolved")  # closed: in no tab
    client = await browser(aiohttp_client, settings)
    await signed_in(client, ann)
    page = await (await client.get("/staff/queue")).text()
    counts = dict(re.findall(r'\?tab=(\w+)"[^>]*>[^<]+<span class="count">(\d+)</span>', page))
    assert counts == {"new": "3", "open": "6", "overdue": "2", "mine": "1"}
    for tab, expected in (("new", fresh), ("overdue", late), ("mine", mine)):
        listed = _links(await (await client.get(f"/staff/queue?tab={tab}")).text())
        assert sorted(listed) == sorted(expected), tab


async def test_search_by_reference_and_by_words(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    plain = await _insert_tickets(sessionmaker, 3)
    special = await _insert_tickets(
        sessionmaker, 1, status="acknowledged", description="Flickering near the 50% bend"
    )
    client = await browser(aiohttp_client, settings)
    await signed_in(client, ann)
    by_ref = _links(await (await client.get(f"/staff/queue?q={plain[1].lower()}")).text())
    assert by_ref == [plain[1]]
    by_words = _links(await (await client.get("/staff/queue?q=flickering+50%25")).text())
    assert by_words == special
    # '%' is a literal character, not a wildcard.
    assert _links(await (await client.get("/staff/queue?q=%25%25")).text()) == []
    refused = await client.get("/staff/queue?q=" + "x" * 101)
    assert refused.status == 400


async def _ticket_and_csrf(client: Client, reference: str) -> tuple[str, str]:
    page = await client.get(f"/staff/tickets/{reference}")
    assert page.status == 200
    text = await page.text()
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found is not None
    return text, found.group(1)


async def test_work_a_ticket_to_resolved_with_a_public_note_that_reaches_the_chat(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    api_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sue = await make_staff("sue", "Street Lighting", StaffRole.SUPERVISOR)
    await make_staff("ann", "Street Lighting")
    client = await browser(aiohttp_client, settings)
    reference = await file_request(client, api_key)
    await signed_in(client, sue)
    page, csrf = await _ticket_and_csrf(client, reference)
    assert "The lamp outside number 12 is off." in page
    assert "52.52000, 13.40500" in page
    assert "Ada" in page  # staff see the citizen's name
    base = f"/staff/tickets/{reference}"
    assert (await post_form(client, f"{base}/assign", csrf, assignee="ann")).status == 303
    assert (await post_form(client, f"{base}/status", csrf, status="in_progress")).status == 303
    internal = await post_form(client, f"{base}/comment", csrf, body="Crew booked.")
    assert internal.status == 303
    resolved = await post_form(
        client, f"{base}/status", csrf, status="resolved", note="The lamp was repaired today."
    )
    assert resolved.status == 303
    assert resolved.headers["Location"] == f"{base}?done=1"
    async with sessionmaker() as session:
        ticket = (await session.scalars(select(Ticket))).one()
        pushes = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    assert ticket.status == "resolved"
    assert ticket.status_notes == "The lamp was repaired today."
    assert ticket.closed_at is not None
    # Two status pushes; the internal note is not pushed.
    assert [(p.identity, p.entities["kind"], p.entities["message"]) for p in pushes] == [
        ("telegram:12345", "status", ""),
        ("telegram:12345", "status", "The lamp was repaired today."),
    ]
    actions = [e.action for e in await audit_log(sessionmaker)]
    for action in ("ticket.read", "ticket.assign", "ticket.status", "ticket.comment"):
        assert action in actions
    after, _ = await _ticket_and_csrf(client, reference)
    assert "Crew booked." in after
    assert "Resolved" in after
    # The Open311 view agrees.
    public = await (await client.get(f"/open311/v2/requests/{reference}.json")).json()
    assert public[0]["status"] == "closed"
    assert public[0]["status_notes"] == "The lamp was repaired today."


async def test_a_move_the_lifecycle_forbids_is_a_clear_error_and_changes_nothing(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    api_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    client = await browser(aiohttp_client, settings)
    reference = await file_request(client, api_key)
    await signed_in(client, ann)
    _, csrf = await _ticket_and_csrf(client, reference)
    refused = await post_form(client, f"/staff/tickets/{reference}/status", csrf, status="closed")
    assert refused.status == 409
    assert "cannot become closed" in await refused.text()
    unknown = await post_form(client, f"/staff/tickets/{reference}/status", csrf, status="zzz")
    assert unknown.status == 400
    async with sessionmaker() as session:
        assert (await session.scalars(select(Ticket.status))).one() == "new"
        assert (await session.scalars(select(OutboxMessage))).all() == []


async def test_public_comment_and_handoff_reply_are_pushed(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    api_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    client = await browser(aiohttp_client, settings)
    reference = await file_request(client, api_key)
    asked = await client.post(
        "/api/v1/citizens/telegram:12345/handoffs",
        json={"message": "Can someone call me about it?", "service_request_id": reference},
        headers={"X-API-Key": api_key},
    )
    assert asked.status == 201
    handoff_id = (await asked.json())["handoff_id"]
    await signed_in(client, ann)
    page, csrf = await _ticket_and_csrf(client, reference)
    assert "Can someone call me about it?" in page
    comment = await post_form(
        client,
        f"/staff/tickets/{reference}/comment",
        csrf,
        body="We are on it.",
        visibility="public",
    )
    assert comment.status == 303
    reply = await post_form(
        client, f"/staff/handoffs/{handoff_id}/reply", csrf, text="I will call at 3 pm."
    )
    assert reply.status == 303
    again = await post_form(client, f"/staff/handoffs/{handoff_id}/reply", csrf, text="Twice")
    assert again.status == 409
    async with sessionmaker() as session:
        pushes = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        handoff = (await session.scalars(select(Handoff))).one()
    assert [(p.entities["kind"], p.entities["message"]) for p in pushes] == [
        ("comment", "We are on it."),
        ("handoff_reply", "I will call at 3 pm."),
    ]
    assert handoff.status == "answered"


async def test_nearby_tickets_of_the_same_service_are_offered_for_merging(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    api_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    client = await browser(aiohttp_client, settings)
    first = await file_request(client, api_key)
    second = await file_request(client, api_key, lat="52.5205")
    far = await file_request(client, api_key, lat="52.6200")
    await signed_in(client, ann)
    page, csrf = await _ticket_and_csrf(client, second)
    assert f'name="duplicate_of" value="{first}"' in page
    assert far not in page
    merged = await post_form(
        client, f"/staff/tickets/{second}/status", csrf, status="duplicate", duplicate_of=first
    )
    assert merged.status == 303
    async with sessionmaker() as session:
        ticket = (
            await session.scalars(select(Ticket).where(Ticket.service_request_id == second))
        ).one()
    assert (ticket.status, ticket.duplicate_of) == ("duplicate", first)


async def test_dashboard_draws_the_four_charts_for_a_supervisor(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sue = await make_staff("sue", "Street Lighting", StaffRole.SUPERVISOR)
    await _insert_tickets(sessionmaker, 3, status="resolved")
    await _insert_tickets(sessionmaker, 2, status="acknowledged", overdue=True)
    async with sessionmaker.begin() as session:
        for ticket in await session.scalars(select(Ticket).where(Ticket.status == "resolved")):
            ticket.closed_at = ticket.requested_at + timedelta(hours=6)
            ticket.rating = 4
    client = await browser(aiohttp_client, settings)
    await signed_in(client, sue)
    answer = await client.get("/staff/dashboard")
    assert answer.status == 200
    page = await answer.text()
    assert page.count("<svg") == 4
    assert re.search(r"<th scope=\"row\">Street Lighting</th><td>6.0</td>", page)
    assert re.search(r"<th scope=\"row\">4</th><td>3</td>", page)
    assert re.search(r"<th scope=\"row\">Street light not working</th><td>2</td>", page)
    assert "console.dashboard" in [e.action for e in await audit_log(sessionmaker)]


async def test_labels_in_chinese_and_larger_text_from_the_preferences(
    aiohttp_client: ClientFactory, settings: Settings, make_staff: StaffFactory
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    client = await browser(aiohttp_client, settings)
    await signed_in(client, ann)
    chosen = await client.get(
        "/staff/prefs?lang=zh-Hans&text=large&next=/staff/queue", allow_redirects=False
    )
    assert chosen.status == 303
    assert chosen.headers["Location"] == "/staff/queue"
    page = await (await client.get("/staff/queue")).text()
    assert '<html lang="zh-Hans">' in page
    assert "工单队列" in page
    assert '<body class="large">' in page
    # ``next`` never leads off the site.
    away = await client.get("/staff/prefs?lang=en&next=//evil.example/", allow_redirects=False)
    assert away.headers["Location"] == "/staff/"


def test_every_label_exists_in_both_languages() -> None:
    with (_render._MESSAGES).open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    assert set(data) == set(_render.LANGUAGES)
    assert set(data["en"]) == set(data["zh-Hans"])
    assert all(str(value).strip() for lang in data.values() for value in lang.values())


async def test_every_console_read_is_audited(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    api_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    client = await browser(aiohttp_client, settings)
    reference = await file_request(client, api_key)
    await signed_in(client, ann)
    await client.get(f"/staff/tickets/{reference}")
    async with sessionmaker() as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    queue = [e for e in entries if e.action == "console.queue"]
    assert queue
    assert reference in queue[-1].detail["service_request_ids"]
    assert any(e.action == "ticket.read" and e.ticket_id is not None for e in entries)
