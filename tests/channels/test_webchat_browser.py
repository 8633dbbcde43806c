"""The web chat page in a real headless Chromium (system /usr/bin/chromium via Playwright)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect
from rasa.core.channels.channel import UserMessage

from channels._dedup import MemoryDedupStore
from channels.webchat import WebChatInput
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
