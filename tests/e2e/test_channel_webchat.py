"""Web chat, full stack: the page in headless Chromium → Rasa serving the web chat channel →
the action server → the back office; proactive ``trigger_intent`` messages appear on the open
page through its inbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    FilePayload,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.browser_axe import describe_violations, run_axe_sync
from tests.e2e.channel_stack import (
    ChannelStack,
    assert_report_lands_on_the_ticket,
    bot_texts,
    channel_stack,
    citizen_tickets,
    latest_timestamp,
    trigger_intent,
    user_events,
    wait_for_turn,
)

CHROMIUM = Path(os.environ.get("CIVICDESK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
COOKIE = "civicdesk_session"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}


@dataclass
class Running:
    stack: ChannelStack
    browser: Browser

    @property
    def page_url(self) -> str:
        return f"{self.stack.config.rasa_url}/webhooks/webchat/"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    assert CHROMIUM.exists(), "no Chromium: run scripts/install-chromium.sh (make test does)"
    # The web chat is on in the repository's credentials.yml: nothing to add.
    with (
        channel_stack(tmp_path_factory.mktemp("var"), "") as stack,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield Running(stack, browser)
        finally:
            browser.close()


@dataclass
class PageCitizen:
    """A citizen using the chat page: typing, clicking buttons, sharing, uploading."""

    context: BrowserContext
    page: Page

    @property
    def sender_id(self) -> str:
        # The page never tells its identity; the server-signed cookie holds the session id.
        [cookie] = [c for c in self.context.cookies() if c["name"] == COOKIE]
        return "webchat-" + cookie["value"].split(".")[0]

    def say(self, text: str) -> None:
        self.page.get_by_label("Your message").fill(text)
        self.page.get_by_role("button", name="Send").click()

    def press(self, button: dict[str, Any]) -> None:
        log = self.page.get_by_role("log", name="Conversation")
        log.get_by_role("button", name=str(button["title"]), exact=True).last.click()

    def share_location(self, latitude: float, longitude: float) -> None:
        self.context.set_geolocation({"latitude": latitude, "longitude": longitude})
        self.page.get_by_role("button", name="Share my location").first.click()

    def send_photo(self, data: bytes) -> None:
        self.page.get_by_label("Add a photo").set_input_files(
            files=[FilePayload(name="pothole.jpg", mimeType="image/jpeg", buffer=data)]
        )


@pytest.fixture
def citizen(running: Running) -> Iterator[PageCitizen]:
    context = running.browser.new_context(permissions=["geolocation"])
    page = context.new_page()
    page.goto(running.page_url)
    yield PageCitizen(context, page)
    context.close()


@pytest.fixture
def phone_citizen(running: Running) -> Iterator[PageCitizen]:
    """A citizen on a phone-sized page that axe can check (bypass_csp lets it be injected; the
    other tests keep the page's CSP)."""
    context = running.browser.new_context(
        viewport=PHONE, bypass_csp=True, permissions=["geolocation"]
    )
    page = context.new_page()
    page.goto(running.page_url)
    yield PageCitizen(context, page)
    context.close()


def assert_accessible(page: Page, when: str) -> None:
    violations = run_axe_sync(page, best_practice=True)
    assert violations == [], f"{when}:\n{describe_violations(violations)}"


def test_a_report_with_photo_location_and_buttons_lands_on_the_ticket(
    running: Running, phone_citizen: PageCitizen
) -> None:
    page = phone_citizen.page
    assert_accessible(page, "the empty page at phone width")

    ticket, pressed = assert_report_lands_on_the_ticket(running.stack, phone_citizen, "webchat")

    # The reference reached the page.
    log = page.get_by_role("log", name="Conversation")
    expect(log).to_contain_text(ticket["service_request_id"])
    assert pressed >= 2
    expect(log.locator("li.bot")).not_to_have_count(0)
    # The whole conversation, as the bot really shows it (buttons, questions, the photo line),
    # passes WCAG 2.2 AA at a phone's width and a desktop's, in normal and larger text.
    assert_accessible(page, "after the report at phone width")
    page.get_by_role("button", name="Larger text").click()
    expect(page.get_by_role("button", name="Larger text")).to_have_attribute("aria-pressed", "true")
    assert_accessible(page, "after the report at phone width, larger text")
    page.set_viewport_size(DESKTOP)
    assert_accessible(page, "after the report at desktop width, larger text")
    page.get_by_role("button", name="Larger text").click()
    expect(page.get_by_role("button", name="Larger text")).to_have_attribute(
        "aria-pressed", "false"
    )
    assert_accessible(page, "after the report at desktop width")


def _post(running: Running, cookie: str | None, **headers: str) -> httpx.Response:
    cookies = {} if cookie is None else {COOKIE: cookie}
    return httpx.post(
        f"{running.page_url}message",
        json={"message": "A pothole on Zhongshan Road", "client_message_id": "forged-1"},
        headers={"X-CivicDesk-Webchat": "1", **headers},
        cookies=cookies,
        timeout=30,
    )


def test_a_missing_or_forged_session_creates_nothing(
    running: Running, citizen: PageCitizen
) -> None:
    victim = citizen.sender_id
    real = next(c["value"] for c in citizen.context.cookies() if c["name"] == COOKIE)
    session_id, issued, mac = real.split(".")
    forged = f"{session_id}.{issued}.{'0' * len(mac)}"

    no_cookie = _post(running, None)
    bad_mac = _post(running, forged)
    no_header = httpx.post(
        f"{running.page_url}message",
        json={"message": "A pothole", "client_message_id": "forged-2"},
        cookies={COOKIE: real},
        timeout=30,
    )

    assert (no_cookie.status_code, no_cookie.json()["error"]["code"]) == (401, "no_session")
    assert (bad_mac.status_code, bad_mac.json()["error"]["code"]) == (401, "no_session")
    assert (no_header.status_code, no_header.json()["error"]["code"]) == (403, "forbidden")
    assert user_events(running.stack, victim) == []
    assert citizen_tickets(running.stack, f"webchat:{victim}", timeout=0) == []


def test_the_same_client_message_three_times_is_one_turn(
    running: Running, citizen: PageCitizen
) -> None:
    cookie = next(c["value"] for c in citizen.context.cookies() if c["name"] == COOKIE)
    body = {"message": "hello", "client_message_id": "retry-1", "sender": "someone-else"}

    responses = [
        httpx.post(
            f"{running.page_url}message",
            json=body,
            headers={"X-CivicDesk-Webchat": "1"},
            cookies={COOKIE: cookie},
            timeout=30,
        )
        for _ in range(3)
    ]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.json()["duplicate"] for r in responses] == [False, True, True]
    assert responses[0].json()["messages"]
    assert [e["text"] for e in user_events(running.stack, citizen.sender_id)] == ["hello"]
    assert user_events(running.stack, "someone-else") == [], "a sender in the body is ignored"


def test_a_proactive_message_appears_on_the_open_page(
    running: Running, citizen: PageCitizen
) -> None:
    start = latest_timestamp(running.stack, citizen.sender_id)
    citizen.say("hello")
    wait_for_turn(running.stack, citizen.sender_id, start)
    log = citizen.page.get_by_role("log", name="Conversation")
    shown_before = len(bot_texts(running.stack, citizen.sender_id, after=start))
    expect(log.locator("li.bot")).to_have_count(shown_before)
    mark = latest_timestamp(running.stack, citizen.sender_id)

    triggered = trigger_intent(running.stack, citizen.sender_id, "greet", "webchat")

    assert triggered.status_code == 200, triggered.text
    said = bot_texts(running.stack, citizen.sender_id, after=mark)
    assert said
    # The page polls its inbox every 5 s.
    expect(log.locator("li.bot")).to_have_count(shown_before + len(said), timeout=15_000)
    for text in said:
        expect(log).to_contain_text(text)
