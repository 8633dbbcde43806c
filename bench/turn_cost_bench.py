"""Turn cost of one long conversation: turn 10 against turn 300, in process, no back office.

Loads the trained model into a Rasa ``Agent`` (in-memory tracker store, no action server) and
plays one conversation of small-talk turns that only need responses (greet, help, thanks,
why), timing each ``handle_text``. Prints the median of turns 6-15 and of turns 291-300 and
their ratio; docs/benchmarks.md ("Conversation") records the figures.

Run: ``.venv/bin/python bench/turn_cost_bench.py [--store trimming|memory]`` from the repository
root (``trimming`` is the tracker store endpoints.yml configures, ``memory`` Rasa's default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

# The tracker store lives in the project (bot/), which a script run by path does not see.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MESSAGES = ("hello", "what can you do", "why do you need this", "thanks")
TURNS = 300
WINDOW = 10


async def play(model: Path, turns: int, store: str) -> list[float]:
    from rasa.core.agent import Agent

    from bot.tracker_store import TrimmingTrackerStore

    agent = Agent.load(str(model))
    if store == "trimming":
        # What endpoints.yml configures for `make run`.
        trimming = TrimmingTrackerStore(agent.domain)
        agent.tracker_store = trimming
        if agent.processor is not None:
            agent.processor.tracker_store = trimming
    durations = []
    for turn in range(1, turns + 1):
        started = time.perf_counter()
        await agent.handle_text(MESSAGES[turn % len(MESSAGES)], sender_id="bench")
        durations.append(time.perf_counter() - started)
    return durations


def configure_logging_like_rasa_run() -> None:
    """Log as `make run` does: `rasa run` without -v/--debug, level from LOG_LEVEL or INFO.

    Unconfigured, Rasa's structured logger prints every debug event of every turn, which is
    not what a served turn pays.
    """
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(None)
    configure_structlog(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/civicdesk.tar.gz"))
    parser.add_argument("--turns", type=int, default=TURNS)
    parser.add_argument("--store", choices=("trimming", "memory"), default="trimming")
    args = parser.parse_args()
    configure_logging_like_rasa_run()
    durations = asyncio.run(play(args.model, args.turns, args.store))
    early = statistics.median(durations[10 - WINDOW // 2 : 10 + WINDOW // 2])
    late = statistics.median(durations[args.turns - WINDOW :])
    print(
        json.dumps(
            {
                "turn_10_ms": round(early * 1000, 1),
                "turn_300_ms": round(late * 1000, 1),
                "ratio": round(late / early, 2),
                "turns": args.turns,
                "store": args.store,
            }
        )
    )


if __name__ == "__main__":
    main()
