"""Consistency of domain, training data and actions that `rasa data validate` does not check.

Rasa cannot see which responses custom actions utter, so it warns about them; these tests
check the real links instead: every reply key an action uses exists, every response is used,
and every custom action the domain names is served by the action package.
"""

from __future__ import annotations

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
