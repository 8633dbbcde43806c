"""``dev-bootstrap``: one idempotent step that makes a local back office usable by the bot.

It migrates, loads the catalogue and makes sure a credentials file holds a working API key
(``dev-bot``) and staff login (``dev-staff``). Credentials that still verify are kept, so
running it on every ``make run`` changes nothing after the first time.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice.api_keys import find_active_key, rekey_api_key
from civicdesk_backoffice.catalogue import SyncReport, load_catalogue
from civicdesk_backoffice.db import create_engine, create_sessionmaker, ensure_sqlite_folder
from civicdesk_backoffice.models import StaffRole
from civicdesk_backoffice.schema import migrate
from civicdesk_backoffice.settings import Settings
from civicdesk_backoffice.staff import authenticate, generate_password, set_staff_user

DEV_API_KEY_NAME = "dev-bot"
DEV_STAFF_USERNAME = "dev-staff"
DEV_STAFF_DEPARTMENT = "Customer Services"


@dataclass(frozen=True)
class DevCredentials:
    """What the credentials file holds (and what the bot and a developer need)."""

    api_key: str
    staff_username: str
    staff_password: str


@dataclass(frozen=True)
class BootstrapResult:
    """What ``dev-bootstrap`` did, for its one-line confirmation."""

    catalogue: SyncReport
    credentials_renewed: bool


def dev_bootstrap(settings: Settings, credentials_file: Path) -> BootstrapResult:
    """Migrate, load the catalogue, and ensure ``credentials_file`` holds working credentials.

    Args:
        settings: Process settings (database URL and catalogue path are used).
        credentials_file: JSON file with ``api_key``, ``staff_username``, ``staff_password``;
            written with mode 0600 when missing or no longer valid.

    Returns:
        The catalogue sync report and whether new credentials were written.
    """
    existing = read_credentials(credentials_file)
    report, fresh = asyncio.run(_prepare_database(settings, existing))
    if fresh is None:
        credentials_file.chmod(0o600)
        return BootstrapResult(report, credentials_renewed=False)
    # Written after the commit: if this fails, the next run finds the file stale and simply
    # issues new credentials again.
    write_credentials(credentials_file, fresh)
    return BootstrapResult(report, credentials_renewed=True)


async def _prepare_database(
    settings: Settings, existing: DevCredentials | None
) -> tuple[SyncReport, DevCredentials | None]:
    """Migrate and load the catalogue; issue new credentials unless ``existing`` still work."""
    url = settings.db.url.get_secret_value()
    ensure_sqlite_folder(url)
    engine = create_engine(url)
    try:
        await migrate(engine)
        sessionmaker = create_sessionmaker(engine)
        report = await load_catalogue(sessionmaker, settings.catalogue_path)
        async with sessionmaker.begin() as session:
            if existing is not None and await _still_valid(session, existing):
                return report, None
            fresh = DevCredentials(
                api_key=await rekey_api_key(session, DEV_API_KEY_NAME),
                staff_username=DEV_STAFF_USERNAME,
                staff_password=generate_password(),
            )
            await set_staff_user(
                session,
                fresh.staff_username,
                fresh.staff_password,
                DEV_STAFF_DEPARTMENT,
                StaffRole.ADMIN,
            )
        return report, fresh
    finally:
        await engine.dispose()


def read_credentials(path: Path) -> DevCredentials | None:
    """The credentials in ``path``, or None if it is missing or not in the expected shape."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return DevCredentials(
            api_key=str(raw["api_key"]),
            staff_username=str(raw["staff_username"]),
            staff_password=str(raw["staff_password"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_credentials(path: Path, credentials: DevCredentials) -> None:
    """Write ``credentials`` as JSON, readable by the owner only, replacing the file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # Created with 0600 from the start, so the secrets are never readable by others.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(asdict(credentials), handle, indent=2)
            handle.write("\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


async def _still_valid(session: AsyncSession, credentials: DevCredentials) -> bool:
    if credentials.staff_username != DEV_STAFF_USERNAME:
        return False
    key = await find_active_key(session, credentials.api_key)
    if key is None or key.name != DEV_API_KEY_NAME:
        return False
    user = await authenticate(session, credentials.staff_username, credentials.staff_password)
    return user is not None
