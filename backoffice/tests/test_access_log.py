"""The access log names routes, never paths, query strings or client addresses."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from civicdesk_backoffice.access_log import RedactedAccessLogger, RedactServerErrors
from civicdesk_backoffice.app import create_app
from civicdesk_backoffice.settings import Settings
from tests.conftest import street_light_form

IDENTITY = "telegram:987654321"


async def test_access_log_has_route_patterns_only(
    settings: Settings, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    # The runner `civicdesk-backoffice serve` uses (web.run_app builds the same one).
    runner = web.AppRunner(create_app(settings), access_log_class=RedactedAccessLogger)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            form = street_light_form(api_key, account_id=IDENTITY)
            async with http.post("/open311/v2/requests.json", data=form) as response:
                reference: Any = (await response.json())[0]["service_request_id"]
            key = {"X-API-Key": api_key}
            async with http.get(f"/api/v1/citizens/{IDENTITY}/tickets", headers=key) as response:
                assert response.status == 200
            async with http.get(f"/open311/v2/requests/{reference}.json?email=a@b.c") as response:
                assert response.status == 200
            async with http.get("/no/such/place/ada.lovelace@example.org") as response:
                assert response.status == 404
    finally:
        await runner.cleanup()
    lines = [record.getMessage() for record in caplog.records if record.name == "aiohttp.access"]
    assert len(lines) == 4, lines
    assert lines[0].startswith("POST /open311/v2/requests.{fmt} 201 ")
    assert lines[1].startswith("GET /api/v1/citizens/{identity}/tickets 200 ")
    assert lines[2].startswith("GET /open311/v2/requests/{id}.{fmt} 200 ")
    assert lines[3].startswith("GET <unmatched> 404 ")
    text = "\n".join(lines)
    for secret in ("987654321", reference, "a@b.c", "lovelace", "127.0.0.1"):
        assert secret not in text


async def test_parser_errors_are_logged_without_the_request_line(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    server_log = logging.getLogger("aiohttp.server")
    redaction = RedactServerErrors()
    server_log.addFilter(redaction)
    runner = web.AppRunner(create_app(settings), access_log_class=RedactedAccessLogger)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            secret = "ada.lovelace@example.org" * 400
            async with http.get(f"/open311/v2/requests.json?email={secret}") as response:
                assert 400 <= response.status < 500
    finally:
        await runner.cleanup()
        server_log.removeFilter(redaction)
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert records, "aiohttp should have logged the refused request"
    for record in records:
        assert "lovelace" not in record.getMessage()
        assert "127.0.0.1" not in record.getMessage()
        assert record.exc_info is None
