"""Run scenarios through a freshly started local stack and summarise how the citizens fared.

``python -m evals.run dev --mode type`` prints each failure with its transcript;
``bench/citizens_bench.py`` runs both sets and both modes and writes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from devstack import Stack, scratch_config
from evals.citizen import Mode
from evals.conversation import Outcome, converse, judge, read_catalogue
from evals.scenarios import Scenario, load
from evals.voice_channel import VoiceStack, voice_environment

# Conversations at once: a few citizens chatting together, within the machine's two cores.
CONCURRENCY = 4


@contextmanager
def local_stack() -> Iterator[Stack]:
    """The three processes on free ports, with their state in a fresh directory."""
    with tempfile.TemporaryDirectory(prefix="civicdesk-evals-") as scratch:
        config = scratch_config(
            Path(scratch), {"CIVICDESK_OUTBOX_RETRY_SECONDS": "1", **voice_environment()}
        )
        with VoiceStack(config) as stack:
            yield stack


async def run_scenarios(
    stack: Stack, scenarios: Iterable[Scenario], modes: Iterable[Mode], label: str = "run"
) -> list[Outcome]:
    """Every scenario in every mode, a few at a time, each judged by its ticket."""
    limit = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient() as client:
        catalogue = await read_catalogue(client, stack.config.backoffice_url)

        async def one(scenario: Scenario, mode: Mode) -> Outcome:
            async with limit:
                outcome = await converse(
                    client,
                    stack.config.rasa_url,
                    scenario,
                    mode,
                    catalogue,
                    sender=f"{label}-{mode}-{scenario.id}",
                    rasa_token=stack.rasa_token or "",
                )
                await judge(
                    client, stack.config.backoffice_url, stack.config.database_path, outcome
                )
                return outcome

        jobs = [one(scenario, mode) for mode in modes for scenario in scenarios]
        return list(await asyncio.gather(*jobs))


def success_rate(outcomes: list[Outcome]) -> float:
    return sum(o.success for o in outcomes) / len(outcomes) if outcomes else 0.0


def median_turns(outcomes: list[Outcome]) -> float | None:
    done = [o.turns for o in outcomes if o.success]
    return statistics.median(done) if done else None


def describe(outcome: Outcome) -> str:
    """A failure, with its conversation, for a developer to read."""
    lines = [f"--- {outcome.scenario.id} [{outcome.mode}]: {'; '.join(outcome.problems)}"]
    lines += [f"  {who:>7}: {text}" for who, text in outcome.transcript]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("set", nargs="?", default="dev", help="scenario file (dev, heldout)")
    parser.add_argument("--mode", choices=("tap", "type", "voice", "both"), default="both")
    parser.add_argument("--only", nargs="*", help="scenario ids to run")
    parser.add_argument("--quiet", action="store_true", help="no transcripts")
    args = parser.parse_args(argv)
    scenarios = [s for s in load(args.set) if not args.only or s.id in args.only]
    modes: list[Mode] = ["tap", "type"] if args.mode == "both" else [args.mode]
    with local_stack() as stack:
        outcomes = asyncio.run(run_scenarios(stack, scenarios, modes, label=args.set))
    for outcome in outcomes:
        if not outcome.success and not args.quiet:
            print(describe(outcome))
    for mode in modes:
        mine = [o for o in outcomes if o.mode == mode]
        print(
            f"{args.set} {mode}: {sum(o.success for o in mine)}/{len(mine)} "
            f"({success_rate(mine):.0%}), median turns {median_turns(mine)}"
        )
        failed = [o.scenario.id for o in mine if not o.success]
        if failed:
            print(f"  failed: {' '.join(failed)}")
    return 0 if all(o.success for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
