"""Whole conversations as citizens wait for them: turns per second and latency per turn kind.

Starts the three processes as ``make run`` does (back office on SQLite, action server, Rasa
with the trained model and its shipped logging) on free ports, then lets N simulated
citizens at once each go through four conversations over Rasa's REST channel, tapping:

- a complaint with an attribute and a place (road damage),
- an application (a doctor's appointment),
- a status check of the complaint they filed,
- a comment (a suggestion).

Every filed ticket is read back from the back office and checked against what the citizen
said (evals/conversation.py's judge). Prints turns/s over the whole run, p50/p95/p99 of each
kind of turn (which question it answered), and the CPU each process used per turn, read from
/proc for its whole process group.

In the same run (unless ``--no-stock``) it serves Rasa's starter bot (``rasa init``, see
bench/stock_bot.py) and lets the same numbers of citizens chat with it, and prints our
turns/s as a ratio to the starter bot's. ``--profile`` samples the Rasa process with py-spy
during the run with the most citizens and prints where its CPU went
(bench/profile_summary.py).

Run: ``.venv/bin/python bench/conversation_bench.py --citizens 1 10 30 --profile`` after
``make train``. Issue 11 in the tracker sets the targets; docs/benchmarks.md records the
figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import yaml

from bench.profile_summary import recording, summarise
from bench.stock_bot import measure_stock, stock_bot
from devstack import Stack, scratch_config
from evals.bot_messages import read_reply
from evals.citizen import Catalogue, Citizen
from evals.conversation import Outcome, judge, read_catalogue
from evals.scenarios import Answer, Contact, Expected, Scenario

CATALOGUE = Path(__file__).resolve().parent.parent / "backoffice/src/civicdesk_backoffice/catalogue"
MAX_TURNS = 20
TICKS = os.sysconf("SC_CLK_TCK")


def _services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in CATALOGUE.glob("*.yml"):
        for service in yaml.safe_load(path.read_text(encoding="utf-8")).get("services") or []:
            found[service["code"]] = service
    return found


def scenario(code: str, kind: str, opening: str, place: str = "") -> Scenario:
    """A citizen who knows an answer to every required question of ``code``."""
    service = _services()[code]
    answers: dict[str, Answer] = {}
    expected: dict[str, tuple[str, ...]] = {}
    for attribute in service.get("attributes") or []:
        if not attribute.get("required"):
            continue
        keys = tuple(str(v["key"]) for v in (attribute.get("values") or [])[:1])
        say = {"number": "2", "datetime": "yesterday"}.get(attribute["datatype"], "monday morning")
        answers[attribute["code"]] = Answer(keys=keys, say=say)
        if keys:
            expected[attribute["code"]] = keys
    return Scenario(
        id=f"bench-{code}",
        kind=kind,  # type: ignore[arg-type]
        persona="",
        opening=opening,
        description=opening,
        place=place,
        service_says=None,
        answers=answers,
        contact=Contact(decline="no thanks"),
        expect=Expected(
            service_code=code,
            address_contains=place.split()[1] if place else None,
            attributes=expected,
        ),
    )


SCENARIOS = (
    scenario(
        "road_damage",
        "complaint",
        "there is a deep pothole in the road, cars swerve round it",
        "12 Jiefang Road",
    ),
    scenario("doctor_appointment", "application", "I need to see a doctor about my back"),
    scenario("suggestion", "feedback", "the library should open on sundays, people work all week"),
)


async def say(
    client: httpx.AsyncClient, url: str, sender: str, text: str, kind: str, timings: Any
) -> Any:
    started = time.perf_counter()
    response = await client.post(
        f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60
    )
    timings[kind].append(time.perf_counter() - started)
    response.raise_for_status()
    return read_reply(response.json())


async def one_conversation(
    client: httpx.AsyncClient,
    stack: Stack,
    catalogue: Catalogue,
    case: Scenario,
    sender: str,
    timings: Any,
) -> Outcome:
    outcome = Outcome(case, "tap")
    citizen = Citizen(case, "tap", catalogue)
    message, kind = case.opening, "opening"
    while outcome.turns < MAX_TURNS:
        reply = await say(client, stack.config.rasa_url, sender, message, kind, timings)
        outcome.turns += 1
        if reply.step == "filed":
            outcome.reference = reply.values.get("service_request_id")
            break
        kind = reply.step or "other"
        message = citizen.answer(reply)
    if outcome.reference is None:
        outcome.problems.append("no ticket")
    await judge(client, stack.config.backoffice_url, stack.config.database_path, outcome)
    return outcome


async def citizen_run(
    client: httpx.AsyncClient,
    stack: Stack,
    catalogue: Catalogue,
    number: int,
    rounds: int,
    timings: Any,
    problems: list[str],
) -> None:
    for round_number in range(rounds):
        for case in SCENARIOS:
            sender = f"bench-{number}-{round_number}-{case.id}"
            outcome = await one_conversation(client, stack, catalogue, case, sender, timings)
            problems.extend(f"{case.id}: {p}" for p in outcome.problems)
            if case.kind == "complaint" and outcome.reference:
                reply = await say(
                    client,
                    stack.config.rasa_url,
                    sender,
                    f"what is the status of {outcome.reference}",
                    "status",
                    timings,
                )
                if not any(outcome.reference in text for text in reply.texts):
                    problems.append(f"status of {outcome.reference} not told")


def group_ticks(leader: int) -> int:
    """utime + stime of every process in ``leader``'s process group, in clock ticks."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == leader:  # field 5, pgrp, after the name
            total += int(fields[11]) + int(fields[12])
    return total


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(stack: Stack, citizens: int, rounds: int) -> float:
    limits = httpx.Limits(max_connections=citizens * 2, max_keepalive_connections=citizens * 2)
    async with httpx.AsyncClient(limits=limits) as client:
        catalogue = await read_catalogue(client, stack.config.backoffice_url)
        # One quiet conversation first, so that no process is still warming up.
        await one_conversation(client, stack, catalogue, SCENARIOS[0], "warm-up", defaultdict(list))
        timings: dict[str, list[float]] = defaultdict(list)
        problems: list[str] = []
        before = {name: group_ticks(pid) for name, pid in stack.pids().items()}
        started = time.perf_counter()
        await asyncio.gather(
            *(
                citizen_run(client, stack, catalogue, n, rounds, timings, problems)
                for n in range(citizens)
            )
        )
        wall = time.perf_counter() - started
        after = {name: group_ticks(pid) for name, pid in stack.pids().items()}
    turns = sum(len(v) for v in timings.values())
    print(f"\n{citizens} citizen(s) at once, {rounds} round(s) each: {turns} turns in {wall:.1f} s")
    print(f"**{turns / wall:.1f} turns/s**; tickets checked, problems: {len(problems)}")
    for problem in problems[:10]:
        print(f"  {problem}")
    print("| turn answering | turns | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|---|")
    everything = [t for values in timings.values() for t in values]
    for kind, values in [*sorted(timings.items()), ("all", everything)]:
        print(
            f"| {kind} | {len(values)} | {statistics.median(values) * 1000:.0f} "
            f"| {percentile(values, 0.95) * 1000:.0f} | {percentile(values, 0.99) * 1000:.0f} |"
        )
    print("| process | CPU s | CPU ms per turn |")
    print("|---|---|---|")
    for name in before:
        seconds = (after[name] - before[name]) / TICKS
        print(f"| {name} | {seconds:.1f} | {seconds * 1000 / turns:.1f} |")
    return turns / wall


