"""The ``civicdesk-backoffice`` command line, run in-process against the test databases.

The commands call ``asyncio.run`` themselves, so they run in a worker thread here while
the test's own event loop drives the HTTP client.
"""

from __future__ import annotations

import asyncio
import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from aiohttp import encode_basic_auth
from aiohttp.test_utils import TestClient

from civicdesk_backoffice.__main__ import main
from civicdesk_backoffice.app import create_app
from civicdesk_backoffice.bootstrap import dev_bootstrap
from civicdesk_backoffice.schema import head_revision
from civicdesk_backoffice.settings import Settings
from tests.conftest import street_light_form

Client = TestClient[Any, Any]


async def run_cli(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    db_url: str,
    *argv: str,
) -> tuple[int, str, str]:
    """Run one CLI command on ``db_url``; returns exit code, stdout and stderr."""
    monkeypatch.setenv("BACKOFFICE__DB__URL", db_url)
    monkeypatch.chdir(Path(__file__).parent)  # no stray .env file from the working copy
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_api_key_create_then_revoke(
    client: Client,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = await run_cli(
        monkeypatch, capsys, db_url, "api-key", "create", "--name", "bot"
    )
    assert code == 0, err
    key = out.strip()
    assert key.startswith("cd_")
    assert len(key) == 35
    assert "shown only this once" in err

    response = await client.post("/open311/v2/requests.json", data=street_light_form(key))
    assert response.status == 201

    code, out, _ = await run_cli(monkeypatch, capsys, db_url, "api-key", "list")
    assert code == 0
    assert "bot\tcd_" in out
    assert "active" in out
    assert key not in out

    code, out, err = await run_cli(
        monkeypatch, capsys, db_url, "api-key", "revoke", "--name", "bot"
    )
    assert code == 0, err
    assert "revoked" in out

    response = await client.post("/open311/v2/requests.json", data=street_light_form(key))
    assert response.status == 403
    assert "revoked" in (await response.json())[0]["description"]


async def test_api_key_errors_are_one_line_with_exit_code_1(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (await run_cli(monkeypatch, capsys, db_url, "api-key", "create", "--name", "a"))[0] == 0
    code, _, err = await run_cli(monkeypatch, capsys, db_url, "api-key", "create", "--name", "a")
    assert code == 1
    assert "already exists" in err
    assert "Traceback" not in err
    code, _, err = await run_cli(monkeypatch, capsys, db_url, "api-key", "revoke", "--name", "b")
    assert code == 1
    assert "no active API key named 'b'" in err


async def test_staff_create_with_password_from_stdin(
    client: Client,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    code, out, err = await run_cli(
        monkeypatch,
        capsys,
        db_url,
        "staff",
        "create",
        "--username",
        "carol",
        "--department",
        "Street Lighting",
        "--role",
        "supervisor",
        "--password-stdin",
    )
    assert code == 0, err
    assert "correct horse" not in out
    headers = {"Authorization": encode_basic_auth("carol", "correct horse battery")}
    assert (await client.get("/api/v1/staff/tickets", headers=headers)).status == 200


async def test_commands_refuse_an_unmigrated_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing.sqlite3'}"
    code, _, err = await run_cli(monkeypatch, capsys, url, "api-key", "list")
    assert code == 1
    assert "civicdesk-backoffice migrate" in err
    assert not (tmp_path / "missing.sqlite3").exists()

    code, out, err = await run_cli(monkeypatch, capsys, url, "migrate")
    assert code == 0, err
    assert f"revision {head_revision()}" in out
    assert (await run_cli(monkeypatch, capsys, url, "api-key", "list"))[1] == "no API keys\n"


async def test_dev_bootstrap_writes_working_private_credentials(
    aiohttp_client: Any, backend: str, db_url: str, tmp_path: Path, settings: Settings
) -> None:
    path = tmp_path / "creds" / "dev-credentials.json"
    first = await asyncio.to_thread(dev_bootstrap, settings, path)
    assert first.credentials_renewed is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    credentials = json.loads(path.read_text(encoding="utf-8"))
    assert set(credentials) == {"api_key", "staff_username", "staff_password"}

    # Running it again keeps credentials that still work.
    second = await asyncio.to_thread(dev_bootstrap, settings, path)
    assert second.credentials_renewed is False
    assert json.loads(path.read_text(encoding="utf-8")) == credentials

    client = await aiohttp_client(create_app(settings))
    response = await client.post(
        "/open311/v2/requests.json", data=street_light_form(credentials["api_key"])
    )
    assert response.status == 201
    headers = {
        "Authorization": encode_basic_auth(
            credentials["staff_username"], credentials["staff_password"]
        )
    }
    assert (await client.get("/api/v1/staff/tickets", headers=headers)).status == 200


async def test_dev_bootstrap_cli_replaces_broken_credentials(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "dev-credentials.json"
    path.write_text('{"api_key": "cd_stale"}', encoding="utf-8")
    path.chmod(0o644)
    monkeypatch.setenv(
        "BACKOFFICE__CATALOGUE_PATH", str(Path(__file__).parent / "data/catalogue.yml")
    )
    code, out, err = await run_cli(
        monkeypatch, capsys, db_url, "dev-bootstrap", "--credentials-file", str(path)
    )
    assert code == 0, err
    assert "wrote new dev credentials" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    credentials = json.loads(path.read_text(encoding="utf-8"))
    assert credentials["api_key"].startswith("cd_")
    assert credentials["staff_username"] == "dev-staff"
    assert len(credentials["staff_password"]) >= 12
