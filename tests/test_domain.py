"""Consistency of domain, training data and actions that `rasa data validate` does not check.

Rasa cannot see which responses custom actions utter, so it warns about them; these tests
check the real links instead: every reply key an action uses exists, every response is used,
and every custom action the domain names is served by the action package.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Action

import actions

ROOT = Path(__file__).resolve().parent.parent
DOMAIN: dict[str, Any] = yaml.safe_load((ROOT / "domain.yml").read_text())
# Responses Rasa itself utters (utter_default comes from the default fallback action).
USED_BY_RASA = {"utter_default"}


def action_sources() -> str:
    return "\n".join(path.read_text() for path in (ROOT / "actions").rglob("*.py"))


def conversation_data() -> str:
    return "\n".join(path.read_text() for path in (ROOT / "bot").rglob("*.yml"))


def test_every_response_key_uttered_by_an_action_exists() -> None:
    used = set(re.findall(r"""response\s*=\s*["'](utter_\w+)["']""", action_sources()))
    used |= set(re.findall(r"""return None, ["'](utter_\w+)["']""", action_sources()))

    assert used, "the scan found no response keys: the pattern is out of date"
    assert used - set(DOMAIN["responses"]) == set()


def test_every_response_is_used_somewhere() -> None:
    ask_responses = {
        f"utter_ask_{slot}" for form in DOMAIN["forms"].values() for slot in form["required_slots"]
    }
    text = action_sources() + conversation_data()

    def used(key: str) -> bool:
        return key in ask_responses or key in USED_BY_RASA or key in text

    # The form engine asks a step another way with `<ask response>_again`, and the summary of a
    # request without a place is `<summary>_without_place` (both built from the base key).
    unused = {
        key
        for key in DOMAIN["responses"]
        if not used(key)
        and not any(
            key.endswith(suffix) and used(key.removesuffix(suffix))
            for suffix in ("_again", "_without_place")
        )
    }

    assert unused == set()


def test_every_custom_action_in_the_domain_is_served() -> None:
    served = set()
    for module_info in pkgutil.walk_packages(actions.__path__, prefix="actions."):
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Action) and cls.__module__ == module.__name__:
                served.add(cls().name())

    assert set(DOMAIN["actions"]) <= served


def test_template_variables_are_plain_names() -> None:
    # A second language is a data change: templates may only use {name} placeholders.
    for key, variants in DOMAIN["responses"].items():
        for variant in variants:
            for placeholder in re.findall(r"\{([^}]*)\}", variant.get("text", "")):
                assert re.fullmatch(r"[a-z_]+", placeholder), (key, placeholder)


def test_a_conversation_left_for_20_hours_goes_on_where_it_stopped() -> None:
    session = DOMAIN["session_config"]

    assert session["session_expiration_time"] >= 20 * 60
    assert session["carry_over_slots_to_new_session"] is True


# Issue 14: every response speaks English (no condition) and Simplified Chinese (one variation
# chosen by the `language` slot). The checks take a domain so a scratch copy can be checked too.
_ZH_CONDITION = [{"type": "slot", "name": "language", "value": "zh-Hans"}]
_CHINESE_CHARACTER = re.compile(r"[\u4e00-\u9fff]")
_PLACEHOLDER = re.compile(r"\{([^}]*)\}")


def translation_problems(domain: dict[str, Any]) -> list[str]:
    """What is wrong with the zh-Hans variations of ``domain``'s responses (empty when none)."""
    problems: list[str] = []
    for key, variants in domain["responses"].items():
        english = [v for v in variants if not v.get("condition")]
        chinese = [v for v in variants if v.get("condition") == _ZH_CONDITION]
        others = [v for v in variants if v.get("condition") and v not in chinese]
        if len(english) != 1:
            problems.append(f"{key}: {len(english)} English variations (one without a condition)")
        if len(chinese) != 1:
            problems.append(f"{key}: {len(chinese)} zh-Hans variations")
        if others:
            problems.append(f"{key}: a variation with another condition")
        if len(english) != 1 or len(chinese) != 1:
            continue
        en, zh = english[0], chinese[0]
        en_text, zh_text = en.get("text", ""), zh.get("text", "")
        if sorted(_PLACEHOLDER.findall(zh_text)) != sorted(_PLACEHOLDER.findall(en_text)):
            problems.append(f"{key}: placeholders differ")
        if not _CHINESE_CHARACTER.search(zh_text):
            problems.append(f"{key}: the zh-Hans text has no Chinese characters")
        en_payloads = [b["payload"] for b in en.get("buttons") or []]
        zh_payloads = [b["payload"] for b in zh.get("buttons") or []]
        if zh_payloads != en_payloads:
            problems.append(f"{key}: button payloads differ")
    return problems


def test_every_response_has_one_chinese_variation_matching_the_english_one() -> None:
    assert translation_problems(DOMAIN) == []


def test_a_missing_or_broken_translation_is_found() -> None:
    # The check itself must see each kind of fault, on a copy of the real domain.
    def faulty(change: Any) -> list[str]:
        domain = copy.deepcopy(DOMAIN)
        change(domain["responses"])
        return translation_problems(domain)

    def drop_translation(responses: dict[str, Any]) -> None:
        responses["utter_goodbye"] = responses["utter_goodbye"][:1]

    def lose_placeholder(responses: dict[str, Any]) -> None:
        responses["utter_rated"][1]["text"] = "谢谢您的评价。"

    def swap_payloads(responses: dict[str, Any]) -> None:
        responses["utter_offer_rating"][1]["buttons"].reverse()

    def leave_english(responses: dict[str, Any]) -> None:
        responses["utter_goodbye"][1]["text"] = responses["utter_goodbye"][0]["text"]

    assert faulty(drop_translation) == ["utter_goodbye: 0 zh-Hans variations"]
    assert faulty(lose_placeholder) == ["utter_rated: placeholders differ"]
    assert faulty(swap_payloads) == ["utter_offer_rating: button payloads differ"]
    assert faulty(leave_english) == ["utter_goodbye: the zh-Hans text has no Chinese characters"]


def test_chinese_button_titles_are_translated() -> None:
    # A language's own name stays as it is written in that language ("English", "中文").
    untranslated = {
        (key, button["title"])
        for key, variants in DOMAIN["responses"].items()
        for variant in variants
        if variant.get("condition") == _ZH_CONDITION
        for button in variant.get("buttons") or []
        if not _CHINESE_CHARACTER.search(button["title"]) and "language" not in button["payload"]
    }

    assert untranslated == set()
