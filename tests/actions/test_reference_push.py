"""Pushing a queued request's reference through Rasa's HTTP API once the relay filed it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import httpx
from pydantic import SecretStr
from rasa_sdk.executor import CollectingDispatcher

from actions.outbox import ANNOUNCE_GRACE_SECONDS, PUSH_RETRY_SECONDS, Outbox
from actions.reference_push import (
    FILED_INTENT,
    ActionAnnounceFiledRequests,
    ReferencePusher,
    pusher_from_settings,
    relay_round,
)
from actions.settings import ActionSettings
from open311_schema import NewServiceRequest
from tests.conftest import make_tracker
from tests.fakes import FakeOpen311

REQUEST = NewServiceRequest("street_light", description="dark", address_string="1 Main St")


class RecordingPusher(ReferencePusher):
    def __init__(self) -> None:
        super().__init__("http://rasa", "t0ken")
        self.pushed: list[str] = []

    async def push(self, conversation_id: str) -> bool:
        self.pushed.append(conversation_id)
        return True


async def test_the_push_triggers_the_intent_on_the_latest_channel() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"tracker": {}, "messages": []})

    pusher = ReferencePusher("http://rasa:5005/", "t0ken", transport=httpx.MockTransport(handler))
    assert await pusher.push("telegram/123 4") is True
    await pusher.aclose()

    [request] = seen
    assert request.method == "POST"
    assert request.url.raw_path.decode().split("?")[0] == (
        "/conversations/telegram%2F123%204/trigger_intent"
    )
    assert request.url.params["output_channel"] == "latest"
    assert request.url.params["token"] == "t0ken"
    assert json.loads(request.content) == {"name": FILED_INTENT, "entities": {}}


async def test_a_refused_or_failed_push_is_false_not_an_error() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": "bad token"})

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    for handler in (refused, down):
        pusher = ReferencePusher("http://rasa", "x", transport=httpx.MockTransport(handler))
        assert await pusher.push("citizen-1") is False
        await pusher.aclose()


def test_no_push_unless_url_and_token_are_set() -> None:
    assert pusher_from_settings(ActionSettings(rasa_url="", rasa_token=SecretStr("t"))) is None
    assert (
        pusher_from_settings(ActionSettings(rasa_url="http://r", rasa_token=SecretStr(""))) is None
    )
    assert pusher_from_settings(ActionSettings(rasa_url="http://r", rasa_token=SecretStr("t")))


async def test_the_relay_pushes_once_per_conversation_with_new_references(
    catalogue: FakeOpen311, outbox: Outbox
) -> None:
    catalogue.unavailable = True
    for number, conversation in enumerate(("citizen-1", "citizen-1", "citizen-2")):
        # Two requests of one chat (the same one twice would be one: a retried turn).
        request = dataclasses.replace(REQUEST, description=f"dark {number}")
        await outbox.deliver(outbox.enqueue(conversation, request).idempotency_key, catalogue)
    pusher = RecordingPusher()

    await relay_round(outbox, catalogue, pusher)  # still down: nothing filed, nothing pushed
    assert pusher.pushed == []
    catalogue.unavailable = False
    outbox._clock = lambda: 10**10  # every retry is due
    entries = await relay_round(outbox, catalogue, pusher)

    assert [entry.state for entry in entries] == ["delivered"] * 3
    assert pusher.pushed == ["citizen-1", "citizen-2"]
    assert len(await relay_round(outbox, catalogue, pusher)) == 0
    assert pusher.pushed == ["citizen-1", "citizen-2"], "nothing new, nothing pushed"


async def test_without_a_pusher_the_relay_still_files(
    catalogue: FakeOpen311, outbox: Outbox
) -> None:
    catalogue.unavailable = True
    await outbox.deliver(outbox.enqueue("citizen-1", REQUEST).idempotency_key, catalogue)
    catalogue.unavailable = False
    outbox._clock = lambda: 10**10

    await relay_round(outbox, catalogue, None)

    assert [entry.state for entry in outbox.entries_for("citizen-1")] == ["delivered"]


async def test_the_triggered_action_tells_each_new_reference_once(
    catalogue: FakeOpen311, outbox: Outbox
) -> None:
    catalogue.unavailable = True
    await outbox.deliver(outbox.enqueue("citizen-1", REQUEST).idempotency_key, catalogue)
    catalogue.unavailable = False
    outbox._clock = lambda: 10**10
    await relay_round(outbox, catalogue, None)
    first, again, other = CollectingDispatcher(), CollectingDispatcher(), CollectingDispatcher()

    await ActionAnnounceFiledRequests().run(first, make_tracker({}), {})
    await ActionAnnounceFiledRequests().run(again, make_tracker({}), {})
    await ActionAnnounceFiledRequests().run(other, make_tracker({}, sender_id="citizen-2"), {})

    assert [m["response"] for m in first.messages] == ["utter_queued_request_filed"]
    assert first.messages[0]["service_request_id"] == "CD-TEST01"
    assert again.messages == []
    assert other.messages == [], "another conversation hears nothing of it"


async def test_the_relay_pushes_the_conversation_of_a_kept_handoff_once_sent(
    catalogue: FakeOpen311, outbox: Outbox
) -> None:
    catalogue.with_extensions = True
    outbox.enqueue_handoff("citizen-3", "telegram:citizen-3", "who empties the bins?")
    outbox.enqueue_handoff("citizen-3", "telegram:citizen-3", "hello?")
    pusher = RecordingPusher()

    await relay_round(outbox, catalogue, pusher)

    assert [message for _, message, _ in catalogue.handoffs] == ["who empties the bins?", "hello?"]
    assert pusher.pushed == ["citizen-3"], "one push per conversation"
    await relay_round(outbox, catalogue, pusher)
    assert pusher.pushed == ["citizen-3"]


class FailingPusher(RecordingPusher):
    """Rasa cannot be reached (down, restarting): every push fails."""

    async def push(self, conversation_id: str) -> bool:
        self.pushed.append(conversation_id)
        return False


async def test_a_reference_whose_push_failed_is_pushed_again_until_told(
    catalogue: FakeOpen311, tmp_path: Path
) -> None:
    clock = [1_000.0]
    outbox = Outbox(tmp_path / "o.sqlite3", clock=lambda: clock[0], rng=lambda: 0.5)
    catalogue.unavailable = True
    await outbox.deliver(outbox.enqueue("citizen-1", REQUEST).idempotency_key, catalogue)
    catalogue.unavailable = False
    clock[0] += 3600
    pusher = FailingPusher()

    await relay_round(outbox, catalogue, pusher)  # filed; the push fails
    await relay_round(outbox, catalogue, pusher)  # too soon to push again
    clock[0] += PUSH_RETRY_SECONDS
    await relay_round(outbox, catalogue, pusher)  # pushed again
    clock[0] += PUSH_RETRY_SECONDS
    await relay_round(outbox, catalogue, pusher)  # the gap grows: not yet
    assert pusher.pushed == ["citizen-1", "citizen-1"]
    clock[0] += PUSH_RETRY_SECONDS
    await relay_round(outbox, catalogue, pusher)
    assert pusher.pushed == ["citizen-1"] * 3
    outbox.take_unannounced("citizen-1")  # Rasa took a push and the citizen was told
    clock[0] += 10 * PUSH_RETRY_SECONDS
    await relay_round(outbox, catalogue, pusher)

    assert pusher.pushed == ["citizen-1"] * 3, "told once: no more pushes"


async def test_a_reference_an_action_filed_but_never_said_is_pushed(
    catalogue: FakeOpen311, tmp_path: Path
) -> None:
    # The filing action delivered it and was killed before it could say the reference.
    clock = [1_000.0]
    outbox = Outbox(tmp_path / "o.sqlite3", clock=lambda: clock[0])
    await outbox.deliver(outbox.enqueue("citizen-1", REQUEST).idempotency_key, catalogue)
    pusher = RecordingPusher()

    await relay_round(outbox, catalogue, pusher)
    assert pusher.pushed == [], "the action says it itself, in its own turn"
    clock[0] += ANNOUNCE_GRACE_SECONDS + 1
    await relay_round(outbox, catalogue, pusher)

    assert pusher.pushed == ["citizen-1"]
