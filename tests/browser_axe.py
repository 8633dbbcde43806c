"""Run axe-core's accessibility rules on a page open in Playwright's Chromium.

axe-core is installed from the npm registry by `make browser` (scripts/install-axe.sh, pinned in
tests/browser/package-lock.json); this module only reads the installed file, so a test run never
downloads anything. Any browser test can use it:

    from tests.browser_axe import run_axe, describe_violations

    violations = await run_axe(page)  # run_axe_sync(page) with playwright.sync_api
    assert violations == [], describe_violations(violations)

A page served with a Content-Security-Policy that forbids inline scripts (the web chat's does)
refuses the injected script: open its browser context with `bypass_csp=True` (Playwright then
ignores the page's CSP in that context only; the CSP itself is tested elsewhere).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from playwright.async_api import Error, Page
from playwright.sync_api import Page as SyncPage

AXE_JS = Path(__file__).parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA: the level the project's pages must meet.
WCAG_AA_TAGS: tuple[str, ...] = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")

Violation = dict[str, Any]


def axe_script() -> Path:
    """The installed axe.min.js, or a failure that says how to install it."""
    assert AXE_JS.is_file(), (
        f"axe-core is not installed ({AXE_JS} is missing): run `make browser` "
        "(scripts/install-axe.sh) once"
    )
    return AXE_JS


def _axe_options(
    tags: Sequence[str], best_practice: bool, rules: Sequence[str] | None
) -> dict[str, Any]:
    """axe.run's options: the rule sets by tag, or only the named rules."""
    if rules is not None:
        options: dict[str, Any] = {"runOnly": {"type": "rule", "values": list(rules)}}
    else:
        values = [*tags, "best-practice"] if best_practice else list(tags)
        options = {"runOnly": {"type": "tag", "values": values}}
    # resultTypes keeps the answer small: only violations carry their nodes back.
    options["resultTypes"] = ["violations"]
    return options


def _csp_blocked() -> AssertionError:
    """The failure for a page whose CSP refused the injected script, with the fix."""
    return AssertionError(
        "the page's Content-Security-Policy blocked axe-core: open the browser context "
        "with bypass_csp=True for accessibility checks"
    )


_HAS_AXE = "typeof window.axe === 'object'"
_RUN_AXE = "([context, options]) => window.axe.run(context ?? document, options)"


async def run_axe(
    page: Page,
    *,
    tags: Sequence[str] = WCAG_AA_TAGS,
    best_practice: bool = False,
    rules: Sequence[str] | None = None,
    context: str | None = None,
) -> list[Violation]:
    """axe's violations on the page as it is now (an empty list when it passes).

    `tags` picks the rule sets (WCAG 2.2 AA by default; `best_practice` adds axe's own
    "best-practice" rules); `rules` instead runs only the named rules (e.g. ["color-contrast"]);
    `context` is a CSS selector to check only part of the page. Each violation is axe's own
    result object: id, impact, help, helpUrl and the failing nodes (target, html, summary).
    """
    # Injected once per document: axe sets window.axe, and a page navigation clears it.
    if not await page.evaluate(_HAS_AXE):
        try:
            await page.add_script_tag(path=str(axe_script()))
        except Error as error:
            if "Content Security Policy" not in error.message:
                raise
            raise _csp_blocked() from error
    options = _axe_options(tags, best_practice, rules)
    results = await page.evaluate(_RUN_AXE, [context, options])
    return list(results["violations"])


def run_axe_sync(
    page: SyncPage,
    *,
    tags: Sequence[str] = WCAG_AA_TAGS,
    best_practice: bool = False,
    rules: Sequence[str] | None = None,
    context: str | None = None,
) -> list[Violation]:
    """`run_axe` for Playwright's synchronous API (the end-to-end tests use it)."""
    if not page.evaluate(_HAS_AXE):
        try:
            page.add_script_tag(path=str(axe_script()))
        except Error as error:
            if "Content Security Policy" not in error.message:
                raise
            raise _csp_blocked() from error
    options = _axe_options(tags, best_practice, rules)
    results = page.evaluate(_RUN_AXE, [context, options])
    return list(results["violations"])


def describe_violations(violations: Sequence[Violation]) -> str:
    """A readable summary of violations for an assertion message (rule, impact, where, why)."""
    lines: list[str] = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation.get('impact')}): {violation['help']}")
        for node in violation.get("nodes", [])[:5]:
            target = json.dumps(node.get("target"))
            summary = " ".join(str(node.get("failureSummary", "")).split())
            lines.append(f"    at {target}: {summary}")
    return "\n".join(lines) or "no violations"
