"""Group commit of ticket creation: shared transactions, each request with its own outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from open311_schema import NewServiceRequest, SchemaError
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice import db, idempotency, tickets
from civicdesk_backoffice.catalogue import load_catalogue
from civicdesk_backoffice.db import create_engine, create_sessionmaker, is_database_unavailable
from civicdesk_backoffice.models import IdempotencyRecord, Ticket
from civicdesk_backoffice.open311.views import TICKET_FILER
from tests.conftest import TEST_CATALOGUE, _admin_execute, _empty_postgres, street_light_form

Client = TestClient[Any, Any]


def _new(**overrides: str) -> NewServiceRequest:
    form = street_light_form(None, **overrides)
    return NewServiceRequest.from_form(list(form.items()))


async def _stored(sessionmaker: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessionmaker() as session:
        return set((await session.scalars(select(Ticket.service_request_id))).all())


async def _file_at_once(
    client: Client, forms: Sequence[dict[str, str]], *, keys: Sequence[str] | None = None
) -> list[ClientResponse]:
    """POST every form to the Open311 create endpoint at the same time; ``keys`` gives each
    its ``Idempotency-Key`` header."""
    headers: list[dict[str, str] | None] = (
        [None] * len(forms) if keys is None else [{"Idempotency-Key": key} for key in keys]
    )
    return list(
        await asyncio.gather(
            *(
                client.post("/open311/v2/requests.json", data=form, headers=header)
                for form, header in zip(forms, headers, strict=True)
            )
        )
    )


async def test_concurrent_creations_share_transactions_and_each_is_committed(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    count = 24
    responses = await _file_at_once(
        client, [street_light_form(api_key, description=f"lamp {i}") for i in range(count)]
    )
    assert [response.status for response in responses] == [201] * count
    references = [(await response.json())[0]["service_request_id"] for response in responses]
    assert len(set(references)) == count
    # Every answered ticket is already committed: another connection sees all of them.
    assert set(references) <= await _stored(sessionmaker)
    async with sessionmaker() as session:
        rows = await session.execute(select(Ticket.service_request_id, Ticket.description))
        descriptions = dict(rows.tuples().all())
    # Each request got its own ticket back, not a neighbour's from the same batch.
    for i, reference in enumerate(references):
        assert descriptions[reference] == f"lamp {i}"
    filer = client.app[TICKET_FILER]
    assert filer.requests == count
    assert filer.batches < count  # some requests did share a transaction


async def test_a_refused_request_leaves_the_rest_of_its_batch_filed(
    sessionmaker: async_sessionmaker[AsyncSession], api_key: str
) -> None:
    filings = [
        tickets.Filing(_new(description="first"), api_key=api_key),
        tickets.Filing(_new(service_code="no_such_service"), api_key=api_key),
        tickets.Filing(_new(**{"attribute[fault]": "melted"}), api_key=api_key),
        tickets.Filing(_new(), api_key="cd_" + "z" * 32),
        tickets.Filing(_new(lat="", long=""), api_key=api_key),
        tickets.Filing(_new(description="last"), api_key=api_key),
    ]
    outcomes = await tickets.file_batch(sessionmaker, filings)
    assert [type(outcome) for outcome in outcomes] == [
        tickets.FiledTicket,
        tickets.UnknownServiceError,
        SchemaError,
        idempotency.InvalidApiKeyError,
        SchemaError,
        tickets.FiledTicket,
    ]
    no_place = outcomes[4]
    assert isinstance(no_place, SchemaError)
    assert no_place.problems == [tickets.LOCATION_REQUIRED]
    filed = [outcome for outcome in outcomes if isinstance(outcome, tickets.FiledTicket)]
    assert await _stored(sessionmaker) == {ticket.service_request_id for ticket in filed}


async def test_a_failing_hook_costs_only_its_own_ticket(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    linked: list[int] = []

    async def link(_session: AsyncSession, ticket_id: int) -> None:
        linked.append(ticket_id)

    async def broken(_session: AsyncSession, _ticket_id: int) -> None:
        raise RuntimeError("the hook failed")

    filings = [
        tickets.Filing(_new(), on_stored=link),
        tickets.Filing(_new(), on_stored=broken),
        tickets.Filing(_new(), on_stored=link),
    ]
    outcomes = await tickets.file_batch(sessionmaker, filings)
    assert isinstance(outcomes[0], tickets.FiledTicket)
    assert isinstance(outcomes[1], RuntimeError)
    assert isinstance(outcomes[2], tickets.FiledTicket)
    # The shared transaction was rolled back, then each request was filed alone.
    assert await _stored(sessionmaker) == {
        outcomes[0].service_request_id,
        outcomes[2].service_request_id,
    }
    assert outcomes[0].id in linked
    assert outcomes[2].id in linked


@pytest.fixture
def scripted_references(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make ``new_reference`` hand out the references the test lists, in order."""
    script: list[str] = []
    monkeypatch.setattr(tickets, "new_reference", lambda: script.pop(0))
    return script


