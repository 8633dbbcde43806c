"""Turn cost of one long conversation: turn 10 against turn 300, in process, no back office.

Loads each trained model into a Rasa ``Agent`` (no action server) and plays one conversation
of small-talk turns that only need responses (greet, help, thanks, why), timing each
``handle_text``. Prints, per model, the median and 95th percentile of all turns (the per-turn
latency target), the median of turns 6-15 and of turns 291-300 and their ratio, in wall-clock
time and in CPU time of this process. docs/benchmarks.md ("Conversation") records the figures.

On a machine shared with other work the wall-clock figures move with everyone else's load;
CPU time moves much less. Given several ``--model``, the conversations are played turn by
turn in alternation, so a burst of load hits every model alike and the comparison holds.

Run: ``.venv/bin/python bench/turn_cost_bench.py [--store S] [--model M ...]`` from the
repository root. ``--store``: ``sqlite`` is what endpoints.yml configures for ``make run``
(``TrimmingSQLTrackerStore`` on a SQLite file in a scratch directory), ``postgresql`` the same
store as deploy/endpoints.scaled.yml uses it (on a scratch database at ``--pg-url``, dropped
afterwards), ``rasa-sql`` Rasa's own untrimmed SQL store there, ``trimming`` the in-memory
``TrimmingTrackerStore`` and ``memory`` Rasa's in-memory default.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# The tracker store lives in the project (bot/), which a script run by path does not see.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MESSAGES = ("hello", "what can you do", "why do you need this", "thanks")
TURNS = 300
WINDOW = 10
STORES = ("sqlite", "postgresql", "rasa-sql", "trimming", "memory")
PG_URL = "postgresql://postgres@127.0.0.1:5432"


@contextlib.contextmanager
def store_url(store: str, pg_url: str) -> Iterator[str | None]:
    """The database a SQL store runs on, created for this run and removed after it."""
    if store == "sqlite":
        with tempfile.TemporaryDirectory() as scratch:
            yield f"sqlite:///{Path(scratch) / 'conversations.sqlite3'}"
    elif store in ("postgresql", "rasa-sql"):
        import sqlalchemy as sa  # type: ignore[import-untyped]  # SQLAlchemy 1.4 is untyped

        database = f"civicdesk_turn_bench_{secrets.token_hex(4)}"
        admin = sa.create_engine(f"{pg_url}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
        try:
            yield f"{pg_url}/{database}"
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()
    else:
        yield None


def tracker_store(store: str, domain: Any, url: str | None) -> Any:
    """The tracker store ``--store`` names, or ``None`` for the agent's in-memory default."""
    from rasa.core.tracker_store import SQLTrackerStore

    from bot.tracker_store import TrimmingSQLTrackerStore, TrimmingTrackerStore

    if store == "trimming":
        return TrimmingTrackerStore(domain)
    if store == "rasa-sql":
        return SQLTrackerStore(domain, host=url)
    if store in ("sqlite", "postgresql"):
        return TrimmingSQLTrackerStore(domain, host=url)
    return None


async def play(
    models: list[Path], turns: int, store: str, url: str | None
) -> list[dict[str, list[float]]]:
    from rasa.core.agent import Agent

    agents = [Agent.load(str(model)) for model in models]
    for agent in agents:
        chosen = tracker_store(store, agent.domain, url)
        if chosen is not None:
            agent.tracker_store = chosen
            if agent.processor is not None:
                agent.processor.tracker_store = chosen
    timings: list[dict[str, list[float]]] = [{"wall": [], "cpu": []} for _ in agents]
    for turn in range(1, turns + 1):
        for index, (agent, timing) in enumerate(zip(agents, timings, strict=True)):
            wall, cpu = time.perf_counter(), time.process_time()
            # One conversation per model: with several models, a SQL store's database is shared.
            await agent.handle_text(MESSAGES[turn % len(MESSAGES)], sender_id=f"bench-{index}")
            timing["cpu"].append(time.process_time() - cpu)
            timing["wall"].append(time.perf_counter() - wall)
    return timings


def summary(durations: list[float], turns: int) -> dict[str, float]:
    """Median, 95th percentile, turn 10 and turn 300 (medians of 10 turns around them), in ms."""
    early = statistics.median(durations[10 - WINDOW // 2 : 10 + WINDOW // 2])
    late = statistics.median(durations[turns - WINDOW :])
    ordered = sorted(durations)
    return {
        "median_ms": round(statistics.median(durations) * 1000, 1),
        "p95_ms": round(ordered[int(len(ordered) * 0.95)] * 1000, 1),
        "turn_10_ms": round(early * 1000, 1),
        "turn_300_ms": round(late * 1000, 1),
        "ratio": round(late / early, 2),
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
    parser.add_argument("--turns", type=int, default=TURNS)
    parser.add_argument("--store", choices=STORES, default="sqlite")
    parser.add_argument("--pg-url", default=PG_URL, help=f"PostgreSQL server (default {PG_URL})")
    args = parser.parse_args()
    models: list[Path] = args.model or [Path("models/civicdesk.tar.gz")]
    configure_logging_like_rasa_run()
    with store_url(args.store, args.pg_url) as url:
        timings = asyncio.run(play(models, args.turns, args.store, url))
    for model, timing in zip(models, timings, strict=True):
        result: dict[str, Any] = {"model": str(model), "store": args.store, "turns": args.turns}
        result["wall"] = summary(timing["wall"], args.turns)
        result["cpu"] = summary(timing["cpu"], args.turns)
        print(json.dumps(result))


if __name__ == "__main__":
    main()
