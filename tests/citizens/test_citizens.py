"""Simulated citizens, tapping and typing, get the right ticket through the running stack.

A sample of the development scenarios (evals/scenarios/dev.yml), one for each kind of
difficulty the harness found: a typo-laden two-word report, an answer that fits two
options, "choose all that apply", a need the first matches miss, dates ahead, a yes/no
answered in a sentence, an application, a compliment; and three citizens who write Chinese.
The whole sets run in
``bench/citizens_bench.py``; this keeps each class from coming back unnoticed.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Iterator

import pytest

from devstack import Stack
from evals.conversation import Outcome
from evals.run import describe, local_stack, run_scenarios
from evals.scenarios import load

SAMPLE = (
    "dev-streetlight-typo-nightshift",
    "dev-bin-overflowing-student-textspeak",
    "dev-bus-shelter-glass-chinese-student",
    "dev-dustbin-taken-widower",
    "dev-new-flat-power-water-textspeak",
    "dev-skip-for-kitchen-refit",
    "dev-idcard-expiring-chinese-shopkeeper",
    "dev-syringes-school-path-caretaker",
    "dev-factory-closed-laid-off",
    "dev-thanks-driver-fixed-ramp",
)
# Citizens who write Chinese (evals/scenarios/zh1.yml): a complaint typed with a homophone
# slip, an application with a required choice, a compliment.
SAMPLE_ZH = ("zh1-street-light-granny", "zh1-lost-id-terse", "zh1-thank-young-clerk")
# The bar for a complaint: a median of at most seven messages from the citizen.
COMPLAINT_MEDIAN_MESSAGES = 7


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with local_stack() as running:
        yield running


@pytest.fixture(scope="module")
def outcomes(stack: Stack) -> list[Outcome]:
    scenarios = [s for s in load("dev") if s.id in SAMPLE]
    scenarios += [s for s in load("zh1") if s.id in SAMPLE_ZH]
    assert sorted(s.id for s in scenarios) == sorted(SAMPLE + SAMPLE_ZH), "every id exists"
    return asyncio.run(run_scenarios(stack, scenarios, ["tap", "type"], label="ci"))


@pytest.mark.parametrize("mode", ["tap", "type"])
def test_every_sampled_citizen_gets_the_right_ticket(outcomes: list[Outcome], mode: str) -> None:
    failed = [describe(o) for o in outcomes if o.mode == mode and not o.success]
    assert failed == [], "\n".join(failed)


def test_no_bot_message_is_said_three_times_in_a_row(outcomes: list[Outcome]) -> None:
    repeated = {f"{o.scenario.id} [{o.mode}]": o.longest_repeat for o in outcomes}
    assert max(repeated.values()) < 3, repeated


def test_complaints_take_few_messages(outcomes: list[Outcome]) -> None:
    turns = [o.turns for o in outcomes if o.scenario.kind == "complaint" and o.success]
    assert turns, "complaints were sampled"
    assert statistics.median(turns) <= COMPLAINT_MEDIAN_MESSAGES, turns
