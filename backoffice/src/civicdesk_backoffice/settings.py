"""Process settings, read once from the environment (and an optional ``.env`` file).

Every variable starts with ``BACKOFFICE__``; nested groups use ``__`` as well, so the
database URL is ``BACKOFFICE__DB__URL``. ``main()`` builds one :class:`Settings` and passes
it down; nothing else reads the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CATALOGUE_PATH = Path(__file__).parent / "catalogue" / "services.yml"
DEFAULT_DISTRICTS_PATH = Path(__file__).parent / "districts.yml"
"""The service catalogue shipped inside the package."""


class DatabaseSettings(BaseModel):
    """Where tickets live.

    Attributes:
        url: SQLAlchemy async URL. A secret because a PostgreSQL URL carries a password.
    """

    url: SecretStr = SecretStr("sqlite+aiosqlite:///var/backoffice.sqlite3")


class RasaSettings(BaseModel):
    """Where the outbox relay pushes ticket updates to citizens' chats (Rasa's HTTP API).

    The relay runs only when both ``url`` and ``token`` are set
    (``BACKOFFICE__RASA__URL``, ``BACKOFFICE__RASA__TOKEN``).

    Attributes:
        url: Base URL of the Rasa server, e.g. ``http://127.0.0.1:5005``.
        token: Rasa's ``--auth-token``.
        max_attempts: Sends tried per push before the row is marked failed.
        backoff_seconds: Wait after the first failed send; it doubles per attempt (with
            random jitter of +-50 %) up to ``backoff_cap_seconds``.
        backoff_cap_seconds: Longest wait between two attempts.
        poll_seconds: How often the relay looks for due rows.
        timeout_seconds: Time limit of one send.
    """

    url: str = ""
    token: SecretStr = SecretStr("")
    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_seconds: float = Field(default=2.0, gt=0)
    backoff_cap_seconds: float = Field(default=600.0, gt=0)
    poll_seconds: float = Field(default=1.0, gt=0)
    timeout_seconds: float = Field(default=10.0, gt=0)

    @property
    def enabled(self) -> bool:
        """Whether both the URL and the token are configured."""
        return bool(self.url.strip() and self.token.get_secret_value())


class MetricsSettings(BaseModel):
    """Who may read ``GET /metrics`` (``BACKOFFICE__METRICS__TOKEN``).

    Attributes:
        token: With a token, only ``Authorization: Bearer <token>`` is answered; without one,
            only clients on this machine that did not come through a proxy.
    """

    token: SecretStr = SecretStr("")


class RetentionSettings(BaseModel):
    """How long contact details of closed tickets are kept (``BACKOFFICE__RETENTION__*``).

    Attributes:
        contact_days: Days after a ticket closed (closed, rejected, duplicate, or resolved)
            before its contact details (phone, email, names, device id) are removed by
            ``civicdesk-backoffice retention run``; ``None`` (the default) keeps them until
            erased on request. Description, service, status, place and the chat identity
            (so the citizen can still find and reopen the ticket) stay.
    """

    contact_days: int | None = Field(default=None, ge=1, le=36500)


class Settings(BaseSettings):
    """Everything the back office process can be configured with.

    Attributes:
        db: Database connection settings.
        host: Interface ``serve`` binds to.
        port: TCP port ``serve`` listens on.
        max_body_bytes: Largest request body accepted; larger ones get 413.
        catalogue_path: The service catalogue file loaded at ``serve`` start.
        districts_path: The city's districts (``districts.py``), read at start; a ticket's
            district is chosen from them when it is filed.
        jurisdiction_id: The one jurisdiction this server answers for; a request naming
            another one gets 404, as the Open311 specification asks.
        contact: Who runs this endpoint, shown in Open311 service discovery.
        log_level: Root logging level for the CLI.
        own_log_level: Level of the back office's own loggers (``civicdesk_backoffice.*``)
            when it should differ from ``log_level``, e.g. ``DEBUG`` with libraries at INFO;
            empty: ``log_level``.
        media_dir: Where uploaded photos are stored (outside any static web root; they are
            served one by one under ``/media/`` by name only).
        max_media_bytes: Largest photo upload accepted.
        max_media_pixels: Largest photo (width x height) decoded; bigger ones are refused
            before decoding, so a small file cannot expand into gigabytes of pixels.
        public_url: Base URL clients reach this server at, for absolute ``media_url``s;
            the request's own origin when empty.
        rasa: The chat push relay (see :class:`RasaSettings`).
        handoff_department: Who answers a citizen's request for a person when it names no
            ticket (with a ticket, that ticket's department does).
        handoff_response_hours: The answer time promised to a citizen who asks for a person.
        staff_cookie_secure: Mark the staff console's session cookie ``Secure`` (sent over
            HTTPS only). Leave it on in production; tests over plain HTTP turn it off.
        staff_session_hours: How long a console sign-in lasts.
        staff_lockout_failures: Wrong passwords in a row that lock a console account.
        staff_lockout_minutes: How long such an account stays locked.
        metrics: Who may read ``/metrics`` (see :class:`MetricsSettings`).
        retention: How long contact details of closed tickets are kept
            (see :class:`RetentionSettings`).
        log_hash_key: Key of the hashed sender ids in log lines (``log_ids.sender_tag``);
            empty draws a random key per process, so tags are not comparable across them.
            The same value as the bot side's ``CIVICDESK_LOG_HASH_KEY`` gives one citizen
            the same tag everywhere.
    """

    model_config = SettingsConfigDict(
        env_prefix="BACKOFFICE__",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    catalogue_path: Path = DEFAULT_CATALOGUE_PATH
    districts_path: Path = DEFAULT_DISTRICTS_PATH
    jurisdiction_id: str = "civicdesk.local"
    contact: str = "CivicDesk back office administrators"
    log_level: str = "INFO"
    own_log_level: str = ""
    media_dir: Path = Path("var/media")
    max_media_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_media_pixels: int = Field(default=40_000_000, ge=1)
    public_url: str = ""
    rasa: RasaSettings = Field(default_factory=RasaSettings)
    handoff_department: str = Field(default="Citizen Services", min_length=1, max_length=100)
    handoff_response_hours: int = Field(default=24, ge=1, le=24 * 30)
    staff_cookie_secure: bool = True
    staff_session_hours: int = Field(default=8, ge=1, le=24 * 7)
    staff_lockout_failures: int = Field(default=5, ge=1, le=100)
    staff_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    log_hash_key: SecretStr = SecretStr("")
