"""Run the action server: ``python -m actions``.

rasa_sdk's own server accepts any caller; this entry point adds the shared-token check that
DESIGN.md asks for between Rasa and the action server, a body-size limit
(``CIVICDESK_ACTIONS_MAX_BODY_BYTES``) and a shape check of action calls
(``actions/server_limits.py``), reads the catalogue in each call's conversation language
(``actions/catalogue_language.py``), serves ``/metrics``
(``actions/metrics.py``), and reads host and port from settings.
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from sanic import Request, Sanic, response
from sanic.response import HTTPResponse

from actions import server_limits
from actions.catalogue_language import catalogue_locale, locale_of_call
from actions.dependencies import get_open311_client, get_outbox, get_settings
from actions.metrics import METRICS_PATH, instrument
from actions.observability import configure_own_loggers, hush_url_loggers
from actions.reference_push import pusher_from_settings, relay_round
from actions.settings import ActionSettings
from channels._server_limits import ACTIONS_ENV, DEFAULT_ACTIONS_MAX_BODY_BYTES, max_body_bytes

logger = logging.getLogger("actions")

TOKEN_HEADER = "X-CivicDesk-Action-Token"  # noqa: S105 (a header name, not a secret)
# /metrics checks its own credentials (a different secret from the one Rasa holds).
_OPEN_PATHS = frozenset({"/health", METRICS_PATH})


def create_server_app(settings: ActionSettings, *, relay: bool = True) -> Sanic:
    """rasa_sdk's app with the action-token check, ``/metrics`` and (``relay``) the outbox
    relay, which starts with the server."""
    from rasa_sdk.endpoint import create_app

    expected = settings.action_token.get_secret_value().encode()
    if not expected:
        logger.warning("CIVICDESK_ACTION_TOKEN is empty: the action server accepts any caller")

    app: Sanic = create_app("actions", cors_origins=[])
    # Before the token check, so refused calls are timed and counted too.
    instrument(app, lambda: get_outbox().backlog())

    @app.on_request
    async def check_token(request: Request) -> HTTPResponse | None:
        if not expected or request.path in _OPEN_PATHS:
            return None
        given = request.headers.get(TOKEN_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return response.json({"error": "missing or wrong action token"}, status=401)
        return None

    # After the token check: bodies over the limit and malformed action calls get a JSON
    # 413/400 instead of a 500 from rasa_sdk (actions/server_limits.py).
    server_limits.install(app, max_body_bytes(ACTIONS_ENV, DEFAULT_ACTIONS_MAX_BODY_BYTES))

    @app.on_request
    async def read_in_conversation_language(request: Request) -> None:
        # The catalogue language of this call (actions/catalogue_language.py), set in the
        # request's own context, which its handler runs in; after the limits, so only a body
        # that passed them is read.
        if request.method == "POST" and request.path == "/webhook":
            try:
                catalogue_locale.set(locale_of_call(request.json))
            except Exception:  # a body the limits let through but cannot be read: English
                catalogue_locale.set(None)

    async def relay_outbox() -> None:
        # Retries what the back office could not take (submissions, requests for a person,
        # withdrawals, reopenings, ratings) until the server stops, and pushes each outcome
        # to its citizen when Rasa's HTTP API is configured.
        outbox, interval = get_outbox(), settings.outbox_retry_seconds
        pusher = pusher_from_settings(settings)
        if pusher is None:
            logger.info("CIVICDESK_RASA_URL/TOKEN unset: queued references are told on reply")
        while True:
            try:
                await relay_round(outbox, get_open311_client(), pusher)
            except Exception:
                logger.exception("outbox relay round failed")
            await asyncio.sleep(interval)

    if relay:

        @app.after_server_start
        async def start_relay(app: object, loop: object) -> None:
            app.add_task(relay_outbox())  # type: ignore[attr-defined]

    return app


def main() -> None:
    """Start the action server in the foreground until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    configure_own_loggers()
    hush_url_loggers()
    settings = get_settings()
    if not settings.backoffice_api_key.get_secret_value():
        raise SystemExit(
            "CIVICDESK_BACKOFFICE_API_KEY is not set: create one with "
            "`make backoffice-api-key` (or use `make run`, which sets it up)"
        )
    app = create_server_app(settings)
    logger.info("action server listening on http://%s:%d", settings.host, settings.port)
    app.run(settings.host, settings.port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()
