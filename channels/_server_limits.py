"""The largest request body the Sanic servers read, and a JSON 413 past it.

Sanic reads up to ``REQUEST_MAX_SIZE`` bytes of a body before any handler runs (100 MB by
default, more than any CivicDesk route needs) and answers past it with an error page whose
format depends on the request's headers. :func:`apply` sets the limit on one Sanic app and
answers past it with ``413 {"error": {"code": "body_too_large", "description": ...}}``, the
channels' error format; nothing of such a request reaches a handler.

Two processes use it:

- **Rasa's server** (every channel webhook, Rasa's HTTP API when on): :func:`install` wraps
  Rasa's ``register`` of the input channels, the step where Rasa has built its Sanic app and
  before it serves, so the limit holds whichever routes the app has. ``channels/_base.py``
  calls it on import, and Rasa imports the channels named in ``credentials.yml`` before it
  builds the app. The limit, ``CIVICDESK_RASA_MAX_BODY_BYTES`` (16 MiB by default), must fit
  the largest legitimate body: a signed REST message with a photo at the 10 MiB cap, in
  base64. Each route keeps its own smaller cap too (a text message's JSON is refused past
  64 KiB or less), checked once the body is read.
- **The action server** (``actions/__main__.py``): ``CIVICDESK_ACTIONS_MAX_BODY_BYTES``
  (8 MiB by default); Rasa sends the loaded part of the conversation with each call, which the
  trimming tracker store keeps to a few dozen events.

No Rasa import here: the action server uses this module without loading Rasa.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from sanic import Sanic
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

logger = logging.getLogger(__name__)

RASA_ENV = "CIVICDESK_RASA_MAX_BODY_BYTES"
DEFAULT_RASA_MAX_BODY_BYTES = 16 * 1024 * 1024
ACTIONS_ENV = "CIVICDESK_ACTIONS_MAX_BODY_BYTES"
DEFAULT_ACTIONS_MAX_BODY_BYTES = 8 * 1024 * 1024
# Below this no channel could take a photo, nor Rasa an action server's answer.
MIN_BODY_BYTES = 64 * 1024

_installed = False


def max_body_bytes(env: str, default: int) -> int:
    """The limit set in ``env``, else ``default``; a value that is not a whole number of at
    least ``MIN_BODY_BYTES`` stops the process at start, naming the variable."""
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise ValueError(f"{env} must be a whole number of bytes") from error
    if value < MIN_BODY_BYTES:
        raise ValueError(f"{env} must be at least {MIN_BODY_BYTES} bytes")
    return value


def apply(app: Sanic, limit: int) -> None:
    """Read at most ``limit`` bytes of any request body to ``app``; answer past it with a
    JSON 413. Idempotent (the last limit wins)."""
    app.config.REQUEST_MAX_SIZE = limit

    def too_large(request: Request, exception: Exception) -> HTTPResponse:
        logger.info("request body over the %d-byte limit refused", limit)
        return json_response(
            {
                "error": {
                    "code": "body_too_large",
                    "description": f"the request body is larger than the limit of {limit} bytes",
                }
            },
            status=413,
        )

    app.error_handler.add(PayloadTooLarge, too_large)


def install() -> None:
    """Apply the Rasa server's limit to the app Rasa registers its channels on (idempotent).

    Wraps ``rasa.core.channels.channel.register``, which ``rasa.core.run.configure_app`` calls
    on the app it is about to serve (through the module, so the wrapper is what it finds).
    """
    global _installed
    if _installed:
        return
    from rasa.core.channels import channel as rasa_channel

    original = rasa_channel.register

    def register(input_channels: Any, app: Sanic, route: str | None) -> None:
        original(input_channels, app, route)
        apply(app, max_body_bytes(RASA_ENV, DEFAULT_RASA_MAX_BODY_BYTES))

    rasa_channel.register = register
    _installed = True


__all__ = [
    "ACTIONS_ENV",
    "DEFAULT_ACTIONS_MAX_BODY_BYTES",
    "DEFAULT_RASA_MAX_BODY_BYTES",
    "RASA_ENV",
    "apply",
    "install",
    "max_body_bytes",
]
