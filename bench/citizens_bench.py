"""Task success of simulated citizens, tapping, typing and speaking, through the running stack.

Starts the three processes (back office on SQLite, action server, Rasa with the trained
model), plays every scenario of ``evals/scenarios/dev.yml`` and ``heldout.yml`` in each mode
(tapping and typing over Rasa's REST channel, speaking through the voice channel), and
judges each conversation by the ticket it filed. Prints, per scenario set, mode and kind:
the share of citizens who got the right ticket, the median number of messages they sent,
the median time a whole conversation took as they waited for it, and the most consecutive
turns one identical bot message was said in. Failures are listed by id
(``python -m evals.run <set> --only <id>`` shows the conversation).
docs/benchmarks.md ("Simulated citizens") records the figures; the held-back set is
reported apart.

Run: ``.venv/bin/python bench/citizens_bench.py [--sets dev heldout]`` from the repository
root, after ``make train``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

# The harness lives in the project (evals/), which a script run by path does not see.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.conversation import Outcome
from evals.run import local_stack, run_scenarios
from evals.scenarios import load

KINDS = ("complaint", "application", "feedback")
# "voice": through the voice channel, answers spoken, no buttons (evals/voice_channel.py).
MODES = ("tap", "type", "voice")


def row(label: str, outcomes: list[Outcome]) -> str:
    if not outcomes:
        return f"| {label} | 0 | - | - | - | - |"
    done = [o for o in outcomes if o.success]
    turns = statistics.median(o.turns for o in done) if done else float("nan")
    seconds = statistics.median(o.seconds for o in outcomes)
    repeat = max(o.longest_repeat for o in outcomes)
    return (
        f"| {label} | {len(done)}/{len(outcomes)} ({len(done) / len(outcomes):.0%}) "
        f"| {turns:g} | {seconds:.2f} | {repeat} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", nargs="*", default=["dev", "heldout"])
    args = parser.parse_args()
    results: dict[str, list[Outcome]] = {}
    with local_stack() as stack:
        for name in args.sets:
            results[name] = asyncio.run(
                run_scenarios(stack, load(name), list(MODES), label=f"bench-{name}")
            )
    print("| set, mode, kind | right ticket | median messages | median s | max repeat |")
    print("|---|---|---|---|---|")
    for name, outcomes in results.items():
        for mode in MODES:
            mine = [o for o in outcomes if o.mode == mode]
            print(row(f"{name}, {mode}, all", mine))
            for kind in KINDS:
                print(row(f"{name}, {mode}, {kind}", [o for o in mine if o.scenario.kind == kind]))
    for name, outcomes in results.items():
        for mode in MODES:
            failed = [o for o in outcomes if o.mode == mode and not o.success]
            if failed:
                print(f"\n{name} {mode} failed:")
                for outcome in failed:
                    print(f"  {outcome.scenario.id}: {'; '.join(outcome.problems)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
