"""Settings of the action server process, read from the environment (see `.env.example`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseSettings, SecretStr, validator

# Rasa pins pydantic 1, so this uses pydantic 1's BaseSettings rather than pydantic-settings.


class ActionSettings(BaseSettings):
    """Configuration of the action server.

    Attributes:
        backoffice_url: Base URL of the back office (its Open311 API lives under
            ``/open311/v2/``).
        backoffice_api_key: The Open311 API key the bot files tickets with.
        backoffice_timeout_seconds: Per-request timeout towards the back office.
        catalogue_fresh_seconds: How long the catalogue read from the back office is used
            before asking it again (conditionally, with its ETag); 0 asks every time.
        backoffice_public_url: Base URL the back office puts in the ``media_url`` of uploaded
            photos when it differs from ``backoffice_url`` (its ``BACKOFFICE__PUBLIC_URL``);
            a shared photo is accepted only from one of these two.
        fallback_service_code: Catalogue entry used when no service matches the citizen's words
            (configuration, so the bot still never hard-codes a service).
        action_token: Shared secret Rasa must send in ``X-CivicDesk-Action-Token``; empty
            disables the check (only for running the action server alone in development).
        outbox_path: SQLite file of the submissions outbox (``CIVICDESK_OUTBOX_PATH``).
        outbox_retry_seconds: How often the action server looks for queued submissions due
            for another attempt.
        rasa_url: Rasa's HTTP API (``CIVICDESK_RASA_URL``, e.g. ``http://127.0.0.1:5005``),
            started with ``--enable-api``; with ``rasa_token`` set, the outbox relay tells a
            citizen the reference of a queued request as soon as it is filed. Empty: the
            reference is told the next time the citizen writes.
        rasa_token: The ``--auth-token`` Rasa was started with (``CIVICDESK_RASA_TOKEN``).
        host: Interface to listen on (``CIVICDESK_ACTIONS_HOST``).
        port: Port to listen on (``CIVICDESK_ACTIONS_PORT``).
    """

    backoffice_url: str = "http://127.0.0.1:8000"
    backoffice_api_key: SecretStr = SecretStr("")
    backoffice_timeout_seconds: float = 5.0
    catalogue_fresh_seconds: float = 5.0
    backoffice_public_url: str = ""
    fallback_service_code: str = "other_problem"
    action_token: SecretStr = SecretStr("")
    outbox_path: Path = Path("var/outbox.sqlite3")
    outbox_retry_seconds: float = 10.0
    rasa_url: str = ""
    rasa_token: SecretStr = SecretStr("")
    host: str = "127.0.0.1"
    port: int = 5055

    class Config:
        env_prefix = "CIVICDESK_"
        env_file = ".env"
        env_file_encoding = "utf-8"
        fields = {  # noqa: RUF012 (pydantic 1's configuration format)
            "host": {"env": "CIVICDESK_ACTIONS_HOST"},
            "port": {"env": "CIVICDESK_ACTIONS_PORT"},
        }

    @validator("catalogue_fresh_seconds")
    def _freshness_is_sane(cls, value: float) -> float:
        if not 0 <= value <= 3600:
            raise ValueError("must be from 0 to 3600 seconds")
        return value

    @validator("backoffice_timeout_seconds")
    def _timeout_is_sane(cls, value: float) -> float:
        if not 0 < value <= 60:
            raise ValueError("must be more than 0 and at most 60 seconds")
        return value

    @validator("port")
    def _port_is_valid(cls, value: int) -> int:
        if not 0 < value < 65536:
            raise ValueError("must be a TCP port number, 1 to 65535")
        return value
