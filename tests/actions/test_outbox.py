"""The outbox: durable, retried with backoff and jitter, never filing a submission twice."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from actions.outbox import (
    MAX_DELAY_SECONDS,
    REPEAT_WINDOW_SECONDS,
    Outbox,
    backoff_delay,
    process_token,
)
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


async def test_the_language_filed_in_is_sent_with_the_submission_and_kept_for_retries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "o.sqlite3"
    fake = FakeOpen311(unavailable=True)
    chinese = Outbox(path).enqueue("c1", REQUEST, locale="zh-Hans").idempotency_key
    english = Outbox(path).enqueue("c2", REQUEST).idempotency_key
    await Outbox(path).deliver(chinese, fake)

    fake.unavailable = False
    after = Outbox(path, clock=lambda: 10**10)  # a restart: only the file remembers
    await after.deliver(chinese, fake)
    await after.deliver(english, fake)

    assert fake.locales == ["zh-Hans", "zh-Hans", None]
    assert len(fake.filed) == 2


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


async def test_the_same_submission_again_is_the_row_kept_and_filed_once(tmp_path: Path) -> None:
    # A crash swallowed the turn that filed it, so the citizen sends it again: one ticket.
    clock = Clock()
    outbox, fake = Outbox(tmp_path / "o.sqlite3", clock=clock), FakeOpen311()
    first = outbox.enqueue("c1", REQUEST)
    await outbox.deliver(first.idempotency_key, fake)

    again = outbox.enqueue("c1", REQUEST)
    delivered = await outbox.deliver(again.idempotency_key, fake)
    other_chat = outbox.enqueue("c2", REQUEST)
    other_words = outbox.enqueue("c1", dataclasses.replace(REQUEST, description="lamp flickers"))
    clock.now += REPEAT_WINDOW_SECONDS + 1
    next_day = outbox.enqueue("c1", REQUEST)

    assert again.idempotency_key == first.idempotency_key
    assert (delivered.state, delivered.service_request_id) == ("delivered", "CD-TEST01")
    assert len(fake.filed) == 1
    keys = {other_chat.idempotency_key, other_words.idempotency_key, next_day.idempotency_key}
    assert len(keys | {first.idempotency_key}) == 4, "another chat, text or day is its own"


async def test_a_refused_submission_sent_again_is_tried_again(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    refused = outbox.enqueue("c1", REQUEST)
    await outbox.deliver(refused.idempotency_key, FakeOpen311(reject_with=400))

    assert outbox.enqueue("c1", REQUEST).idempotency_key != refused.idempotency_key


def ended_process_token() -> str:
    """The ``process_token`` of a process that has ended (a crashed action server)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    token = process_token(child.pid)
    child.wait()
    assert token is not None
    assert process_token(child.pid) != token
    return token


def claim_as(path: Path, key: str, owner: str) -> None:
    """Leave ``key`` in "sending" as ``owner`` left it, a moment ago."""
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE outbox SET state = 'sending', claimed_at = ?, claimed_by = ?"
            " WHERE idempotency_key = ?",
            (time.time(), owner, key),
        )


async def test_a_row_left_by_an_ended_process_is_sent_at_once_not_after_the_lease(
    tmp_path: Path,
) -> None:
    path = tmp_path / "o.sqlite3"
    fake = FakeOpen311(with_extensions=True)
    key = Outbox(path).enqueue("c1", REQUEST).idempotency_key
    claim_as(path, key, ended_process_token())

    restarted = Outbox(path)  # the action server started again
    entry = await restarted.deliver(key, fake)

    assert entry.state == "delivered"
    assert list(fake.idempotency_keys) == [key], "sent again under its own key"


async def test_a_row_a_live_process_is_sending_is_left_to_it(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    key = Outbox(path).enqueue("c1", REQUEST).idempotency_key
    live = process_token(os.getppid())
    assert live is not None
    claim_as(path, key, live)
    other = Outbox(path)

    assert other.release_orphans() == 0
    assert other.due_keys() == []
    assert (await other.deliver(key, FakeOpen311())).state == "sending"


async def test_a_delivery_makes_the_rows_waiting_out_a_backoff_due(tmp_path: Path) -> None:
    clock = Clock()
    outbox, fake = Outbox(tmp_path / "o.sqlite3", clock=clock, rng=lambda: 0.5), FakeOpen311()
    fake.unavailable = True
    waiting = [outbox.enqueue(f"c{n}", REQUEST).idempotency_key for n in range(3)]
    for key in waiting:
        for _ in range(4):  # four failed tries: the next is 20 s or more away
            await outbox.deliver(key, fake)
    assert outbox.due_keys() == []
    fake.unavailable = False

    await outbox.deliver(outbox.enqueue("c9", REQUEST).idempotency_key, fake)

    assert sorted(outbox.due_keys()) == sorted(waiting)
