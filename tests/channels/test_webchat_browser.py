"""The web chat page in a real headless Chromium (system /usr/bin/chromium via Playwright)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect
from rasa.core.channels.channel import UserMessage

from channels._dedup import MemoryDedupStore
from channels.webchat import WebChatInput
from tests.browser_axe import describe_violations, run_axe
from tests.channels.conftest import RecordingAgent, RecordingUploader, serve_channel

CHROMIUM = Path(os.environ.get("CIVICDESK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# One browser for the module (launching takes seconds): the tests share its event loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def reply(message: UserMessage) -> None:
    if message.text == "/affirm":
        await message.output_channel.send_text_message(message.sender_id, "Thank you")
        return
    await message.output_channel.send_text_with_buttons(
        message.sender_id,
        f"You said: {message.text}",
        [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
    )


def chromium_path() -> str:
    assert CHROMIUM.exists(), "no Chromium: run scripts/install-chromium.sh (make test does)"
    return str(CHROMIUM)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def chat(
    browser: Browser, agent: RecordingAgent
) -> AsyncIterator[tuple[Page, WebChatInput, RecordingUploader]]:
    agent.reply = reply
    uploader = RecordingUploader()
    channel = WebChatInput(
        session_secret="browser-test-session-secret",
        uploader=uploader,
        dedup_store=MemoryDedupStore(),
    )
    async with serve_channel(channel, agent) as base:
        context = await browser.new_context(
            geolocation={"latitude": 32.0603, "longitude": 118.7969},
            permissions=["geolocation"],
        )
        page = await context.new_page()
        await page.goto(f"{base}/")
        yield page, channel, uploader
        await context.close()


async def focused_text(page: Page) -> str:
    return str(
        await page.evaluate("document.activeElement.textContent || document.activeElement.id")
    )


async def test_a_citizen_chats_with_the_keyboard_only(
    chat: tuple[Page, WebChatInput, RecordingUploader], agent: RecordingAgent
) -> None:
    page, _, _ = chat
    # The session cookie is HttpOnly: the page's script cannot read or choose the identity.
    assert await page.evaluate("document.cookie") == ""

    await page.keyboard.press("Tab")
    assert await focused_text(page) == "Larger text"
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Larger text")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert await page.evaluate("document.documentElement.classList.contains('large-text')")
    assert await page.evaluate("getComputedStyle(document.documentElement).fontSize") == "24px"

    await page.keyboard.press("Tab")
    assert await focused_text(page) == "message"
    await page.keyboard.type("The street lamp is dark")
    await page.keyboard.press("Enter")
    log = page.get_by_role("log", name="Conversation")
    await expect(log).to_contain_text("You said: The street lamp is dark")

    # The bot's choices are real buttons, reachable from the message field with Shift+Tab.
    choices = page.get_by_role("group", name="Choices")
    await expect(choices.get_by_role("button")).to_have_count(2)
    await page.keyboard.press("Shift+Tab")
    assert await focused_text(page) == "No"
    await page.keyboard.press("Shift+Tab")
    assert await focused_text(page) == "Yes"
    await page.keyboard.press("Enter")
    await expect(log).to_contain_text("Thank you")

    assert [m.text for m in agent.messages] == ["The street lamp is dark", "/affirm"]
    assert len({m.sender_id for m in agent.messages}) == 1
    assert agent.messages[0].sender_id.startswith("webchat-")


async def test_controls_have_labels(chat: tuple[Page, WebChatInput, RecordingUploader]) -> None:
    page, _, _ = chat
    await expect(page.get_by_label("Your message")).to_be_visible()
    await expect(page.get_by_label("Add a photo")).to_have_attribute("type", "file")
    for name in ("Send", "Share my location", "Larger text"):
        await expect(page.get_by_role("button", name=name)).to_be_visible()
    await expect(page.get_by_role("heading", name="CivicDesk")).to_be_visible()


async def test_a_chinese_browser_gets_the_page_in_chinese(
    browser: Browser, agent: RecordingAgent
) -> None:
    agent.reply = reply
    channel = WebChatInput(
        session_secret="browser-test-session-secret",
        uploader=RecordingUploader(),
        dedup_store=MemoryDedupStore(),
    )
    async with serve_channel(channel, agent) as base:
        context = await browser.new_context(locale="zh-CN")
        page = await context.new_page()
        await page.goto(f"{base}/")
        await expect(page.get_by_role("button", name="放大字体")).to_be_visible()
        await page.get_by_label("您的消息").fill("路灯坏了")
        await page.get_by_role("button", name="发送", exact=True).click()
        log = page.get_by_role("log", name="对话")
        await expect(log).to_contain_text("You said: 路灯坏了")
        # A text app.js sets by itself: the photo line, from the page's JSON block.
        await page.get_by_label("添加照片").set_input_files(
            files=[{"name": "lamp.png", "mimeType": "image/png", "buffer": PNG}]
        )
        await expect(log).to_contain_text("已发送照片")  # then a full-width colon and the name
        await expect(log).to_contain_text("lamp.png")
        await context.close()


async def test_a_citizen_shares_a_location_and_a_photo(
    chat: tuple[Page, WebChatInput, RecordingUploader], agent: RecordingAgent
) -> None:
    page, _, uploader = chat
    log = page.get_by_role("log", name="Conversation")
    await page.get_by_role("button", name="Share my location").click()
    await expect(log).to_contain_text("You said: /share_location")
    await page.get_by_label("Add a photo").set_input_files(
        files=[{"name": "lamp.png", "mimeType": "image/png", "buffer": PNG}]
    )
    await expect(log).to_contain_text("You said: /share_photo")
    location, photo = agent.messages
    assert location.metadata["location"] == {"latitude": 32.0603, "longitude": 118.7969}
    assert uploader.uploads == [PNG]
    assert photo.metadata["photo"] == {"media_id": "media-1", "media_url": "http://media.test/1"}


async def test_a_status_update_from_staff_appears_while_the_page_is_open(
    chat: tuple[Page, WebChatInput, RecordingUploader], agent: RecordingAgent
) -> None:
    page, channel, _ = chat
    await page.get_by_label("Your message").fill("hello")
    await page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log", name="Conversation")
    await expect(log).to_contain_text("You said: hello")
    output = channel.get_output_channel()
    await output.send_text_message(agent.messages[0].sender_id, "Your ticket CD-7 is fixed")
    await expect(log).to_contain_text("Your ticket CD-7 is fixed", timeout=10_000)


# Accessibility and the larger-text mode, at a phone's width and a desktop's.
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
VIEWPORTS = [pytest.param(PHONE, id="phone"), pytest.param(DESKTOP, id="desktop")]
# WCAG 2.1's reflow width (1.4.10): 320 CSS px, no sideways scrolling.
SMALL_PHONE: ViewportSize = {"width": 320, "height": 640}
# A 1x1 PNG the bot "sends back" (as a data: URL, which the page's CSP allows for images).
DOT_PNG = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
# The elderly-mode guidance the larger-text mode meets.
MIN_LARGE_FONT_PX = 18
MIN_LARGE_CONTROL_PX = 60


async def rich_reply(message: UserMessage) -> None:
    """Text, buttons and an image: everything the page can show from the bot."""
    out = message.output_channel
    if message.text == "/share_photo":
        await out.send_text_message(message.sender_id, "Thank you, I have your photo")
        await out.send_image_url(message.sender_id, DOT_PNG)
        return
    await out.send_text_with_buttons(
        message.sender_id,
        f"Is this about: {message.text}?",
        [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
    )


@asynccontextmanager
async def chat_page(
    browser: Browser, agent: RecordingAgent, viewport: ViewportSize
) -> AsyncIterator[tuple[Page, RecordingUploader]]:
    """The chat page in a context of its own, at ``viewport``, ready for axe.

    bypass_csp lets tests/browser_axe.py inject axe-core; the page's CSP itself is kept in
    the `chat` fixture's tests (which never bypass it)."""
    agent.reply = rich_reply
    uploader = RecordingUploader()
    channel = WebChatInput(
        session_secret="browser-test-session-secret",
        uploader=uploader,
        dedup_store=MemoryDedupStore(),
    )
    async with serve_channel(channel, agent) as base:
        context = await browser.new_context(
            viewport=viewport,
            bypass_csp=True,
            geolocation={"latitude": 32.0603, "longitude": 118.7969},
            permissions=["geolocation"],
        )
        page = await context.new_page()
        await page.goto(f"{base}/")
        try:
            yield page, uploader
        finally:
            await context.close()


