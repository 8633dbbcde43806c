"""Prometheus metrics of the back office, at ``GET /metrics``.

- ``civicdesk_backoffice_requests_total{method, route, status}`` and
  ``civicdesk_backoffice_request_seconds{method, route}``: every request by its matched route
  pattern (``/api/v1/citizens/{identity}/tickets``, never the path, which can hold a
  citizen's identity), ``<unmatched>`` for paths no route knows;
- ``civicdesk_backoffice_tickets_created_total``: Open311 filings answered ``201`` that filed
  a ticket (an idempotent replay files nothing and is not counted);
- ``civicdesk_backoffice_outbox_rows{state}`` and
  ``civicdesk_backoffice_outbox_oldest_pending_seconds``: chat pushes waiting for the relay
  (``pending``) or given up (``failed``), read from the database when scraped;
- the prometheus-client process and garbage-collector collectors.

Each application has its own registry, so tests (and several apps in one process) count
separately. Who may read: :func:`metrics_refusal` (``BACKOFFICE__METRICS__TOKEN``).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)
from sqlalchemy import func, select

from civicdesk_backoffice.access_log import route_pattern
from civicdesk_backoffice.app_keys import READ_SESSIONMAKER, SETTINGS
from civicdesk_backoffice.models import OutboxMessage, OutboxState

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
FILING_ROUTE = "/open311/v2/requests.{fmt}"
# From a cached catalogue answer (ms) to a photo re-encode or a slow database.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BackofficeMetrics:
    """The metrics of one application, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        process_collector.ProcessCollector(registry=self.registry)
        platform_collector.PlatformCollector(registry=self.registry)
        gc_collector.GCCollector(registry=self.registry)
        self.requests = Counter(
            "civicdesk_backoffice_requests",
            "Requests answered, by method, route pattern and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "civicdesk_backoffice_request_seconds",
            "Time to answer a request, by method and route pattern",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tickets_created = Counter(
            "civicdesk_backoffice_tickets_created",
            "Tickets filed through Open311 POST requests",
            registry=self.registry,
        )
        self.outbox_rows = Gauge(
            "civicdesk_backoffice_outbox_rows",
            "Chat pushes in the outbox that are not sent, by state",
            ["state"],
            registry=self.registry,
        )
        self.outbox_oldest_pending = Gauge(
            "civicdesk_backoffice_outbox_oldest_pending_seconds",
            "Age of the oldest pending chat push (0 when none is pending)",
            registry=self.registry,
        )

    def observe(self, request: web.Request, status: int, seconds: float, replayed: bool) -> None:
        """Count one answered request."""
        route = route_pattern(request)
        self.requests.labels(request.method, route, str(status)).inc()
        self.request_seconds.labels(request.method, route).observe(seconds)
        if request.method == "POST" and route == FILING_ROUTE and status == 201 and not replayed:
            self.tickets_created.inc()


METRICS = web.AppKey("metrics", BackofficeMetrics)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time and count every request; outermost, so it sees the status the client gets."""
    started = time.perf_counter()
    metrics = request.app[METRICS]
    try:
        answer = await handler(request)
    except web.HTTPException as error:
        metrics.observe(request, error.status, time.perf_counter() - started, False)
        raise
    except BaseException:
        # error_middleware answers every error; anything reaching here becomes a 500.
        metrics.observe(request, 500, time.perf_counter() - started, False)
        raise
    replayed = answer.headers.get("Idempotent-Replayed", "").lower() == "true"
    metrics.observe(request, answer.status, time.perf_counter() - started, replayed)
    return answer


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def metrics_refusal(request: web.Request, token: str) -> tuple[int, str] | None:
    """Why ``/metrics`` is refused to this request (status, message), or ``None``.

    With a token, only ``Authorization: Bearer <token>``; without one, only a client on
    this machine that did not come through a proxy.
    """
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        return 401, "metrics need the bearer token (BACKOFFICE__METRICS__TOKEN)"
    # request.transport's peer, not request.remote, which a forwarded-header set-up rewrites.
    peer = request.transport.get_extra_info("peername") if request.transport else None
    address = peer[0] if isinstance(peer, tuple) and peer else None
    if _is_loopback(address) and not any(name in request.headers for name in _PROXY_HEADERS):
        return None
    return 403, "metrics are served to this machine only unless BACKOFFICE__METRICS__TOKEN is set"


async def _read_outbox(request: web.Request, metrics: BackofficeMetrics) -> None:
    async with request.app[READ_SESSIONMAKER]() as session:
        rows = (
            await session.execute(
                select(
                    OutboxMessage.state,
                    func.count(OutboxMessage.id),
                    func.min(OutboxMessage.created_at),
                )
                .where(
                    OutboxMessage.state.in_([OutboxState.PENDING.value, OutboxState.FAILED.value])
                )
                .group_by(OutboxMessage.state)
            )
        ).all()
    counts = {OutboxState.PENDING.value: 0, OutboxState.FAILED.value: 0}
    oldest_pending: datetime | None = None
    for state, count, oldest in rows:
        counts[state] = int(count)
        if state == OutboxState.PENDING.value:
            oldest_pending = oldest
    for state, count in counts.items():
        metrics.outbox_rows.labels(state).set(count)
    age = 0.0
    if oldest_pending is not None:
        if oldest_pending.tzinfo is None:
            oldest_pending = oldest_pending.replace(tzinfo=timezone.utc)
        age = max(0.0, (datetime.now(timezone.utc) - oldest_pending).total_seconds())
    metrics.outbox_oldest_pending.set(age)


async def metrics_view(request: web.Request) -> web.Response:
    """``GET /metrics``: Prometheus text, or a JSON refusal (401/403)."""
    settings = request.app[SETTINGS]
    refusal = metrics_refusal(request, settings.metrics.token.get_secret_value())
    if refusal is not None:
        status, message = refusal
        code = "unauthorized" if status == 401 else "forbidden"
        return web.json_response({"error": {"code": code, "message": message}}, status=status)
    metrics = request.app[METRICS]
    await _read_outbox(request, metrics)
    body = generate_latest(metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup_metrics(app: web.Application) -> None:
    """Give ``app`` its registry, the ``/metrics`` route and the counting middleware.

    The middleware goes first, outside ``error_middleware``, so it counts the status the
    client gets, including the ones error handling produces.
    """
    app[METRICS] = BackofficeMetrics()
    app.middlewares.insert(0, metrics_middleware)
    app.router.add_get(METRICS_PATH, metrics_view)
