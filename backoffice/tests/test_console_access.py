"""Staff console security: sign-in, cookies, CSRF, lock-out, roles and department scoping."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.app import create_app
from civicdesk_backoffice.models import StaffRole, StaffSession, Ticket
from civicdesk_backoffice.settings import Settings
from tests.conftest import ClientFactory, StaffFactory, audit_log, file_request
from tests.console_helpers import browser, csrf_of, post_form, sign_in, signed_in

GET_PAGES = ("/staff/", "/staff/queue", "/staff/dashboard", "/staff/tickets/CD-AAAAAA")
POST_FORMS = (
    "/staff/logout",
    "/staff/tickets/{ref}/status",
    "/staff/tickets/{ref}/assign",
    "/staff/tickets/{ref}/comment",
    "/staff/tickets/{ref}/publish",
    "/staff/tickets/{ref}/photos/abc",
    "/staff/handoffs/h_0123456789abcdef01234567/reply",
)


async def test_every_page_without_a_session_goes_to_the_sign_in_page(
    aiohttp_client: ClientFactory, settings: Settings
) -> None:
    client = await browser(aiohttp_client, settings)
    for path in GET_PAGES:
        answer = await client.get(path, allow_redirects=False)
        assert answer.status == 303, path
        assert answer.headers["Location"].startswith("/staff/login?next="), path


async def test_every_form_without_a_session_is_refused_and_changes_nothing(
    aiohttp_client: ClientFactory,
    settings: Settings,
    api_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    client = await browser(aiohttp_client, settings)
    reference = await file_request(client, api_key)
    for path in POST_FORMS:
        answer = await post_form(
            client, path.format(ref=reference), "forged", status="resolved", publish="1"
        )
        assert answer.status == 403, path
        assert "text/html" in answer.headers["Content-Type"]
    async with sessionmaker() as session:
        ticket = (await session.scalars(select(Ticket))).one()
    assert (ticket.status, ticket.published_at) == ("new", None)


async def test_sign_in_sets_a_strict_http_only_cookie_secure_by_default(
    aiohttp_client: ClientFactory, settings: Settings, make_staff: StaffFactory
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    # The real default (Secure). The test client keeps Secure cookies to itself over plain
    # HTTP, so the form's cookie is sent back by hand; the other tests turn Secure off.
    client = await aiohttp_client(create_app(settings))
    form = await client.get("/staff/login")
    login_cookie = form.cookies["cd_login_csrf"]
    assert login_cookie["secure"] is True
    answer = await client.post(
        "/staff/login",
        data={
            "csrf_token": csrf_of(await form.text()),
            "username": ann.username,
            "password": ann.password,
        },
        headers={"Cookie": f"cd_login_csrf={login_cookie.value}"},
        allow_redirects=False,
    )
    assert answer.status == 303
    cookie = answer.cookies["cd_staff"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["secure"] is True
    assert answer.headers["Location"] == "/staff/queue"


async def test_wrong_password_is_refused_and_the_form_token_is_required(
    aiohttp_client: ClientFactory, settings: Settings, make_staff: StaffFactory
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    client = await browser(aiohttp_client, settings)
    wrong = await sign_in(client, ann, password="not-the-password")
    assert wrong.status == 401
    assert "cd_staff" not in wrong.cookies
    assert "wrong" in (await wrong.text())
    # A sign-in posted from elsewhere carries no form token: refused even with the password.
    forged = await client.post(
        "/staff/login", data={"username": ann.username, "password": ann.password}
    )
    assert forged.status == 403
    assert "cd_staff" not in forged.cookies


async def test_repeated_failures_lock_the_account_even_for_the_right_password(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    client = await browser(aiohttp_client, settings)
    for _ in range(settings.staff_lockout_failures):
        assert (await sign_in(client, ann, password="wrong-password-123")).status == 401
    locked = await sign_in(client, ann)
    assert locked.status == 401
    assert "locked" in await locked.text()
    actions = [entry.action for entry in await audit_log(sessionmaker)]
    assert actions.count("console.login.failed") == settings.staff_lockout_failures - 1
    assert "console.login.locked" in actions
    assert "console.login.refused_locked" in actions
    assert "console.login" not in actions


async def test_a_success_resets_the_failure_count(
    aiohttp_client: ClientFactory, settings: Settings, make_staff: StaffFactory
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    client = await browser(aiohttp_client, settings)
    for _ in range(settings.staff_lockout_failures - 1):
        await sign_in(client, ann, password="wrong-password-123")
    assert (await sign_in(client, ann)).status == 303
    for _ in range(settings.staff_lockout_failures - 1):
        await sign_in(client, ann, password="wrong-password-123")
    assert (await sign_in(client, ann)).status == 303


async def test_forms_without_or_with_a_wrong_csrf_token_are_refused(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    api_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    client = await browser(aiohttp_client, settings)
    reference = await file_request(client, api_key)
    csrf = await signed_in(client, ann)
    path = f"/staff/tickets/{reference}/status"
    assert (await post_form(client, path, None, status="resolved")).status == 403
    assert (await post_form(client, path, csrf[:-2] + "xx", status="resolved")).status == 403
    async with sessionmaker() as session:
        assert (await session.scalars(select(Ticket.status))).one() == "new"
    # The right token works, so the refusals above were about the token.
    assert (await post_form(client, path, csrf, status="resolved")).status == 303
    async with sessionmaker() as session:
        assert (await session.scalars(select(Ticket.status))).one() == "resolved"


async def test_logout_ends_the_session(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    client = await browser(aiohttp_client, settings)
    csrf = await signed_in(client, ann)
    stolen = client.session.cookie_jar.filter_cookies(client.make_url("/staff/"))["cd_staff"].value
    assert (await post_form(client, "/staff/logout", csrf)).status == 303
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(StaffSession)) == 0
    # The old cookie value no longer signs anyone in.
    again = await client.get("/staff/queue", cookies={"cd_staff": stolen}, allow_redirects=False)
    assert again.status == 303


@pytest.mark.parametrize(
    ("role", "page"),
    [(StaffRole.AGENT, "/staff/dashboard")],
)
async def test_agents_cannot_open_the_dashboard(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
    role: StaffRole,
    page: str,
) -> None:
    ann = await make_staff("ann", "Street Lighting", role)
    client = await browser(aiohttp_client, settings)
    await signed_in(client, ann)
    answer = await client.get(page, allow_redirects=False)
    assert answer.status == 403
    assert "console.refused" in [e.action for e in await audit_log(sessionmaker)]


async def test_agents_cannot_assign(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    api_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    await make_staff("bob", "Street Lighting")
    client = await browser(aiohttp_client, settings)
    reference = await file_request(client, api_key)
    csrf = await signed_in(client, ann)
    answer = await post_form(client, f"/staff/tickets/{reference}/assign", csrf, assignee="bob")
    assert answer.status == 403
    async with sessionmaker() as session:
        assert (await session.scalars(select(Ticket.assignee_id))).one() is None


async def test_an_agent_sees_only_their_department(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    api_key: str,
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    admin = await make_staff("root", "Head Office", StaffRole.ADMIN)
    client = await browser(aiohttp_client, settings)
    ours = await file_request(client, api_key)
    theirs = await file_request(
        client,
        api_key,
        service_code="graffiti",
        **{"attribute[fault]": None},  # type: ignore[arg-type]
    )
    await signed_in(client, ann)
    page = await (await client.get("/staff/queue")).text()
    assert _link(ours) in page
    assert _link(theirs) not in page
    # Searching for it by reference does not find it either, and its page is a 404.
    assert _link(theirs) not in await (await client.get(f"/staff/queue?q={theirs}")).text()
    assert (await client.get(f"/staff/tickets/{theirs}")).status == 404
    assert (await client.get(f"/staff/tickets/{ours}")).status == 200
    other = await browser(aiohttp_client, settings)
    await signed_in(other, admin)
    everything = await (await other.get("/staff/queue")).text()
    assert _link(ours) in everything
    assert _link(theirs) in everything


async def test_unknown_console_paths_are_an_html_404(
    aiohttp_client: ClientFactory, settings: Settings
) -> None:
    client = await browser(aiohttp_client, settings)
    answer = await client.get("/staff/nothing/here")
    assert answer.status == 404
    assert "text/html" in answer.headers["Content-Type"]


def _link(reference: str) -> str:
    return f'href="/staff/tickets/{reference}"'