async def have_a_conversation(page: Page) -> None:
    """Type, press a choice, share a location, send a photo, send a file that is refused."""
    log = page.get_by_role("log", name="Conversation")
    await page.get_by_label("Your message").fill("The street lamp is dark")
    await page.get_by_role("button", name="Send").click()
    await expect(log).to_contain_text("Is this about: The street lamp is dark?")
    await log.get_by_role("button", name="Yes").last.click()
    await expect(log).to_contain_text("Is this about: /affirm?")
    await page.get_by_role("button", name="Share my location").click()
    await expect(log).to_contain_text("Is this about: /share_location?")
    await page.get_by_label("Add a photo").set_input_files(
        files=[{"name": "lamp.png", "mimeType": "image/png", "buffer": PNG}]
    )
    await expect(log).to_contain_text("Thank you, I have your photo")
    await expect(log.get_by_role("img", name="Image from CivicDesk")).to_be_visible()
    # Not a photo: the page explains in its status line, which axe checks too.
    await page.get_by_label("Add a photo").set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"just some text"}]
    )
    await expect(page.get_by_role("status")).to_contain_text("JPEG, PNG or WebP")


async def turn_on_larger_text(page: Page) -> None:
    await page.get_by_role("button", name="Larger text").click()
    await expect(page.get_by_role("button", name="Larger text")).to_have_attribute(
        "aria-pressed", "true"
    )