async def test_a_reference_already_taken_is_drawn_again(
    sessionmaker: async_sessionmaker[AsyncSession], scripted_references: list[str]
) -> None:
    scripted_references += ["CD-222222", "CD-222222", "CD-333333", "CD-444444"]
    first = await tickets.file_request(sessionmaker, _new())
    assert first.service_request_id == "CD-222222"
    # The next batch draws CD-222222 for its first request: the insert fails on the
    # unique reference and the whole batch is tried again with fresh references.
    outcomes = await tickets.file_batch(sessionmaker, [tickets.Filing(_new())])
    assert [getattr(outcome, "service_request_id", None) for outcome in outcomes] == ["CD-333333"]
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Ticket)) == 2


async def test_references_stay_distinct_within_one_batch(
    sessionmaker: async_sessionmaker[AsyncSession], scripted_references: list[str]
) -> None:
    scripted_references += ["CD-555555", "CD-555555", "CD-666666"]
    outcomes = await tickets.file_batch(sessionmaker, [tickets.Filing(_new()) for _ in range(2)])
    assert [getattr(outcome, "service_request_id", None) for outcome in outcomes] == [
        "CD-555555",
        "CD-666666",
    ]


def test_new_reference_uses_the_whole_alphabet() -> None:
    seen: set[str] = set()
    for _ in range(2000):
        reference = tickets.new_reference()
        assert tickets.parse_reference(reference) == reference
        seen.update(reference[len(tickets.REFERENCE_PREFIX) :])
    assert seen == set(tickets.CROCKFORD_ALPHABET)


async def test_with_a_bad_key_a_broken_form_is_not_described(client: Client) -> None:
    response = await client.post(
        "/open311/v2/requests.json",
        data={"api_key": "cd_" + "q" * 32, "service_code": "street_light"},
    )
    assert response.status == 403


# --- Idempotency-Key claims, grouped ------------------------------------------------------


