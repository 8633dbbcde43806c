"""Rasa's /metrics (bot/metrics.py): served on Rasa's own app, counting turns per channel,
refused to callers it should not answer."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from rasa.core.agent import Agent
from rasa.core.run import configure_app, create_http_input_channels
from sanic import Sanic

from bot import metrics
from tests.channels.conftest import serve_app
from tests.metrics_text import sample


@pytest.fixture
def app(tmp_path: Path) -> Sanic:
    """Rasa's server app as `rasa run` builds it, with the metrics channel and REST."""
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("bot.metrics.MetricsInput:\nrest:\n")
    Sanic.test_mode = True
    server = configure_app(create_http_input_channels(None, str(credentials)), enable_api=False)
    # A real Agent without a model: it handles (and ignores) each message, as Rasa's does
    # before a model is loaded; the turn still goes through Agent.handle_message.
    server.ctx.agent = Agent()
    return server


async def test_a_message_moves_the_turn_counters_of_its_channel(
    app: Sanic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CIVICDESK_METRICS_TOKEN", raising=False)
    async with serve_app(app) as base, httpx.AsyncClient() as client:
        before = (await client.get(f"{base}/metrics")).text
        sent = await client.post(
            f"{base}/webhooks/rest/webhook", json={"sender": "m-1", "message": "my lamp is out"}
        )
        after = await client.get(f"{base}/metrics")
    assert sent.status_code == 200
    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain")
    name = "civicdesk_rasa_turns_total"
    assert sample(after.text, name, channel="rest") == sample(before, name, channel="rest") + 1
    count = "civicdesk_rasa_turn_seconds_count"
    assert sample(after.text, count, channel="rest") == sample(before, count, channel="rest") + 1
    # Nothing the citizen sent shows up among the metrics.
    assert "m-1" not in after.text
    assert "lamp" not in after.text


async def test_metrics_are_refused_through_a_proxy_without_a_token(
    app: Sanic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CIVICDESK_METRICS_TOKEN", raising=False)
    async with serve_app(app) as base, httpx.AsyncClient() as client:
        proxied = await client.get(f"{base}/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403
    assert proxied.json()["error"]["code"] == "forbidden"


async def test_with_a_token_only_its_bearer_reads_metrics(
    app: Sanic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICDESK_METRICS_TOKEN", "metrics-secret")
    async with serve_app(app) as base, httpx.AsyncClient() as client:
        bare = await client.get(f"{base}/metrics")
        wrong = await client.get(f"{base}/metrics", headers={"Authorization": "Bearer nope"})
        right = await client.get(
            f"{base}/metrics", headers={"Authorization": "Bearer metrics-secret"}
        )
    assert bare.status_code == 401
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert "civicdesk_rasa_turns" in right.text


def test_error_logs_are_counted_by_component() -> None:
    metrics.install()

    def count() -> float:
        value = REGISTRY.get_sample_value(
            "civicdesk_rasa_log_errors_total", {"component": "channels"}
        )
        return value or 0.0

    before = count()
    logging.getLogger("channels.test").error("a failure for the counter")
    logging.getLogger("channels.test").warning("not counted")
    assert count() == before + 1


@pytest.mark.parametrize(
    ("given", "label"),
    [("rest", "rest"), ("signed_rest", "signed_rest"), (None, "other"), ("Bad Name!", "other")],
)
def test_channel_labels_are_channel_names_or_other(given: str | None, label: str) -> None:
    assert metrics.channel_label(given) == label


class _FailingProcessor:
    async def handle_message(self, message: object) -> None:
        raise RuntimeError("the policy ensemble fell over")


class _FailingAgent(Agent):
    """A real Agent whose processor raises, as a broken model or store would."""

    def is_ready(self) -> bool:
        return True


async def test_a_turn_that_raises_is_counted_as_an_error(
    app: Sanic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CIVICDESK_METRICS_TOKEN", raising=False)
    agent = _FailingAgent()
    agent.processor = _FailingProcessor()
    app.ctx.agent = agent
    async with serve_app(app) as base, httpx.AsyncClient() as client:
        before = (await client.get(f"{base}/metrics")).text
        sent = await client.post(
            f"{base}/webhooks/rest/webhook", json={"sender": "m-2", "message": "hello"}
        )
        after = (await client.get(f"{base}/metrics")).text
    # Rasa's REST channel logs the failure and still answers 200.
    assert sent.status_code == 200
    errors = "civicdesk_rasa_turn_errors_total"
    assert sample(after, errors, channel="rest") == sample(before, errors, channel="rest") + 1
    turns = "civicdesk_rasa_turns_total"
    assert sample(after, turns, channel="rest") == sample(before, turns, channel="rest") + 1
