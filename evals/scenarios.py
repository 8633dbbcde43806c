"""The scenario files: who the citizen is, what they know, and which ticket they should get.

The format is documented at the top of ``evals/scenarios/dev.yml`` (and in docs/evals.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

SCENARIOS = Path(__file__).parent / "scenarios"
Kind = Literal["complaint", "application", "feedback"]


@dataclass(frozen=True)
class Answer:
    """What the citizen means (``keys`` of a list attribute) and how they would type it."""

    keys: tuple[str, ...]
    say: str


@dataclass(frozen=True)
class Contact:
    """Either a way of declining to be contacted, or details typed in one message."""

    decline: str | None = None
    says: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Expected:
    service_code: str
    address_contains: str | None = None
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    contact: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    id: str
    kind: Kind
    persona: str
    opening: str
    description: str
    place: str
    service_says: str | None
    answers: dict[str, Answer]
    contact: Contact
    expect: Expected
    # The language the citizen writes in: "en" or "zh-Hans" (they answer and are answered in it).
    language: str = "en"


def _keys(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return (str(value),)


def _scenario(raw: dict[str, Any]) -> Scenario:
    facts = raw.get("facts") or {}
    expect = raw["expect"]
    contact = facts.get("contact") or {"decline": "no thanks"}
    return Scenario(
        id=str(raw["id"]),
        kind=raw["kind"],
        persona=str(raw.get("persona", "")),
        language=str(raw.get("language", "en")),
        opening=str(raw["opening"]),
        description=str(facts.get("description") or raw["opening"]),
        place=str(facts.get("place") or ""),
        service_says=facts.get("service_says"),
        answers={
            str(code): Answer(keys=_keys(answer.get("key")), say=str(answer.get("say", "")))
            for code, answer in (facts.get("answers") or {}).items()
        },
        contact=Contact(
            decline=contact.get("decline"),
            says=contact.get("says"),
            name=contact.get("name"),
            phone=None if contact.get("phone") is None else str(contact["phone"]),
            email=contact.get("email"),
        ),
        expect=Expected(
            service_code=str(expect["service_code"]),
            address_contains=expect.get("address_contains"),
            attributes={
                str(code): _keys(keys) for code, keys in (expect.get("attributes") or {}).items()
            },
            contact={str(k): str(v) for k, v in (expect.get("contact") or {}).items() if v},
        ),
    )


def load(name: str) -> list[Scenario]:
    """The scenarios of ``evals/scenarios/<name>.yml`` (or of the file ``name`` ending .yml)."""
    path = Path(name) if name.endswith(".yml") else SCENARIOS / f"{name}.yml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [_scenario(item) for item in raw]