async def test_concurrent_idempotent_creations_share_claim_transactions(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    count = 16
    responses = await _file_at_once(
        client,
        [street_light_form(api_key, description=f"lamp {i}") for i in range(count)],
        keys=[f"key-{i}" for i in range(count)],
    )
    assert [response.status for response in responses] == [201] * count
    references = [(await response.json())[0]["service_request_id"] for response in responses]
    async with sessionmaker() as session:
        rows = await session.execute(
            select(IdempotencyRecord.key, Ticket.service_request_id).join(
                Ticket, Ticket.id == IdempotencyRecord.ticket_id
            )
        )
        recorded = dict(rows.tuples().all())
    # Every claim was committed and records the ticket its own request filed.
    assert recorded == {f"key-{i}": reference for i, reference in enumerate(references)}
    claims = client.app[TICKET_FILER].claims
    assert claims.requests == count
    assert claims.batches < count


async def test_the_same_key_sent_at_once_files_one_ticket(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    responses = await _file_at_once(client, [street_light_form(api_key)] * 6, keys=["same-key"] * 6)
    statuses = sorted(response.status for response in responses)
    # One request files; the others are told it is in flight or get the same ticket.
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    assert len(await _stored(sessionmaker)) == 1
    created = {
        (await response.json())[0]["service_request_id"]
        for response in responses
        if response.status == 201
    }
    assert created == await _stored(sessionmaker)


async def test_claim_batch_sorts_out_each_request(
    sessionmaker: async_sessionmaker[AsyncSession], api_key: str
) -> None:
    first = await idempotency.claim_batch(
        sessionmaker, [idempotency.ClaimRequest(api_key, "used", "hash-1")]
    )
    assert isinstance(first[0], idempotency.Claimed)
    assert first[0].claim is not None
    outcomes = await idempotency.claim_batch(
        sessionmaker,
        [
            idempotency.ClaimRequest(api_key, "fresh", "hash-2"),
            idempotency.ClaimRequest("cd_" + "w" * 32, "other", "hash-3"),
            idempotency.ClaimRequest(api_key, "used", "hash-1"),
            idempotency.ClaimRequest(api_key, "fresh", "hash-2"),
        ],
    )
    fresh, bad_key, used, twice = outcomes
    assert isinstance(fresh, idempotency.Claimed)
    assert fresh.claim is not None
    assert isinstance(bad_key, idempotency.InvalidApiKeyError)
    # Taken before, or by an earlier request of the same group: left to claim().
    assert isinstance(used, idempotency.Claimed)
    assert used.claim is None
    assert isinstance(twice, idempotency.Claimed)
    assert twice.claim is None
    async with sessionmaker() as session:
        keys = (await session.scalars(select(IdempotencyRecord.key))).all()
    assert sorted(keys) == ["fresh", "used"]


async def test_a_failed_commit_is_not_filed_again(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async def fail_at_commit(session: AsyncSession, ticket_id: int) -> None:
        # A check the database makes only at COMMIT, so the commit itself fails.
        connection = await session.connection()
        if connection.dialect.name == "sqlite":
            await connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
            await connection.execute(
                update(Ticket).where(Ticket.id == ticket_id).values(service_code="nowhere")
            )
        else:
            await connection.exec_driver_sql(
                "CREATE TEMP TABLE at_commit (x int, UNIQUE (x) DEFERRABLE INITIALLY DEFERRED)"
                " ON COMMIT DROP"
            )
            await connection.exec_driver_sql("INSERT INTO at_commit VALUES (1), (1)")

    filings = [
        tickets.Filing(_new()),
        tickets.Filing(_new(), on_stored=fail_at_commit),
        tickets.Filing(_new()),
    ]
    outcomes = await tickets.file_batch(sessionmaker, filings)
    # Whether a failed commit took effect is unknown in general, so the group is not filed
    # again one by one: every request gets the error (nothing is stored twice).
    assert all(isinstance(outcome, IntegrityError) for outcome in outcomes)
    assert await _stored(sessionmaker) == set()


async def test_an_unreachable_database_fails_the_group_once(unused_tcp_port: int) -> None:
    # Nothing listens on this port: every connection attempt is refused.
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{unused_tcp_port}/none")
    real = create_sessionmaker(engine)
    attempts = 0

    class Counting:
        def begin(self) -> Any:
            nonlocal attempts
            attempts += 1
            return real.begin()

    try:
        outcomes = await tickets.file_batch(
            cast("async_sessionmaker[AsyncSession]", Counting()),
            [tickets.Filing(_new()) for _ in range(3)],
        )
    finally:
        await engine.dispose()
    assert all(
        isinstance(outcome, BaseException) and is_database_unavailable(outcome)
        for outcome in outcomes
    )
    assert len(outcomes) == 3
    assert attempts == 1  # not once more per request


async def test_a_group_whose_connection_was_cut_is_tried_once_more(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _empty_postgres(postgres_url)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)  # no ping to hide the cut
    engine = db.create_engine(postgres_url)
    try:
        await load_catalogue(create_sessionmaker(engine), TEST_CATALOGUE)
        async with engine.connect() as connection:
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        # The database ends the pooled connection, as a restart would.
        await _admin_execute(f"SELECT pg_terminate_backend({pid}, 5000)")
        sessionmaker = create_sessionmaker(engine)
        outcomes = await tickets.file_batch(
            sessionmaker, [tickets.Filing(_new()) for _ in range(3)]
        )
        assert all(isinstance(outcome, tickets.FiledTicket) for outcome in outcomes)
        assert len(await _stored(sessionmaker)) == 3
    finally:
        await engine.dispose()
