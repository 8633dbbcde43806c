"""Where actions get their collaborators, so tests can hand them a fake or a real server."""

from __future__ import annotations

from typing import Protocol

from actions.open311_client import (
    CitizenPoints,
    CitizenTicket,
    Open311Client,
    ServiceMatch,
    ServiceNeeds,
)
from actions.outbox import Filer, HandoffFiler, MoveSender, Outbox
from actions.settings import ActionSettings
from open311_schema import Service, ServiceDefinition


class Open311Api(Filer, HandoffFiler, MoveSender, Protocol):
    """What actions need from the back office; :class:`Open311Client` is the real one.

    The parts the outbox needs as well are declared there: filing (``Filer``), handing off
    (``HandoffFiler``) and withdrawing, reopening, rating and reading a ticket
    (``MoveSender``). Handing off and the three moves are CivicDesk extensions too.
    """

    async def list_services(self) -> list[Service]: ...

    async def get_service_definition(self, service_code: str) -> ServiceDefinition: ...

    async def service_needs(self, service_code: str) -> ServiceNeeds: ...

    # CivicDesk extensions: each raises ExtensionUnavailable where the server lacks it.
    async def search_services(self, query: str, *, limit: int = 8) -> list[ServiceMatch]: ...

    async def list_citizen_tickets(
        self, identity: str, *, limit: int = 100
    ) -> list[CitizenTicket]: ...

    async def add_comment(self, identity: str, service_request_id: str, text: str) -> None: ...

    async def set_points_opt_in(
        self, identity: str, service_request_id: str, opt_in: bool
    ) -> int: ...

    async def citizen_points(self, identity: str) -> CitizenPoints: ...


_settings: ActionSettings | None = None
_client: Open311Api | None = None
_outbox: Outbox | None = None


def get_settings() -> ActionSettings:
    """The process's settings, read from the environment on first use."""
    global _settings
    if _settings is None:
        _settings = ActionSettings()
    return _settings


def get_open311_client() -> Open311Api:
    """The process-wide back-office client, created on first use (never at import)."""
    global _client
    if _client is None:
        settings = get_settings()
        _client = Open311Client(
            settings.backoffice_url,
            settings.backoffice_api_key.get_secret_value(),
            timeout_seconds=settings.backoffice_timeout_seconds,
            catalogue_fresh_seconds=settings.catalogue_fresh_seconds,
        )
    return _client


def get_outbox() -> Outbox:
    """The process-wide submissions outbox (its SQLite file is opened on first use)."""
    global _outbox
    if _outbox is None:
        _outbox = Outbox(get_settings().outbox_path)
    return _outbox


def override(
    *,
    client: Open311Api | None = None,
    settings: ActionSettings | None = None,
    outbox: Outbox | None = None,
) -> None:
    """Replace the collaborators (tests); ``None`` restores lazy creation from settings."""
    global _client, _settings, _outbox
    _client = client
    _settings = settings
    _outbox = outbox
