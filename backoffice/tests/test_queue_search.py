"""The queue's word search: what it finds (both backends) and that PostgreSQL indexes it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.console import _queue
from civicdesk_backoffice.models import OPEN_STATUS_SQL, Ticket, utcnow
from civicdesk_backoffice.settings import Settings
from tests.conftest import ClientFactory, StaffFactory, file_request
from tests.console_helpers import browser, signed_in

_LINK = re.compile(r'href="/staff/tickets/(CD-[0-9A-Z]{6})"')


async def test_every_word_must_appear_in_the_description_or_the_address(
    aiohttp_client: ClientFactory, settings: Settings, make_staff: StaffFactory, api_key: str
) -> None:
    client = await browser(aiohttp_client, settings)
    both = await file_request(
        client, api_key, description="Lamp FLICKERS all night", address_string="Bridge Street 4"
    )
    words_apart = await file_request(
        client, api_key, description="It flickers", address_string="by the old bridge"
    )
    one_word = await file_request(
        client, api_key, description="It flickers", address_string="Mill Lane 2"
    )
    no_address = await file_request(client, api_key, description="bridge lamp flickers")
    await signed_in(client, await make_staff("ann", "Street Lighting"))

    async def found(words: str) -> set[str]:
        page = await (await client.get("/staff/queue", params={"q": words})).text()
        return set(_LINK.findall(page))

    assert await found("flickers bridge") == {both, words_apart, no_address}
    assert await found("FLICKERS") == {both, words_apart, one_word, no_address}
    assert await found("mill") == {one_word}
    # A word never matches across the joint of description and address.
    assert await found("nightbridge") == set()
    assert await found("flickers mill bridge") == set()


async def _open_tickets(session: AsyncSession, count: int, rare_every: int) -> None:
    """``count`` open Street Lighting tickets; every ``rare_every``-th mentions a bridge school."""
    now = utcnow()
    rows = [
        {
            "service_request_id": f"CD-Q{n:05d}",
            "service_code": "street_light",
            "status": "new",
            "description": "bridge school lamp" if n % rare_every == 0 else f"lamp {n} is dark",
            "attributes": {},
            "department": "Street Lighting",
            "requested_at": now - timedelta(minutes=n),
            "updated_at": now,
        }
        for n in range(count)
    ]
    await session.execute(insert(Ticket), rows)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_postgresql_answers_a_rare_word_search_from_the_trigram_index(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker.begin() as session:
        await _open_tickets(session, 3000, rare_every=300)
    async with sessionmaker() as session:
        # New rows wait in the GIN index's pending list until a vacuum; flushed, as
        # autovacuum does on a live server, and the statistics read.
        await session.execute(
            text("SELECT gin_clean_pending_list('ix_tickets_open_department_search_trgm')")
        )
        await session.execute(text("ANALYZE tickets"))
        await session.commit()
    condition = _queue._search_condition("bridge school")
    assert condition is not None
    # What the tab counts ask (queue_page's conditions), with the app's bound words.
    query = select(Ticket.id).where(
        text(OPEN_STATUS_SQL),
        Ticket.department == "Street Lighting",
        condition,  # type: ignore[arg-type]
    )
    async with sessionmaker() as session:
        connection = await session.connection()
        compiled = query.compile(dialect=connection.dialect)
        params = tuple(compiled.params[name] for name in compiled.positiontup or ())
        # 3,000 rows fit in a few pages, so a scan would win; a million would not. Off, the
        # choice left is between the indexes: the trigram one, or a department index
        # whose every open ticket is read and filtered (the plan before migration 0010).
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        rows = await connection.exec_driver_sql(f"EXPLAIN {compiled.string}", params)
        plan = "\n".join(str(row[0]) for row in rows)
        found = await session.scalars(query)
        assert len(found.all()) == 10
    assert "ix_tickets_open_department_search_trgm" in plan, plan