@pytest.mark.parametrize("viewport", VIEWPORTS)
async def test_axe_finds_nothing_before_during_or_after_a_conversation(
    browser: Browser, agent: RecordingAgent, viewport: ViewportSize
) -> None:
    async with chat_page(browser, agent, viewport) as (page, _):
        empty = await run_axe(page, best_practice=True)
        assert empty == [], describe_violations(empty)

        await have_a_conversation(page)
        after = await run_axe(page, best_practice=True)
        assert after == [], describe_violations(after)

        await turn_on_larger_text(page)
        large = await run_axe(page, best_practice=True)
        assert large == [], describe_violations(large)


async def box(page: Page, selector: str) -> dict[str, float]:
    found = await page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not on screen"
    return dict(found)


@pytest.mark.parametrize("viewport", VIEWPORTS)
async def test_the_photo_button_shows_no_file_input_but_the_keyboard_reaches_it(
    browser: Browser, agent: RecordingAgent, viewport: ViewportSize
) -> None:
    async with chat_page(browser, agent, viewport) as (page, uploader):
        for large in (False, True):
            if large:
                await turn_on_larger_text(page)
            # The browser's own "Choose File / No file chosen" takes no visible room...
            file_input = await box(page, "#photo")
            assert file_input["width"] <= 1
            assert file_input["height"] <= 1
            # ...the visible button is the label, fully on screen, and nothing sticks out.
            button = await box(page, "label.file")
            assert button["width"] >= 44
            assert button["height"] >= 44
            assert button["x"] >= 0
            assert button["x"] + button["width"] <= viewport["width"]
            assert await page.evaluate(
                "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
            )
            label_text = await page.locator("label.file").inner_text()
            assert label_text.strip() == "Add a photo"

        # Playwright turns on file-chooser interception when the expectation starts, and the
        # browser applies it asynchronously: started here, before the keyboard walk, it is in
        # place when Space opens the chooser (started just before Space, it sometimes was not).
        async with page.expect_file_chooser() as chooser_info:
            # Keyboard only: from the message field, Tab goes Send, Share my location, the photo.
            await page.get_by_label("Your message").focus()
            await page.keyboard.press("Tab")
            assert await focused_text(page) == "Send"
            await page.keyboard.press("Tab")
            assert await focused_text(page) == "Share my location"
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.id") == "photo"
            # The visible button shows where the focus is.
            outline = await page.locator("label.file").evaluate(
                "label => getComputedStyle(label).outlineStyle"
            )
            assert outline == "solid"
            await page.keyboard.press("Space")
        chooser = await chooser_info.value
        await chooser.set_files(
            files=[{"name": "lamp.png", "mimeType": "image/png", "buffer": PNG}]
        )
        await expect(page.get_by_role("log", name="Conversation")).to_contain_text(
            "Thank you, I have your photo"
        )
        assert uploader.uploads == [PNG]


# Every visible piece of text, and every control, as the page draws it.
MEASURE_PAGE = """() => {
  const visible = (el) => {
    const b = el.getBoundingClientRect();
    return b.width > 1 && b.height > 1;
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
      + " " + JSON.stringify((el.textContent || "").trim().slice(0, 30));
  const texts = [...document.querySelectorAll("h1, p, li, label, button, input[type=text]")]
      .filter(visible)
      .map((el) => [describe(el), parseFloat(getComputedStyle(el).fontSize)]);
  const controls = [...document.querySelectorAll("button, input[type=text], label.file")]
      .filter(visible)
      .map((el) => [describe(el), el.getBoundingClientRect().height]);
  const width = (selector) => document.querySelector(selector).getBoundingClientRect().width;
  return {
    texts, controls,
    column: width("main"),
    botMessage: width("#log li.bot"),
    overflows: document.documentElement.scrollWidth > document.documentElement.clientWidth,
  };
}"""


@pytest.mark.parametrize("viewport", [*VIEWPORTS, pytest.param(SMALL_PHONE, id="reflow-320")])
async def test_larger_text_meets_the_elderly_mode_guidance(
    browser: Browser, agent: RecordingAgent, viewport: ViewportSize
) -> None:
    async with chat_page(browser, agent, viewport) as (page, _):
        await have_a_conversation(page)
        before = await page.evaluate(MEASURE_PAGE)
        await turn_on_larger_text(page)
        after = await page.evaluate(MEASURE_PAGE)

        small_text = [(what, px) for what, px in after["texts"] if px < MIN_LARGE_FONT_PX]
        assert small_text == [], f"text under {MIN_LARGE_FONT_PX}px: {small_text}"
        kinds = {what.split(" ")[0] for what, _ in after["texts"]}
        assert {"li", "input#message", "button", "label"} <= kinds
        low_controls = [(what, h) for what, h in after["controls"] if h < MIN_LARGE_CONTROL_PX]
        assert low_controls == [], f"controls under {MIN_LARGE_CONTROL_PX}px: {low_controls}"
        # The choice buttons in the log count too.
        assert sum(what.startswith("button") for what, _ in after["controls"]) >= 5
        # The column (and the bot's messages in it) gets wider with the text, never narrower,
        # and nothing makes the page scroll sideways.
        assert after["column"] > before["column"]
        assert after["botMessage"] > before["botMessage"]
        assert not after["overflows"]
        contrast = await run_axe(page, rules=["color-contrast"])
        assert contrast == [], describe_violations(contrast)
