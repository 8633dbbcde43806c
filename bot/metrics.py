"""Prometheus metrics of the Rasa process, at ``GET /metrics`` on Rasa's port.

Listed in ``credentials.yml`` as ``bot.metrics.MetricsInput``: Rasa builds every input channel
it finds there and registers its blueprint, and this "channel" uses that to serve ``/metrics``
(its URL prefix is absolute, so it is not under ``/webhooks/``) and to start counting turns.
It receives no messages.

What is counted, with no personal data in any label or value:

- ``civicdesk_rasa_turns_total{channel}``: messages handled (one per citizen message);
- ``civicdesk_rasa_turn_seconds{channel}``: how long each took, from the conversation's lock
  to the saved tracker (NLU, policies, every action call);
- ``civicdesk_rasa_turn_errors_total{channel}``: turns that ended in an exception;
- ``civicdesk_rasa_log_errors_total{component}``: log records at ERROR or above, by the
  first part of the logger's name (``rasa``, ``sanic``, ``channels``, ``bot``, ...): Rasa
  catches most failures (an action server that is down, a bad model call) and only logs them;
- the prometheus-client process collectors (CPU, memory, open files).

A channel adapter sees only its own messages, and Rasa has no per-turn hook, so turns are
measured by wrapping ``Agent.handle_message``, which every channel's messages go through
(``rasa.core.channels.channel.register``). Who may read ``/metrics``:
``actions.observability.metrics_refusal``.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.observability import metrics_refusal

# Turn times from a cached greeting (tens of ms) to a slow back office (seconds).
TURN_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

TURNS = Counter("civicdesk_rasa_turns", "Citizen messages handled by Rasa", ["channel"])
TURN_SECONDS = Histogram(
    "civicdesk_rasa_turn_seconds",
    "Time to handle one citizen message, lock to saved conversation",
    ["channel"],
    buckets=TURN_BUCKETS,
)
TURN_ERRORS = Counter(
    "civicdesk_rasa_turn_errors", "Citizen messages whose handling raised", ["channel"]
)
LOG_ERRORS = Counter(
    "civicdesk_rasa_log_errors", "Log records at ERROR or above, by component", ["component"]
)

# A channel's name as Rasa's channels report it; anything else is counted as "other", so a
# label can never carry text a client chose.
_CHANNEL_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_INSTALLED_MARK = "_civicdesk_turn_metrics"


def channel_label(input_channel: str | None) -> str:
    """The ``channel`` label for a message's ``input_channel``."""
    if input_channel and _CHANNEL_NAME.fullmatch(input_channel):
        return input_channel
    return "other"


class _ErrorCounter(logging.Handler):
    """Counts ERROR and worse records by component; writes nothing anywhere."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        component = record.name.split(".", 1)[0]
        LOG_ERRORS.labels(component if _CHANNEL_NAME.fullmatch(component) else "other").inc()


def install() -> None:
    """Start counting turns and error logs in this process (idempotent)."""
    current: Any = Agent.handle_message
    if getattr(current, _INSTALLED_MARK, False):
        return
    original: Callable[[Agent, UserMessage], Awaitable[Any]] = current

    @functools.wraps(original)
    async def handle_message(self: Agent, message: UserMessage) -> Any:
        channel = channel_label(message.input_channel)
        started = time.perf_counter()
        try:
            return await original(self, message)
        except Exception:
            TURN_ERRORS.labels(channel).inc()
            raise
        finally:
            TURNS.labels(channel).inc()
            TURN_SECONDS.labels(channel).observe(time.perf_counter() - started)

    setattr(handle_message, _INSTALLED_MARK, True)
    Agent.handle_message = handle_message  # type: ignore[method-assign]
    logging.getLogger().addHandler(_ErrorCounter())


def metrics_response(request: Request) -> HTTPResponse:
    """The Prometheus text of this process's metrics, or a JSON refusal."""
    refusal = metrics_refusal(request.ip, dict(request.headers))
    if refusal is not None:
        status, message = refusal
        code = "unauthorized" if status == 401 else "forbidden"
        return response.json({"error": {"code": code, "message": message}}, status=status)
    return response.raw(generate_latest(), content_type=CONTENT_TYPE_LATEST)


class MetricsInput(InputChannel):  # type: ignore[misc]
    """Serves ``GET /metrics`` on Rasa's port and installs the turn counters."""

    @classmethod
    def name(cls) -> str:
        return "metrics"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> MetricsInput:
        install()
        return cls()

    def url_prefix(self) -> str:
        # Absolute, so Rasa's urljoin("/webhooks/", ...) leaves it as it is.
        return "/metrics"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("civicdesk_metrics", __name__)

        @blueprint.route("", methods=["GET"], strict_slashes=False)
        async def metrics(request: Request) -> HTTPResponse:
            return metrics_response(request)

        return blueprint
