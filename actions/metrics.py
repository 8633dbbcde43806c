"""Prometheus metrics of the action server, at ``GET /metrics`` on its port.

- ``civicdesk_actions_runs_total{action, status}``: action calls from Rasa, by action name
  and the HTTP status answered (200 ran, 400 rejected by a form, 404 unknown action, 500
  failed);
- ``civicdesk_actions_run_seconds{action}``: how long each took;
- ``civicdesk_actions_backoffice_errors_total{kind}``: back-office calls that failed:
  ``unreachable`` (no connection, timeout), ``unavailable`` (5xx), ``busy`` (409/429),
  ``not_found`` (404: often a citizen's mistyped reference), ``rejected`` (another 4xx);
- ``civicdesk_actions_outbox_waiting{kind}`` and
  ``civicdesk_actions_outbox_oldest_waiting_seconds{kind}``: what the local outbox still holds
  for the back office (submissions, handoffs, ticket moves), read when scraped;
- the prometheus-client process collectors.

Labels are action names (only names the server answered for; anything else is ``unknown``)
and fixed words: nothing a citizen sent. Who may read: ``observability.metrics_refusal``.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sanic import Request, Sanic, response
from sanic.response import HTTPResponse

from actions.observability import metrics_refusal

METRICS_PATH = "/metrics"
# From an in-memory answer (ms) to a back-office call at its 5 s timeout.
RUN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

RUNS = Counter(
    "civicdesk_actions_runs", "Action calls from Rasa, by action and answer", ["action", "status"]
)
RUN_SECONDS = Histogram(
    "civicdesk_actions_run_seconds", "Time to run one action call", ["action"], buckets=RUN_BUCKETS
)
BACKOFFICE_ERRORS = Counter(
    "civicdesk_actions_backoffice_errors", "Back-office calls that failed, by kind", ["kind"]
)

_ACTION_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")

Backlog = Callable[[], dict[str, tuple[int, float | None]]]


def backoffice_error(status: int | None) -> None:
    """Count a failed back-office call: ``None`` when it got no answer, else its status."""
    if status is None:
        kind = "unreachable"
    elif status >= 500:
        kind = "unavailable"
    elif status in (409, 429):
        kind = "busy"
    elif status == 404:
        kind = "not_found"
    else:
        kind = "rejected"
    BACKOFFICE_ERRORS.labels(kind).inc()


class OutboxCollector(Collector):
    """Reads the outbox's backlog when ``/metrics`` is scraped."""

    def __init__(self, backlog: Backlog) -> None:
        self.backlog = backlog

    def collect(self) -> Iterator[GaugeMetricFamily]:
        waiting = GaugeMetricFamily(
            "civicdesk_actions_outbox_waiting",
            "Rows the local outbox holds for the back office",
            labels=["kind"],
        )
        oldest = GaugeMetricFamily(
            "civicdesk_actions_outbox_oldest_waiting_seconds",
            "Age of the oldest row waiting for the back office (0 when none waits)",
            labels=["kind"],
        )
        for kind, (count, age) in sorted(self.backlog().items()):
            waiting.add_metric([kind], count)
            oldest.add_metric([kind], age or 0.0)
        yield waiting
        yield oldest


def _action_name(request: Request) -> str:
    try:
        if request.headers.get("Content-Encoding") == "deflate":
            call: Any = json.loads(zlib.decompress(request.body))
        else:
            call = request.json
    except (ValueError, zlib.error):
        return "unknown"
    name = call.get("next_action") if isinstance(call, dict) else None
    return name if isinstance(name, str) and _ACTION_NAME.fullmatch(name) else "unknown"


# One collector per process: the action server has one app; tests that build several in
# turn point it at the newest one's outbox instead of registering duplicates.
_collector: OutboxCollector | None = None


def instrument(app: Sanic, backlog: Backlog, webhook_path: str = "/webhook") -> None:
    """Count action calls on ``app``, serve ``/metrics`` and report ``backlog`` there.

    Call before the server starts. The caller keeps ``/metrics`` out of its action-token
    check: it has its own (``metrics_refusal``).
    """
    global _collector
    if _collector is None:
        _collector = OutboxCollector(backlog)
        REGISTRY.register(_collector)
    else:
        _collector.backlog = backlog

    @app.on_request
    async def start_timer(request: Request) -> None:
        request.ctx.civicdesk_started = time.perf_counter()

    @app.on_response
    async def count_run(request: Request, answer: HTTPResponse) -> None:
        started = getattr(request.ctx, "civicdesk_started", None)
        if request.path != webhook_path or started is None:
            return
        if answer.status == 401:
            # Refused before it ran: the body is a stranger's and names nothing we serve.
            action = "refused"
        elif answer.status == 404:
            action = "unknown"
        else:
            action = _action_name(request)
        RUNS.labels(action, str(answer.status)).inc()
        RUN_SECONDS.labels(action).observe(time.perf_counter() - started)

    async def metrics(request: Request) -> HTTPResponse:
        refusal = metrics_refusal(request.ip, dict(request.headers))
        if refusal is not None:
            status, message = refusal
            code = "unauthorized" if status == 401 else "forbidden"
            return response.json({"error": {"code": code, "message": message}}, status=status)
        return response.raw(generate_latest(), content_type=CONTENT_TYPE_LATEST)

    app.add_route(metrics, METRICS_PATH, methods=["GET"], name="civicdesk_metrics")


def uninstrument(app: Sanic) -> None:
    """Stop reporting an outbox (tests, after ``app`` is done)."""
    global _collector
    if _collector is not None:
        REGISTRY.unregister(_collector)
        _collector = None
