"""Fixtures: the real application on a real, migrated database, SQLite or PostgreSQL.

Every test that asks for ``db_url`` (directly or through ``client``) runs twice: once on a
SQLite file and once on PostgreSQL. Both databases are created with the project's own
``migrate`` (Alembic), never with ``create_all``:

- SQLite: one file is migrated per test session and copied for each test.
- PostgreSQL: one database ``civicdesk_test_<random>`` is created per test session on the
  server named by ``CIVICDESK_TEST_POSTGRES`` (default: the local trust-auth server),
  migrated once, emptied before each test and dropped at the end. If the server is down,
  the tests fail: a skipped PostgreSQL run would hide the backend production uses.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import ClientResponse, encode_basic_auth
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice import api_keys, staff
from civicdesk_backoffice.app import create_app
from civicdesk_backoffice.catalogue import load_catalogue
from civicdesk_backoffice.db import create_engine, create_sessionmaker
from civicdesk_backoffice.models import AuditEntry, Base, StaffRole
from civicdesk_backoffice.schema import migrate
from civicdesk_backoffice.settings import DatabaseSettings, Settings

TEST_CATALOGUE = Path(__file__).parent / "data" / "catalogue.yml"
POSTGRES_ADMIN_URL = os.environ.get(
    "CIVICDESK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgresql")

ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


async def _admin_execute(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _migrate_url(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Argon2 with minimal cost: the production cost only makes every sign-in slow here."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(staff, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        yield


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped afterwards."""
    name = f"civicdesk_test_{secrets.token_hex(6)}"
    asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    admin = make_url(POSTGRES_ADMIN_URL)
    url = admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(
        hide_password=False
    )
    try:
        asyncio.run(_migrate_url(url))
        yield url
    finally:
        asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test works on its own copy."""
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    asyncio.run(_migrate_url(f"sqlite+aiosqlite:///{path}"))
    return path


async def _empty_postgres(url: str) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            # The audit log refuses TRUNCATE through a trigger; replica mode skips user
            # triggers for this one transaction (the test role is a superuser).
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this test run."""
    return str(request.param)


@pytest.fixture
async def db_url(backend: str, sqlite_template: Path, postgres_url: str, tmp_path: Path) -> str:
    """URL of an empty, migrated database with the test catalogue loaded."""
    if backend == "sqlite":
        path = tmp_path / "backoffice.sqlite3"
        shutil.copyfile(sqlite_template, path)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = postgres_url
        await _empty_postgres(url)
    engine = create_engine(url)
    try:
        await load_catalogue(create_sessionmaker(engine), TEST_CATALOGUE)
    finally:
        await engine.dispose()
    return url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings of the application under test (no environment or ``.env`` involved)."""
    return Settings(
        _env_file=None,
        db=DatabaseSettings(url=SecretStr(db_url)),
        catalogue_path=TEST_CATALOGUE,
        max_body_bytes=64 * 1024,
        media_dir=tmp_path / "var" / "media",
        max_media_bytes=2 * 1024 * 1024,
        max_media_pixels=4_000_000,
    )


@pytest.fixture
async def sessionmaker(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Direct database access for arranging data and checking what the app stored."""
    engine = create_engine(db_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def client(aiohttp_client: ClientFactory, settings: Settings) -> TestClient[Any, Any]:
    """An HTTP client talking to the real application over loopback."""
    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def api_key(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    """A valid API key named ``bot``."""
    async with sessionmaker.begin() as session:
        return await api_keys.create_api_key(session, "bot")


@dataclass(frozen=True)
class StaffLogin:
    """A staff member created for a test, with their password."""

    username: str
    password: str
    department: str
    role: StaffRole

    @property
    def headers(self) -> dict[str, str]:
        """The HTTP Basic ``Authorization`` header of this staff member."""
        return {"Authorization": encode_basic_auth(self.username, self.password)}


StaffFactory = Callable[..., Awaitable[StaffLogin]]


@pytest.fixture
def make_staff(sessionmaker: async_sessionmaker[AsyncSession]) -> StaffFactory:
    """Create staff members: ``await make_staff("ann", "Street Lighting", StaffRole.AGENT)``."""

    async def make(username: str, department: str, role: StaffRole = StaffRole.AGENT) -> StaffLogin:
        password = f"pw-{secrets.token_hex(8)}"
        async with sessionmaker.begin() as session:
            await staff.create_staff_user(session, username, password, department, role)
        return StaffLogin(username, password, department, role)

    return make


def street_light_form(api_key: str | None, **overrides: str) -> dict[str, str]:
    """A valid ``POST requests`` form for the ``street_light`` test service."""
    form = {
        "service_code": "street_light",
        "lat": "52.5200",
        "long": "13.4050",
        "description": "The lamp outside number 12 is off.",
        "attribute[fault]": "out",
        "email": "citizen@example.org",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+49 30 1234567",
        "device_id": "device-123",
        "account_id": "telegram:12345",
    }
    if api_key is not None:
        form["api_key"] = api_key
    form.update(overrides)
    return {name: value for name, value in form.items() if value is not None}


async def file_request(client: TestClient[Any, Any], api_key: str, **overrides: str) -> str:
    """File a ``street_light`` request and return its ``service_request_id``."""
    response = await client.post(
        "/open311/v2/requests.json", data=street_light_form(api_key, **overrides)
    )
    assert response.status == 201, await response.text()
    body = await response.json()
    return str(body[0]["service_request_id"])


async def post_status(
    client: TestClient[Any, Any], who: StaffLogin, reference: str, status: str, **extra: Any
) -> ClientResponse:
    """``who`` moves the ticket to ``status`` through the staff API (``extra``: note...)."""
    return await client.post(
        f"/api/v1/staff/tickets/{reference}/status",
        json={"status": status, **extra},
        headers=who.headers,
    )


async def audit_log(sessionmaker: async_sessionmaker[AsyncSession]) -> list[AuditEntry]:
    """Every audit entry, oldest first."""
    async with sessionmaker() as session:
        return list((await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())


def parse_open311_xml(text: str) -> ET.Element:
    """Parse an XML answer of the server under test, checking its declaration first."""
    declaration, _, document = text.partition("\n")
    assert declaration == '<?xml version="1.0" encoding="utf-8"?>'
    return ET.fromstring(document)  # noqa: S314 (our own server's output, in a test)
