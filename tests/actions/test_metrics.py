"""The action server's /metrics (actions/metrics.py), on the app `python -m actions` runs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from sanic import Sanic

from actions import metrics
from actions.__main__ import TOKEN_HEADER, create_server_app
from actions.outbox import Outbox
from actions.settings import ActionSettings
from open311_schema import NewServiceRequest
from tests.channels.conftest import serve_app
from tests.fakes import FakeOpen311
from tests.metrics_text import sample

TRACKER = {
    "sender_id": "rest:m-7",
    "slots": {},
    "latest_message": {},
    "events": [],
    "paused": False,
    "followup_action": None,
    "active_loop": {},
    "latest_action_name": None,
}


def action_call(name: str) -> dict[str, object]:
    return {
        "next_action": name,
        "sender_id": "rest:m-7",
        "tracker": TRACKER,
        "domain": {},
        "version": "3.6.21",
    }


@pytest.fixture
async def server(
    catalogue: FakeOpen311, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, Sanic]]:
    monkeypatch.delenv("CIVICDESK_METRICS_TOKEN", raising=False)
    Sanic.test_mode = True
    app = create_server_app(ActionSettings(action_token=SecretStr("action-secret")), relay=False)
    try:
        async with serve_app(app) as base:
            yield base, app
    finally:
        metrics.uninstrument(app)


async def test_action_calls_are_counted_by_name_and_answer(
    server: tuple[str, Sanic], outbox: Outbox
) -> None:
    base, _ = server
    outbox.enqueue("rest:m-7", NewServiceRequest(service_code="street_light", description="x"))
    auth = {TOKEN_HEADER: "action-secret"}
    async with httpx.AsyncClient() as client:
        before = (await client.get(f"{base}/metrics")).text
        ran = await client.post(
            f"{base}/webhook", json=action_call("action_announce_kept_photos"), headers=auth
        )
        unknown = await client.post(
            f"{base}/webhook", json=action_call("action_no_such_thing"), headers=auth
        )
        refused = await client.post(
            f"{base}/webhook", json=action_call("action_announce_kept_photos")
        )
        after = await client.get(f"{base}/metrics")
    assert (ran.status_code, unknown.status_code, refused.status_code) == (200, 404, 401)
    assert after.status_code == 200

    def moved(name: str, **labels: str) -> float:
        return sample(after.text, name, **labels) - sample(before, name, **labels)

    runs = "civicdesk_actions_runs_total"
    assert moved(runs, action="action_announce_kept_photos", status="200") == 1
    assert moved(runs, action="unknown", status="404") == 1
    assert moved(runs, action="refused", status="401") == 1
    assert moved("civicdesk_actions_run_seconds_count", action="action_announce_kept_photos") == 1
    # The names a caller makes up never become labels.
    assert "action_no_such_thing" not in after.text
    assert sample(after.text, "civicdesk_actions_outbox_waiting", kind="submissions") == 1
    assert sample(after.text, "civicdesk_actions_outbox_waiting", kind="handoffs") == 0
    assert (
        sample(after.text, "civicdesk_actions_outbox_oldest_waiting_seconds", kind="submissions")
        >= 0
    )
    assert "rest:m-7" not in after.text


async def test_metrics_need_no_action_token_but_their_own(
    server: tuple[str, Sanic], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _ = server
    async with httpx.AsyncClient() as client:
        local = await client.get(f"{base}/metrics")
        monkeypatch.setenv("CIVICDESK_METRICS_TOKEN", "m-token")
        bare = await client.get(f"{base}/metrics")
        with_action_token = await client.get(
            f"{base}/metrics", headers={TOKEN_HEADER: "action-secret"}
        )
        bearer = await client.get(f"{base}/metrics", headers={"Authorization": "Bearer m-token"})
    assert local.status_code == 200
    assert bare.status_code == 401
    assert with_action_token.status_code == 401
    assert bearer.status_code == 200


async def test_failed_backoffice_calls_are_counted_by_kind() -> None:
    from actions.open311_client import BackOfficeUnavailable, Open311Client, RequestRejected

    answers = iter([httpx.Response(503), httpx.Response(422, json=[])])

    def reply(request: httpx.Request) -> httpx.Response:
        try:
            return next(answers)
        except StopIteration:
            raise httpx.ConnectError("refused", request=request) from None

    def count(kind: str) -> float:
        value = metrics.REGISTRY.get_sample_value(
            "civicdesk_actions_backoffice_errors_total", {"kind": kind}
        )
        return value or 0.0

    before = {kind: count(kind) for kind in ("unavailable", "rejected", "unreachable")}
    async with Open311Client(
        "http://backoffice.test", "key", transport=httpx.MockTransport(reply)
    ) as client:
        for expected in (BackOfficeUnavailable, RequestRejected, BackOfficeUnavailable):
            with pytest.raises(expected):
                await client.get_request("CD-AAAAAA")
    assert {kind: count(kind) - before[kind] for kind in before} == {
        "unavailable": 1,
        "rejected": 1,
        "unreachable": 1,
    }
