"""What the bot side's logs and ``/metrics`` endpoints share: sender pseudonyms, the log level
of CivicDesk's own loggers, and who may read metrics.

Standard library only, so Rasa's process (``bot.metrics``, the channels) and the action server
can both import it without pulling in the other's dependencies.

- :func:`sender_tag` turns a sender or conversation id (a Telegram user id, a WeChat open id,
  ``telegram:12345``) into a short keyed hash, so log lines of one conversation can be followed
  without the id itself, which points at a person, ever being written. The key is
  ``CIVICDESK_LOG_HASH_KEY``; give every process the same one to follow a conversation across
  Rasa and the action server and across restarts. Without it each process draws a random key,
  so its tags mean nothing outside that process (safe, but not joinable).
- :func:`configure_own_loggers` sets the level of the ``actions``, ``channels`` and ``bot``
  loggers from ``CIVICDESK_LOG_LEVEL`` (default: leave them to the process's level) without
  making any library more talkative.
- :func:`metrics_refusal` decides who may read ``/metrics``: with ``CIVICDESK_METRICS_TOKEN``
  set, callers that send ``Authorization: Bearer <token>``; without it, only a client on this
  machine that did not come through a proxy (no ``Forwarded``/``X-Forwarded-For`` header).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
from collections.abc import Mapping

LOG_HASH_KEY_ENV = "CIVICDESK_LOG_HASH_KEY"
LOG_LEVEL_ENV = "CIVICDESK_LOG_LEVEL"
METRICS_TOKEN_ENV = "CIVICDESK_METRICS_TOKEN"  # noqa: S105 (the variable's name, not a secret)

# The loggers CivicDesk's own bot-side code logs to (logging.getLogger(__name__) per module).
OWN_LOGGERS = ("actions", "channels", "bot")

# Headers a reverse proxy adds: a request carrying one came from further away than it looks.
_PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")

_process_key: bytes | None = None
_CHANNEL_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,31}:")


def _hash_key() -> bytes:
    global _process_key
    configured = os.environ.get(LOG_HASH_KEY_ENV, "")
    if configured:
        return configured.encode()
    if _process_key is None:
        _process_key = secrets.token_bytes(32)
    return _process_key


def sender_tag(sender_id: str | None) -> str:
    """A stable pseudonym of a sender for log lines: ``s-`` and 12 hex digits.

    Keyed (HMAC-SHA256), because most chat ids are short numbers that an unkeyed hash would
    give away to anyone who hashes every number. ``None`` or an empty id gives ``s-none``;
    a ``channel:`` prefix is ignored.
    """
    if not sender_id:
        return "s-none"
    # An identity "telegram:12345" and its conversation id "12345" get the same tag, here
    # and in the back office (civicdesk_backoffice/log_ids.py), so lines can be joined.
    conversation = _CHANNEL_PREFIX.sub("", sender_id, count=1)
    digest = hmac.new(_hash_key(), conversation.encode(), hashlib.sha256).hexdigest()
    return f"s-{digest[:12]}"


def configure_own_loggers(environ: Mapping[str, str] | None = None) -> None:
    """Apply ``CIVICDESK_LOG_LEVEL`` to CivicDesk's loggers only (called by entry points).

    A more talkative level than the root handlers' also lowers those handlers' thresholds,
    because Rasa installs its handler at its own level and would drop the records otherwise;
    every other logger keeps the level it has, so libraries stay as quiet as before.
    """
    name = (environ if environ is not None else os.environ).get(LOG_LEVEL_ENV, "").strip()
    if not name:
        return
    level = logging.getLevelName(name.upper())
    if not isinstance(level, int):
        raise SystemExit(f"{LOG_LEVEL_ENV}={name!r} is not a log level (DEBUG, INFO, WARNING)")
    for logger_name in OWN_LOGGERS:
        logging.getLogger(logger_name).setLevel(level)
    # Records of these loggers reach the root's handlers whatever the root logger's own
    # level is; only a handler's threshold can still drop them.
    for handler in logging.getLogger().handlers:
        if handler.level > level:
            handler.setLevel(level)


# Libraries that log each HTTP request's full URL at INFO: the URLs carry a citizen's
# identity in their path (/api/v1/citizens/telegram:123/...) and their words in queries
# (services/search?q=...).
URL_LOGGERS = ("httpx",)


def hush_url_loggers() -> None:
    """Keep the request-URL loggers of HTTP clients to warnings (entry points call it)."""
    for name in URL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def metrics_refusal(
    peer_address: str, headers: Mapping[str, str], token: str | None = None
) -> tuple[int, str] | None:
    """Why a request for ``/metrics`` is refused, as ``(status, message)``, or ``None``.

    Args:
        peer_address: The TCP peer's address (not one a header claims).
        headers: The request's headers (case-insensitive lookups are done here).
        token: The expected bearer token; ``None`` reads ``CIVICDESK_METRICS_TOKEN``.
    """
    expected = os.environ.get(METRICS_TOKEN_ENV, "") if token is None else token
    lowered = {key.lower(): value for key, value in headers.items()}
    if expected:
        scheme, _, given = lowered.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), expected.encode()
        ):
            return None
        return 401, "metrics need the bearer token (CIVICDESK_METRICS_TOKEN)"
    if _is_loopback(peer_address) and not any(name in lowered for name in _PROXY_HEADERS):
        return None
    return 403, "metrics are served to this machine only unless CIVICDESK_METRICS_TOKEN is set"
