"""What Rasa's check of one action server response costs: Rasa's own against bot/action_results.

Rasa 3.6 validates every response of the action server with ``jsonschema.validate``; the
project installs a check compiled once (``bot/action_results.py``). This times both on the
response of a typical intake step (six slot events, a bot message, a reply with buttons) and
on a small one (one slot), in one process, and prints the medians and their ratio.

Run: ``.venv/bin/python bench/action_check_bench.py [--rounds 300]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jsonschema
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActiveLoop, BotUttered, SlotSet

from bot.action_results import ResponseValidator

SPEC = RemoteAction.action_response_format_spec()
BUTTONS = [
    {"title": f"Option {i}", "payload": f'/choose_option{{"choice": "o{i}"}}'} for i in range(4)
]
INTAKE_STEP = {
    "events": [
        SlotSet("service_attributes", {"position": ["road"]}).as_dict(),
        SlotSet("attribute_answer", None).as_dict(),
        SlotSet("failed_attempts", 0.0).as_dict(),
        SlotSet("requested_slot", "attribute_answer").as_dict(),
        SlotSet("attribute_adding", None).as_dict(),
        SlotSet("service_page", 0.0).as_dict(),
        ActiveLoop("intake_form").as_dict(),
        BotUttered("Step 3 of 6: How big is it?", {"buttons": BUTTONS}).as_dict(),
    ],
    "responses": [{"text": "Step 3 of 6: How big is it?", "buttons": BUTTONS}],
}
SMALL = {"events": [SlotSet("failed_attempts", 0.0).as_dict()], "responses": []}


def median_ms(check: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        check()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    compiled = ResponseValidator(SPEC)
    print("| response | jsonschema.validate, ms | compiled, ms | ratio |")
    print("|---|---|---|---|")
    for label, response in (("intake step (8 events, buttons)", INTAKE_STEP), ("one slot", SMALL)):
        rasa = median_ms(lambda r=response: jsonschema.validate(r, SPEC), args.rounds)
        ours = median_ms(lambda r=response: compiled.validate(r), args.rounds)
        print(f"| {label} | {rasa:.2f} | {ours:.3f} | {rasa / ours:.0f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
