"""The outbox: durable, retried with backoff and jitter, never filing a submission twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

from actions.outbox import MAX_DELAY_SECONDS, Outbox, backoff_delay
from open311_schema import NewServiceRequest
from tests.fakes import FakeOpen311

REQUEST = NewServiceRequest(
    service_code="street_light",
    description="lamp dark",
    address_string="1 Main St",
    attributes={"fault": ("out",)},
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_grows_is_capped_and_jittered() -> None:
    low = [backoff_delay(n, rng=lambda: 0.0) for n in range(1, 12)]
    high = [backoff_delay(n, rng=lambda: 0.999) for n in range(1, 12)]

    assert low == sorted(low)
    assert low[1] == 2 * low[0]
    assert max(high) <= MAX_DELAY_SECONDS
    assert all(a < b for a, b in zip(low, high, strict=True)), "jitter spreads the retries"


async def test_delivers_at_once_when_the_back_office_answers(tmp_path: Path) -> None:
    outbox, fake = Outbox(tmp_path / "o.sqlite3"), FakeOpen311()

    entry = await outbox.deliver(outbox.enqueue("c1", REQUEST).idempotency_key, fake)

    assert entry.state == "delivered"
    assert entry.service_request_id == "CD-TEST01"
    assert fake.filed == [REQUEST], "the stored payload round-trips exactly"


async def test_outage_keeps_the_submission_and_retries_only_when_due(tmp_path: Path) -> None:
    clock = Clock()
    outbox, fake = Outbox(tmp_path / "o.sqlite3", clock=clock, rng=lambda: 0.5), FakeOpen311()
    fake.unavailable = True
    key = outbox.enqueue("c1", REQUEST).idempotency_key

    first = await outbox.deliver(key, fake)
    fake.unavailable = False
    too_early = await outbox.deliver_due(fake)
    clock.now += MAX_DELAY_SECONDS
    retried = await outbox.deliver_due(fake)

    assert first.state == "pending"
    assert first.attempts == 1
    assert too_early == []
    assert [entry.state for entry in retried] == ["delivered"]
    assert len(fake.filed) == 1


async def test_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    fake = FakeOpen311(unavailable=True)
    before = Outbox(path)
    key = before.enqueue("c1", REQUEST).idempotency_key
    await before.deliver(key, fake)

    fake.unavailable = False
    after = Outbox(path, clock=lambda: 10**10)
    await after.deliver_due(fake)

    assert after.get(key).state == "delivered"
    assert len(fake.filed) == 1


async def test_a_lost_reply_is_retried_with_the_same_key_and_filed_once(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", clock=lambda: 10**10)
    fake = FakeOpen311(with_extensions=True, fail_after_filing=True)
    key = outbox.enqueue("c1", REQUEST).idempotency_key

    assert (await outbox.deliver(key, fake)).state == "pending"
    fake.fail_after_filing = False
    entry = await outbox.deliver(key, fake)

    assert entry.state == "delivered"
    assert len(fake.filed) == 1
    assert list(fake.idempotency_keys) == [key]


async def test_concurrent_deliverers_send_a_row_once(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    fake = FakeOpen311()
    key = Outbox(path).enqueue("c1", REQUEST).idempotency_key

    results = await asyncio.gather(*(Outbox(path).deliver(key, fake) for _ in range(5)))

    assert len(fake.filed) == 1
    assert {entry.state for entry in results} == {"delivered"}


async def test_delivered_rows_are_announced_once_and_forget_the_text(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    outbox = Outbox(path)
    await outbox.deliver(outbox.enqueue("c1", REQUEST).idempotency_key, FakeOpen311())

    assert [e.service_request_id for e in outbox.take_unannounced("c1")] == ["CD-TEST01"]
    assert outbox.take_unannounced("c1") == []
    assert outbox.take_unannounced("c2") == []
    import sqlite3

    with sqlite3.connect(path) as db:
        assert db.execute("SELECT payload FROM outbox").fetchall() == [(None,)]


async def test_rejected_submission_is_not_retried(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", clock=lambda: 10**10)
    fake = FakeOpen311(reject_with=400)
    key = outbox.enqueue("c1", REQUEST).idempotency_key

    assert (await outbox.deliver(key, fake)).state == "rejected"
    assert outbox.due_keys() == []
