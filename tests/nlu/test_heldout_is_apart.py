"""The held-out NLU test sets (English and zh-Hans) stay apart from the training data and cover
every intent of their language."""

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
TRAINING_ZH = examples(sorted((ROOT / "nlu" / "zh").glob("*.yml")))
HELD_OUT = examples([ROOT / "tests" / "nlu" / "heldout.yml"])
HELD_OUT_ZH = examples([ROOT / "tests" / "nlu" / "heldout_zh.yml"])


def test_no_held_out_sentence_is_in_the_training_data() -> None:
    # Both languages train one model, so neither held-out set may appear in either training set.
    training = set().union(*TRAINING.values(), *TRAINING_ZH.values())
    held_out = [*HELD_OUT.values(), *HELD_OUT_ZH.values()]
    leaked = {text for texts in held_out for text in texts if text in training}

    assert leaked == set()


def test_every_intent_a_citizen_can_type_is_tested() -> None:
    # choose_option is only ever a button payload.
    assert set(TRAINING) - set(HELD_OUT) == {"choose_option"}


def test_every_intent_with_chinese_examples_is_tested_in_chinese() -> None:
    assert TRAINING_ZH, "no zh-Hans training data found under nlu/zh/"
    assert set(TRAINING_ZH) - set(HELD_OUT_ZH) == set()
    assert all(len(texts) >= 4 for texts in HELD_OUT_ZH.values())


def test_every_intent_a_citizen_can_type_has_chinese_examples() -> None:
    # The file stems match, so each language's data for a feature is found in the same place.
    stems = {path.stem for path in (ROOT / "nlu").glob("*.yml")}
    zh_stems = {path.stem for path in (ROOT / "nlu" / "zh").glob("*.yml")}

    assert zh_stems == stems
    assert set(TRAINING) - set(TRAINING_ZH) == {"choose_option"}


def test_each_intent_has_enough_chinese_examples() -> None:
    # The intake and status intents carry most of what citizens write, so they get more.
    many = {"report_issue", "request_service", "give_feedback", "check_status"}
    thin = {
        intent: len(texts)
        for intent, texts in TRAINING_ZH.items()
        if len(texts) < (25 if intent in many else 15)
    }

    assert thin == {}
