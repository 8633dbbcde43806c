"""tests/browser_axe.py's run_axe_sync, for tests on Playwright's synchronous API (end-to-end)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.browser_axe import describe_violations, run_axe_sync
from tests.test_browser_axe import BROKEN, CHROMIUM_ARGS, CLEAN, chromium_path


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser.new_page()
        browser.close()


def test_the_sync_runner_passes_a_clean_page_and_fails_a_broken_one(page: Page) -> None:
    page.set_content(CLEAN)
    clean = run_axe_sync(page, best_practice=True)
    assert clean == [], describe_violations(clean)
    page.set_content(BROKEN)
    assert {v["id"] for v in run_axe_sync(page)} == {"image-alt", "button-name", "color-contrast"}
    assert [v["id"] for v in run_axe_sync(page, rules=["image-alt"])] == ["image-alt"]
