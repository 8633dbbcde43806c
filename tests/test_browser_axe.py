"""tests/browser_axe.py in a real headless Chromium: it finds what axe finds, and nothing on a
clean page (so a browser test's `run_axe(page) == []` can fail)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from tests.browser_axe import describe_violations, run_axe

CHROMIUM = Path(os.environ.get("CIVICDESK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.asyncio(loop_scope="module")

CLEAN = """<!doctype html><html lang="en"><head><title>Clean</title></head>
<body><main><h1>Clean</h1><p>Plain text.</p><button type="button">Send</button></main></body>
</html>"""
# An image without a text alternative, an unnamed button and light-grey text on white.
BROKEN = """<!doctype html><html lang="en"><head><title>Broken</title></head>
<body><main><h1>Broken</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<button type="button"></button><p style="color:#bbb;background:#fff">Faint</p></main></body>
</html>"""


def chromium_path() -> str:
    assert CHROMIUM.exists(), "no Chromium: run scripts/install-chromium.sh (make browser does)"
    return str(CHROMIUM)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser) -> AsyncIterator[Page]:
    # A new page per test: axe injected into one page must not carry over to the next.
    opened = await browser.new_page()
    yield opened
    await opened.close()


async def test_a_clean_page_has_no_violations(page: Page) -> None:
    await page.set_content(CLEAN)
    violations = await run_axe(page, best_practice=True)
    assert violations == [], describe_violations(violations)


async def test_the_broken_page_breaks_the_expected_rules(page: Page) -> None:
    await page.set_content(BROKEN)
    violations = await run_axe(page)
    assert {v["id"] for v in violations} == {"image-alt", "button-name", "color-contrast"}
    assert "image-alt (critical)" in describe_violations(violations)
    # A single rule, and only part of the page.
    only_contrast = await run_axe(page, rules=["color-contrast"])
    assert [v["id"] for v in only_contrast] == ["color-contrast"]
    assert await run_axe(page, context="h1") == []


async def test_a_page_whose_csp_blocks_axe_gets_a_clear_failure(page: Page) -> None:
    # The same CSP as the web chat's: no inline scripts, so the injected axe cannot run.
    await page.set_content(
        '<html lang="en"><head><meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'self'\"><title>Strict</title></head><body></body></html>"
    )
    with pytest.raises(AssertionError, match="bypass_csp=True"):
        await run_axe(page)
