"""Every route of the back office (found in its router, so a new one is fuzzed too) gets each
naughty string in its path, query and body, with valid credentials so that the input reaches
the code behind authentication: no answer is a 5xx.

To stay within seconds, route number r takes the strings n with (n + r) % stride == 0:
every string still reaches a dozen routes and every route a score of strings. The stride is 5
on SQLite and 15 on PostgreSQL (same code, a second database's quirks: NUL bytes,
collations); ``CIVICDESK_FUZZ_FULL=1`` sends every string to every route (about a minute).

Redirects are not followed: the staff console answers a request without a session with a
redirect to its login page, which is not what is under test here.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import quote

from aiohttp import FormData, web
from aiohttp.test_utils import TestClient

from civicdesk_backoffice.models import StaffRole
from tests.conftest import StaffFactory, file_request
from tests.fuzz.naughty import HUGE, LONE_SURROGATE_JSON, NAUGHTY, json_with

Client = TestClient[Any, Any]
_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")
# Field names the endpoints read; every body carries all of them.
FIELDS = [
    "service_code",
    "description",
    "lat",
    "long",
    "address_string",
    "account_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "media_url",
    "attribute[fault]",
    "status",
    "note",
    "body",
    "visibility",
    "department",
    "assignee",
    "duplicate_of",
    "reason",
    "rating",
    "comment",
    "message",
    "service_request_id",
    "media_id",
    "opt_in",
    "text",
    "q",
    "csrf",
    "username",
    "password",
]
READS_JSON = [
    "/api/v1/citizens/{identity}/handoffs",
    "/api/v1/citizens/{identity}/tickets/{service_request_id}/comments",
    "/api/v1/citizens/{identity}/tickets/{service_request_id}/withdraw",
    "/api/v1/citizens/{identity}/tickets/{service_request_id}/reopen",
    "/api/v1/citizens/{identity}/tickets/{service_request_id}/rating",
    "/api/v1/staff/tickets/{service_request_id}/status",
    "/api/v1/staff/tickets/{service_request_id}/assignment",
    "/api/v1/staff/tickets/{service_request_id}/comments",
    "/api/v1/staff/handoffs/{handoff_id}/reply",
]
QUERY = ["q", "status", "limit", "since", "until", "staff", "service_request_id", "lang", "page"]


def routes(app: web.Application) -> list[tuple[str, str]]:
    """``(method, path template)`` of every route, sub-applications included (their
    resources carry the prefix they are mounted under)."""
    found = []
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource):
            found += routes(resource._app)
            continue
        for route in resource:
            if route.method != "HEAD":
                found.append((route.method, resource.canonical))
    return found


def fill(template: str, value: str, valid: dict[str, str] | None = None) -> str:
    """The template with ``value`` in each parameter, or the one ``valid`` names for it."""

    def one(match: re.Match[str]) -> str:
        return quote((valid or {}).get(match.group(1), value), safe="") or "x"

    return _PARAM.sub(one, template)


FULL = os.environ.get("CIVICDESK_FUZZ_FULL") == "1"


async def sweep(
    client: Client, headers: dict[str, str], strings: list[str], stride: int
) -> list[str]:
    """Send strings everywhere on every route (see the module's docstring for which); the
    5xx answers, described."""
    failures = []
    stride = 1 if FULL else stride
    for r, (method, template) in enumerate(routes(client.server.app)):
        for n, value in enumerate(strings):
            if (n + r) % stride:
                continue
            verb = "POST" if method == "*" else method
            path = fill(template, value)
            query = dict.fromkeys(QUERY, value)
            if verb in ("GET", "DELETE"):
                response = await client.request(
                    verb, path, params=query, headers=headers, allow_redirects=False
                )
            elif n % 3 == 0:
                form = FormData(dict.fromkeys(FIELDS, value))
                form.add_field(
                    "file",
                    value.encode(),
                    filename=value if value.isprintable() and value else "x",
                    content_type="image/png",
                )
                response = await client.request(
                    verb, path, data=form, headers=headers, allow_redirects=False
                )
            elif n % 3 == 1:
                form = dict.fromkeys(FIELDS, value)
                response = await client.request(
                    verb, path, data=form, headers=headers, allow_redirects=False
                )
            else:
                body = dict.fromkeys(FIELDS, value)
                response = await client.request(
                    verb, path, json=body, headers=headers, allow_redirects=False
                )
            if response.status >= 500:
                failures.append(f"{verb} {template} {value[:30]!r}: {response.status}")
    return failures


async def credentials(client: Client, api_key: str, make_staff: StaffFactory) -> dict[str, str]:
    await file_request(client, api_key)
    admin = await make_staff("root", "Street Lighting", StaffRole.ADMIN)
    return {**admin.headers, "X-API-Key": api_key, "Idempotency-Key": "fuzz"}


async def test_naughty_strings_on_every_route_never_5xx(
    client: Client, api_key: str, make_staff: StaffFactory, backend: str
) -> None:
    headers = await credentials(client, api_key, make_staff)
    assert await sweep(client, headers, NAUGHTY, 5 if backend == "sqlite" else 15) == []


async def test_lone_surrogates_and_huge_values_never_5xx(
    client: Client, api_key: str, make_staff: StaffFactory
) -> None:
    headers = {
        **(await credentials(client, api_key, make_staff)),
        "Content-Type": "application/json",
    }
    failures = []
    for r, (method, template) in enumerate(routes(client.server.app)):
        if method not in ("POST", "PUT", "*"):
            continue
        path = fill(template, "x")
        # Each surrogate in one field per route, a different field on each route.
        bodies = [
            json_with(FIELDS[(7 * i + r) % len(FIELDS)], raw)
            for i, raw in enumerate(LONE_SURROGATE_JSON)
        ]
        bodies += [json_with("message", '"' + "a" * 100_000 + '"')]
        for body in bodies:
            response = await client.request(
                "POST" if method == "*" else method, path, data=body, headers=headers
            )
            if response.status >= 500:
                failures.append(f"{method} {template} {body[:40]!r}: {response.status}")
    for value in HUGE:
        response = await client.get(
            fill("/api/v1/citizens/{identity}/tickets", value), headers=headers
        )
        if response.status >= 500:
            failures.append(f"huge identity: {response.status}")
    assert failures == []


async def test_a_body_over_the_limit_is_a_413_with_a_reason_on_every_route(
    client: Client, api_key: str, make_staff: StaffFactory, backend: str
) -> None:
    """JSON and form routes stop at ``max_body_bytes`` (1 MiB); photo uploads at the larger
    ``max_media_bytes`` (10 MiB), streamed, so a photo is not held to the JSON limit."""
    if backend != "sqlite":
        return  # the limit is the web server's, before any database
    headers = await credentials(client, api_key, make_staff)
    reference = await file_request(client, api_key)
    valid = {"identity": "telegram:12345", "service_request_id": reference, "fmt": "json"}
    big = b'{"message": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    answers = {}
    for method, template in routes(client.server.app):
        if method not in ("POST", "PUT", "*") or "/media" in template:
            continue
        response = await client.request(
            "POST" if method == "*" else method,
            fill(template, "x", valid),
            data=big,
            headers={**headers, "Content-Type": "application/json"},
        )
        answers[template] = (response.status, await response.text())
    # Routes that read a JSON body stop at the limit and say so; the rest refuse the request
    # before reading it (415 for a form endpoint, 401/403 without a console session) or read
    # none (a reload): none fails.
    assert {t: status for t, (status, _) in answers.items() if status >= 500} == {}
    for template in READS_JSON:
        status, text = answers[template]
        assert status == 413, (template, status)
        assert "limit" in text, (template, text[:200])
    photo = FormData()
    photo.add_field(
        "file", b"\xff" * (11 * 1024 * 1024), filename="p.jpg", content_type="image/jpeg"
    )
    too_big = await client.post("/api/v1/media", data=photo, headers=headers)
    assert too_big.status == 413
    assert "limit" in (await too_big.json())["error"]["message"]
    under = FormData()
    under.add_field(
        "file", b"\xff" * (2 * 1024 * 1024), filename="p.jpg", content_type="image/jpeg"
    )
    over_json_limit = await client.post("/api/v1/media", data=under, headers=headers)
    assert over_json_limit.status != 413  # refused as not a photo, not for its size