def print_profile(profile: Path) -> None:
    print("\nWhere Rasa's CPU went (py-spy samples; inclusive: on the stack, self: at its top)")
    print("| function | inclusive | self |")
    print("|---|---|---|")
    for name, inclusive, own in summarise(profile):
        print(f"| `{name}` | {inclusive:.0%} | {own:.0%} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--citizens", type=int, nargs="*", default=[10])
    parser.add_argument("--rounds", type=int, default=3, help="conversation rounds per citizen")
    parser.add_argument("--no-stock", action="store_true", help="skip the starter bot")
    parser.add_argument("--profile", action="store_true", help="py-spy on Rasa, most citizens")
    args = parser.parse_args()
    ours: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="civicdesk-bench-") as scratch:
        config = scratch_config(Path(scratch), {"CIVICDESK_OUTBOX_RETRY_SECONDS": "1"})
        profile = Path(scratch) / "rasa.profile.txt"
        with Stack(config) as stack:
            for citizens in args.citizens:
                if args.profile and citizens == max(args.citizens):
                    with recording(stack.pids()["rasa"], profile):
                        ours[citizens] = asyncio.run(measure(stack, citizens, args.rounds))
                else:
                    ours[citizens] = asyncio.run(measure(stack, citizens, args.rounds))
        if args.profile:
            print_profile(profile)
        if not args.no_stock:
            print("\nThe starter bot (rasa init), the same numbers of citizens, 4-turn chats")
            print("| citizens | turns | turns/s | p50 ms | p95 ms | CPU ms per turn | ours / it |")
            print("|---|---|---|---|---|---|---|")
            with stock_bot(Path(scratch) / "stock") as (url, pid):
                for citizens in args.citizens:
                    run = asyncio.run(measure_stock(url, pid, citizens, args.rounds, group_ticks))
                    print(
                        f"| {citizens} | {run.turns} | {run.turns_per_second:.1f} "
                        f"| {run.p50_ms:.0f} | {run.p95_ms:.0f} | {run.cpu_ms_per_turn:.1f} "
                        f"| {ours[citizens] / run.turns_per_second:.2f} |"
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
