"""Per-message NLU latency of a trained model, over the held-out test messages.

Run: ``.venv/bin/python bench/nlu_latency_bench.py --model models/civicdesk.tar.gz [--model M]``
Prints, per model, the median and 95th percentile of ``Agent.parse_message`` in milliseconds,
wall-clock and CPU time of this process. Several models parse message by message in
alternation, so load from other work on a shared machine hits them alike.

``--languages`` parses the English and the Chinese held-out messages with each model in the
same run, alternating one English and one Chinese message, and prints a line per model and
language plus the Chinese/English ratio of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # no stubs installed

HELD_OUT = Path("tests/nlu/heldout.yml")
HELD_OUT_ZH = Path("tests/nlu/heldout_zh.yml")
ROUNDS = 3


def held_out_messages(path: Path = HELD_OUT) -> list[str]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    examples = [
        line.strip().removeprefix("- ")
        for block in data.get("nlu", [])
        if "intent" in block
        for line in block["examples"].splitlines()
    ]
    # Strip entity annotations: "[Pine Street](location)" -> "Pine Street".
    return [re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text) for text in examples if text]


async def measure(models: list[Path]) -> list[dict[str, list[float]]]:
    from rasa.core.agent import Agent

    agents = [Agent.load(str(model)) for model in models]
    messages = held_out_messages()
    timings: list[dict[str, list[float]]] = [{"wall": [], "cpu": []} for _ in agents]
    for agent in agents:
        await agent.parse_message(messages[0])  # warm-up
    for _ in range(ROUNDS):
        for text in messages:
            # Models take turns message by message, so a burst of load hits all alike.
            for agent, timing in zip(agents, timings, strict=True):
                wall, cpu = time.perf_counter(), time.process_time()
                await agent.parse_message(text)
                timing["cpu"].append(time.process_time() - cpu)
                timing["wall"].append(time.perf_counter() - wall)
    return timings


async def measure_languages(models: list[Path]) -> list[dict[str, dict[str, list[float]]]]:
    """Per model, per language ("en", "zh"), the wall and CPU time of each parse."""
    from rasa.core.agent import Agent

    agents = [Agent.load(str(model)) for model in models]
    english, chinese = held_out_messages(HELD_OUT), held_out_messages(HELD_OUT_ZH)
    # Pair the messages one to one, so each language gets as many parses, taken in turns.
    count = min(len(english), len(chinese))
    pairs = list(zip(english[:count], chinese[:count], strict=True))
    timings = [{lang: {"wall": [], "cpu": []} for lang in ("en", "zh")} for _ in agents]
    for agent in agents:
        await agent.parse_message(english[0])  # warm-up
        await agent.parse_message(chinese[0])
    for _ in range(ROUNDS):
        for pair in pairs:
            for lang, text in zip(("en", "zh"), pair, strict=True):
                for agent, timing in zip(agents, timings, strict=True):
                    wall, cpu = time.perf_counter(), time.process_time()
                    await agent.parse_message(text)
                    timing[lang]["cpu"].append(time.process_time() - cpu)
                    timing[lang]["wall"].append(time.perf_counter() - wall)
    return timings


def summary(durations: list[float]) -> dict[str, float]:
    """Median and 95th percentile in milliseconds."""
    ordered = sorted(durations)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95)] * 1000, 2),
    }


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
    parser.add_argument(
        "--model",
        type=Path,
        action="append",
        help="trained model; repeat to compare (default models/civicdesk.tar.gz)",
    )
    parser.add_argument(
        "--languages",
        action="store_true",
        help="English and Chinese held-out messages in turns; prints the zh/en ratio",
    )
    args = parser.parse_args()
    models: list[Path] = args.model or [Path("models/civicdesk.tar.gz")]
    configure_logging_like_rasa_run()
    if args.languages:
        for model, by_language in zip(models, asyncio.run(measure_languages(models)), strict=True):
            found = {lang: summary(t["wall"]) for lang, t in by_language.items()}
            for lang, timing in by_language.items():
                print(
                    json.dumps(
                        {
                            "model": str(model),
                            "language": lang,
                            "messages": len(timing["wall"]),
                            "wall": found[lang],
                            "cpu": summary(timing["cpu"]),
                        }
                    )
                )
            ratio = found["zh"]["median_ms"] / found["en"]["median_ms"]
            print(json.dumps({"model": str(model), "zh_over_en_median_wall": round(ratio, 2)}))
        return
    timings = asyncio.run(measure(models))
    for model, timing in zip(models, timings, strict=True):
        print(
            json.dumps(
                {
                    "model": str(model),
                    "messages": len(timing["wall"]),
                    "wall": summary(timing["wall"]),
                    "cpu": summary(timing["cpu"]),
                }
            )
        )


if __name__ == "__main__":
    main()
