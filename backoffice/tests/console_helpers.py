"""Helpers of the staff console and public page tests: a browser-like client, sign-in, forms."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from civicdesk_backoffice.app import create_app
from civicdesk_backoffice.settings import Settings
from tests.conftest import ClientFactory, StaffLogin

Client = TestClient[Any, Any]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_settings(settings: Settings) -> Settings:
    """The test settings with the session cookie sent over plain HTTP (the test server)."""
    return settings.model_copy(update={"staff_cookie_secure": False})


async def browser(aiohttp_client: ClientFactory, settings: Settings) -> Client:
    """A client with its own cookie jar on a fresh application (one per signed-in person)."""
    return await aiohttp_client(create_app(console_settings(settings)))


def csrf_of(page: str) -> str:
    """The CSRF token in a rendered page's first form."""
    found = _CSRF.search(page)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


async def sign_in(client: Client, who: StaffLogin, password: str | None = None) -> ClientResponse:
    """Post the sign-in form the way a browser does (form token, cookies, no redirects)."""
    form = await client.get("/staff/login")
    assert form.status == 200
    token = csrf_of(await form.text())
    return await client.post(
        "/staff/login",
        data={
            "csrf_token": token,
            "username": who.username,
            "password": who.password if password is None else password,
        },
        allow_redirects=False,
    )


async def signed_in(client: Client, who: StaffLogin) -> str:
    """Sign ``who`` in and return the session's CSRF token (read from the queue page)."""
    answer = await sign_in(client, who)
    assert answer.status == 303, await answer.text()
    queue = await client.get("/staff/queue")
    assert queue.status == 200
    return csrf_of(await queue.text())


async def post_form(client: Client, path: str, csrf: str | None, **fields: str) -> ClientResponse:
    """Post a console form (with ``csrf`` unless it is None), not following the redirect."""
    data = dict(fields)
    if csrf is not None:
        data["csrf_token"] = csrf
    return await client.post(path, data=data, allow_redirects=False)
