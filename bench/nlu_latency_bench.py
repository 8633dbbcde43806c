"""Per-message NLU latency of a trained model, over the held-out test messages.

Run: ``.venv/bin/python bench/nlu_latency_bench.py --model models/civicdesk.tar.gz``
Prints the median and 95th percentile of ``Agent.parse_message`` in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from pathlib import Path

HELD_OUT = Path("tests/nlu/heldout.yml")
ROUNDS = 3


def held_out_messages() -> list[str]:
    lines = HELD_OUT.read_text().splitlines()
    examples = [line.strip()[2:] for line in lines if line.strip().startswith("- ")]
    # Strip entity annotations: "[Pine Street](location)" -> "Pine Street".
    return [re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text) for text in examples if text]


async def measure(model: Path) -> list[float]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    messages = held_out_messages()
    await agent.parse_message(messages[0])  # warm-up
    durations = []
    for _ in range(ROUNDS):
        for text in messages:
            started = time.perf_counter()
            await agent.parse_message(text)
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
    args = parser.parse_args()
    configure_logging_like_rasa_run()
    durations = sorted(asyncio.run(measure(args.model)))
    print(
        json.dumps(
            {
                "messages": len(durations),
                "median_ms": round(statistics.median(durations) * 1000, 2),
                "p95_ms": round(durations[int(len(durations) * 0.95)] * 1000, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
