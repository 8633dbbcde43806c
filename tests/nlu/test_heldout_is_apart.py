"""The held-out NLU test set stays apart from the training data and covers every intent."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]+\)")


def examples(paths: list[Path]) -> dict[str, set[str]]:
    by_intent: dict[str, set[str]] = {}
    for path in paths:
        data: dict[str, Any] = yaml.safe_load(path.read_text())
        for block in data.get("nlu", []):
            if "intent" not in block:
                continue
            for line in block["examples"].splitlines():
                text = _ANNOTATION.sub(r"\1", line.strip().removeprefix("- ")).casefold()
                if text:
                    by_intent.setdefault(block["intent"], set()).add(text)
    return by_intent


TRAINING = examples(sorted((ROOT / "nlu").glob("*.yml")))
HELD_OUT = examples([ROOT / "tests" / "nlu" / "heldout.yml"])


def test_no_held_out_sentence_is_in_the_training_data() -> None:
    training = set().union(*TRAINING.values())
    leaked = {text for texts in HELD_OUT.values() for text in texts if text in training}

    assert leaked == set()


def test_every_intent_a_citizen_can_type_is_tested() -> None:
    # choose_option is only ever a button payload.
    assert set(TRAINING) - set(HELD_OUT) == {"choose_option"}
