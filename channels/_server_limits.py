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

Routes that take less declare it: ``@blueprint.route(..., ctx_max_body_bytes=N)``. On an app
:func:`apply` set up, such a route's limit is lowered to ``N`` once Sanic has matched the
route and before it reads the body, so a body declared larger (``Content-Length``) is refused
without reading any of it, and a chunked one as soon as its chunks pass ``N``; the route's
own check after reading stays, for apps built without :func:`apply` (the channel tests).

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

ROUTE_LIMIT = "max_body_bytes"
"""The route context key (``ctx_max_body_bytes=`` on the route) of a route's own limit."""

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


def route_limit(request: Request) -> int | None:
    """The limit the matched route declares (``ctx_max_body_bytes``), None without one."""
    route = getattr(request, "route", None)
    limit = getattr(getattr(route, "ctx", None), ROUTE_LIMIT, None)
    return limit if isinstance(limit, int) else None


async def _lower_to_route_limit(request: Request, **_: Any) -> None:
    """Sanic's ``http.routing.after`` signal: the route is known, its body not read yet."""
    limit, stream = route_limit(request), request.stream
    if limit is not None and stream is not None:
        stream.request_max_size = min(stream.request_max_size, limit)


def apply(app: Sanic, limit: int) -> None:
    """Read at most ``limit`` bytes of any request body to ``app``, less where a route says so
    (``ctx_max_body_bytes``); answer past it with a JSON 413. Idempotent (the last limit
    wins)."""
    app.config.REQUEST_MAX_SIZE = limit

    def too_large(request: Request, exception: Exception) -> HTTPResponse:
        own = route_limit(request)
        applied = limit if own is None else min(own, limit)
        logger.info("request body over the %d-byte limit refused", applied)
        return json_response(
            {
                "error": {
                    "code": "body_too_large",
                    "description": f"the request body is larger than the limit of {applied} bytes",
                }
            },
            status=413,
        )

    app.error_handler.add(PayloadTooLarge, too_large)
    if not getattr(app.ctx, "civicdesk_route_limits", False):
        app.signal("http.routing.after")(_lower_to_route_limit)
        app.ctx.civicdesk_route_limits = True


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
    "ROUTE_LIMIT",
    "apply",
    "install",
    "max_body_bytes",
    "route_limit",
]
