"""Every scenario file names real services, attributes and options, and answers every question
its service requires, so that a failed scenario means the bot failed, not the scenario."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from evals.scenarios import Scenario, load

CATALOGUE = Path(__file__).parents[2] / "backoffice" / "src" / "civicdesk_backoffice" / "catalogue"
FILES = (
    "dev",
    "heldout",
    "fresh",
    "blind2",
    "blind3",
    "blind4",
    "blind5",
    "blind6",
    "blind7",
    "blind8",
    "blind9",
    "blind10",
    "blind11",
    "zh1",
    "zh2",
    "zh3",
    "zh4",
    "zh5",
)


def _services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in CATALOGUE.glob("*.yml"):
        for service in yaml.safe_load(path.read_text(encoding="utf-8")).get("services") or []:
            found[service["code"]] = service
    return found


SERVICES = _services()


def problems(scenario: Scenario) -> list[str]:
    """What is wrong with one scenario, in words."""
    service = SERVICES.get(scenario.expect.service_code)
    if service is None:
        return [f"unknown service {scenario.expect.service_code!r}"]
    found: list[str] = []
    if scenario.language not in ("en", "zh-Hans"):
        found.append(f"language {scenario.language!r} is neither 'en' nor 'zh-Hans'")
    if scenario.language == "zh-Hans" and not re.search(r"[\u4e00-\u9fff]", scenario.opening):
        found.append("a Chinese citizen whose opening has no Chinese")
    if service.get("type") != scenario.kind:
        found.append(f"kind {scenario.kind!r} but the service is a {service.get('type')}")
    attributes = {a["code"]: a for a in service.get("attributes") or []}
    for code, answer in scenario.answers.items():
        attribute = attributes.get(code)
        if attribute is None:
            found.append(f"answer for unknown attribute {code!r}")
            continue
        keys = {value["key"] for value in attribute.get("values") or []}
        if answer.keys and not set(answer.keys) <= keys:
            found.append(f"{code}: keys {sorted(set(answer.keys) - keys)} are not options")
        if keys and not answer.keys:
            found.append(f"{code}: a list attribute needs the key the citizen means")
        if not answer.say.strip():
            found.append(f"{code}: no words for typing")
    for code, attribute in attributes.items():
        if attribute.get("required") and code not in scenario.answers:
            found.append(f"no answer for the required {code!r}")
    for code, keys in scenario.expect.attributes.items():
        if code in attributes and not attributes[code].get("required"):
            # The bot asks only the required attributes (docs/conversation.md, step 3).
            found.append(f"expects the optional {code!r}, which is never asked")
        if code not in scenario.answers or set(keys) != set(scenario.answers[code].keys):
            found.append(f"expects {code}={list(keys)} that the citizen does not say")
    if service.get("needs_location") and not scenario.place:
        found.append("the service needs a place and the citizen knows none")
    wanted = scenario.expect.address_contains
    if wanted and wanted.casefold() not in (scenario.place + " " + scenario.opening).casefold():
        found.append(f"expects an address with {wanted!r} the citizen never types")
    contact = scenario.contact
    if (contact.says is None) == (contact.decline is None):
        found.append("contact needs exactly one of 'says' or 'decline'")
    for name, value in scenario.expect.contact.items():
        if contact.says is None or value.replace(" ", "") not in contact.says.replace(" ", ""):
            found.append(f"expects {name}={value!r} that the citizen does not type")
    return found


@pytest.mark.parametrize("name", FILES)
def test_scenarios_are_sound(name: str) -> None:
    scenarios = load(name)
    ids = [scenario.id for scenario in scenarios]
    assert len(ids) == len(set(ids)), "scenario ids repeat"
    wrong = {s.id: found for s in scenarios if (found := problems(s))}
    assert not wrong, wrong


def test_a_scenario_with_a_wrong_key_is_caught() -> None:
    [good] = [s for s in load("heldout") if s.answers and any(a.keys for a in s.answers.values())][
        :1
    ]
    code, answer = next((c, a) for c, a in good.answers.items() if a.keys)
    broken = Scenario(
        **{
            **good.__dict__,
            "answers": {**good.answers, code: type(answer)(keys=("no_such_key",), say="x")},
        }
    )
    assert any("no_such_key" in problem for problem in problems(broken))


def test_the_sets_cover_complaints_applications_and_feedback() -> None:
    scenarios = [scenario for name in FILES for scenario in load(name)]
    kinds = [scenario.kind for scenario in scenarios]
    assert len(scenarios) >= 60
    assert kinds.count("application") >= len(scenarios) / 3, "applications are a third at least"
    assert kinds.count("complaint") >= len(scenarios) / 3
    assert kinds.count("feedback") >= 8
    assert len({scenario.expect.service_code for scenario in scenarios}) >= 50
