"""The staff console and the public reports page in a real Chromium, against the real stack.

A citizen reports a pothole with a photo in a Telegram chat (fake Bot API on 127.0.0.1); a
staff member signs in to the console with the keyboard alone, finds the ticket in the queue,
approves the photo, works the ticket to resolved with a public note, sees the note arrive in
the citizen's Telegram chat (pushed by the back office's outbox relay through Rasa),
publishes the report and finds it on the public page without personal data, agreeing with
the Open311 GET. axe-core finds no WCAG 2.2 AA violation on the console, the dashboard and
the public pages. Runs once on SQLite and once on PostgreSQL; the SQLite run saves the
screenshots under docs/screenshots/.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from devstack import scratch_config
from tests.browser_axe import describe_violations, run_axe_sync
from tests.channels.fake_telegram import TOKEN, FakeTelegram, fake_telegram
from tests.e2e.channel_stack import (
    ChannelStack,
    assert_report_lands_on_the_ticket,
    served_in_background,
)
from tests.e2e.local_stack import started
from tests.e2e.test_channel_telegram import SECRET, TelegramCitizen, sent_texts
from tests.e2e.test_channel_telegram import Running as TelegramRunning
from tests.postgres import pg_admin

CHROMIUM = Path(os.environ.get("CIVICDESK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHAT_ID = 7301
NOTE = "The pothole was filled this morning; thank you for reporting it"


@dataclass
class Running:
    stack: ChannelStack
    telegram: FakeTelegram
    browser: Browser
    backend: str

    @property
    def base(self) -> str:
        return self.stack.config.backoffice_url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def running(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    assert CHROMIUM.exists(), "no Chromium: run scripts/install-chromium.sh (make test does)"
    backend = str(request.param)
    environment = {
        "CIVICDESK_TELEGRAM_TOKEN": TOKEN,
        "CIVICDESK_TELEGRAM_SECRET_TOKEN": SECRET,
        "CIVICDESK_TELEGRAM_WEBHOOK_URL": "",
        "CIVICDESK_TELEGRAM_MODE": "webhook",
        "CIVICDESK_OUTBOX_RETRY_SECONDS": "1",
        # The test browser talks plain HTTP to 127.0.0.1; production keeps Secure on.
        "BACKOFFICE__STAFF_COOKIE_SECURE": "false",
    }
    database = f"civicdesk_console_e2e_{secrets.token_hex(4)}"
    with served_in_background(fake_telegram()) as telegram:
        channels = (
            "channels.telegram.TelegramInput:\n"
            f'  api_base_url: "{telegram.base_url}"\n'
            f'  api_file_url: "{telegram.base_file_url}"\n'
        )
        config = scratch_config(tmp_path_factory.mktemp("var"), environment, plain_rest=False)
        if backend == "postgresql":
            pg_admin(f'CREATE DATABASE "{database}"')
            config = dataclasses.replace(
                config, database_url=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
            )
        try:
            with (
                started(ChannelStack(config, channels)) as stack,
                sync_playwright() as playwright,
            ):
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                try:
                    yield Running(stack, telegram, browser, backend)
                finally:
                    browser.close()
        finally:
            if backend == "postgresql":
                pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _assert_accessible(page: Page, where: str) -> None:
    violations = run_axe_sync(page)
    assert violations == [], f"{where}:\n{describe_violations(violations)}"


def _screenshot(running: Running, page: Page, name: str) -> None:
    if running.backend == "sqlite":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _sign_in_with_the_keyboard(running: Running, page: Page) -> None:
    credentials = running.stack.credentials
    assert credentials is not None
    page.goto(f"{running.base}/staff/")
    assert "/staff/login" in page.url  # nothing of the console without signing in
    _assert_accessible(page, "sign-in page")
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.locator(".skip")).to_be_focused()
    page.keyboard.press("Enter")  # ... and leads past the header to the form
    page.keyboard.press("Tab")
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type(credentials.staff_username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(credentials.staff_password)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/staff/queue.*"))


def _wait_for_pushed(running: Running, text: str, before: int) -> list[str]:
    deadline = time.monotonic() + 60
    pushed: list[str] = []
    while time.monotonic() < deadline:
        pushed = sent_texts(TelegramRunning(running.stack, running.telegram), CHAT_ID)[before:]
        if any(text in item for item in pushed):
            return pushed
        time.sleep(0.25)
    raise AssertionError(f"the note never reached the chat; pushed: {pushed}")


def test_a_report_worked_in_the_console_reaches_the_chat_and_the_public_page(
    running: Running,
) -> None:
    citizen = TelegramCitizen(TelegramRunning(running.stack, running.telegram), chat_id=CHAT_ID)
    ticket, _ = assert_report_lands_on_the_ticket(running.stack, citizen, "telegram")
    reference = str(ticket["service_request_id"])
    context = running.browser.new_context(
        bypass_csp=True,  # axe is injected as a script; the pages' CSP forbids scripts
        viewport={"width": 1280, "height": 900},
    )
    page = context.new_page()
    _sign_in_with_the_keyboard(running, page)

    # The queue: the new ticket is listed; the console is accessible as it stands.
    page.get_by_role("link", name=reference).wait_for()
    _assert_accessible(page, "queue")
    _screenshot(running, page, "staff-console-queue")

    page.get_by_role("link", name=reference).click()
    page.wait_for_url(re.compile(rf".*/staff/tickets/{reference}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    expect(page.get_by_alt_text("Photo 1 sent by the citizen")).to_be_visible()
    _assert_accessible(page, "ticket page")

    page.get_by_role("button", name="Approve for the public page").click()
    page.wait_for_url(re.compile(r".*\?done=1$"))
    page.get_by_label("New status").select_option("in_progress")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*\?done=1$"))
    before = len(sent_texts(TelegramRunning(running.stack, running.telegram), CHAT_ID))
    page.get_by_label("New status").select_option("resolved")
    page.get_by_label("Public note (sent to the citizen's chat)").fill(NOTE)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r".*\?done=1$"))
    expect(page.locator(".facts").first).to_contain_text("Resolved")
    _screenshot(running, page, "staff-console-ticket")

    pushed = _wait_for_pushed(running, NOTE, before)
    assert any(reference in text for text in pushed), pushed

    page.get_by_role("button", name="Publish").click()
    page.wait_for_url(re.compile(r".*\?done=1$"))
    _assert_accessible(page, "ticket page after the changes")

    # The dashboard (the dev staff member is an admin).
    page.goto(f"{running.base}/staff/dashboard")
    expect(page.locator("svg.chart")).to_have_count(4)
    _assert_accessible(page, "dashboard")
    _screenshot(running, page, "staff-console-dashboard")

    # Larger text and Chinese labels stay accessible.
    page.goto(f"{running.base}/staff/prefs?lang=zh-Hans&text=large&next=/staff/queue")
    expect(page.locator("body.large")).to_have_count(1)
    expect(page.get_by_role("heading", level=1)).to_have_text("工单队列")
    assert page.locator("button").first.bounding_box()["height"] >= 60  # type: ignore[index]
    _assert_accessible(page, "queue, Chinese, larger text")
    page.goto(f"{running.base}/staff/prefs?lang=en&text=normal&next=/staff/queue")

    # The public page, in a fresh context with no staff session.
    public = running.browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    reader = public.new_page()
    reader.goto(f"{running.base}/reports/")
    reader.get_by_role("link", name=reference).first.wait_for()
    _assert_accessible(reader, "public list")
    _screenshot(running, reader, "public-reports")
    reader.get_by_role("link", name=reference).first.click()
    reader.wait_for_url(re.compile(rf".*/reports/{reference}$"))
    _assert_accessible(reader, "public report")
    _screenshot(running, reader, "public-report")
    # The page as the server sent it (the browser's DOM also holds the injected axe script).
    html = httpx.get(f"{running.base}/reports/{reference}", timeout=30).text
    open311 = httpx.get(f"{running.base}/open311/v2/requests/{reference}.json").json()[0]
    assert open311["status"] == "closed"
    expect(reader.locator('[data-field="status"]')).to_contain_text("Closed")
    expect(reader.locator('[data-field="status_notes"]')).to_have_text(open311["status_notes"])
    assert open311["status_notes"] == NOTE
    expect(reader.locator('[data-field="coordinates"]')).to_have_text(
        f"{open311['lat']:.5f}, {open311['long']:.5f}"
    )
    expect(reader.get_by_alt_text("Photo 1 sent by the citizen")).to_be_visible()
    # No personal data: not the chat id, not the Telegram name, no staff names.
    credentials = running.stack.credentials
    assert credentials is not None
    for private in (f"telegram:{CHAT_ID}", str(CHAT_ID), credentials.staff_username):
        assert private not in html, private
    assert re.search(r"\bAna\b", html) is None  # the citizen's Telegram first name
    public.close()

    # Signing out ends the session: the console is closed again.
    page.goto(f"{running.base}/staff/queue")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/staff/login$"))
    page.goto(f"{running.base}/staff/queue")
    assert "/staff/login" in page.url
    context.close()
