"""Nothing lost, nobody in: N citizens in the middle of complaints while each fault happens.

The fault harness of ``tests/faults/harness.py`` at full size: the stack as ``make run``
starts it (both databases in a private PostgreSQL cluster, Telegram against the fake Bot
API on 127.0.0.1), then for each fault in turn N simulated citizens (100 by default) file a
complaint while it happens: the back office stops for 30 s, the action server is killed and
started again, PostgreSQL restarts, Rasa is killed and started again, every Telegram update
is delivered three times. Counted from the back office and the chat transcripts after a
bounded wait: tickets expected, created, duplicated and lost; citizens told "I will send it
as soon as it answers" and citizens told their reference. The targets (issue 12): 0 lost,
0 duplicated, every citizen told.

Run: ``.venv/bin/python bench/faults_bench.py`` after ``make train`` (``--citizens 100``,
``--faults`` to pick some, ``--outage 30``). Prints one Markdown table; docs/benchmarks.md,
section "Faults", records it.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.faults.harness import FAULTS, TABLE_HEADER, FaultEnvironment, FaultResult


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--citizens", type=int, default=100)
    parser.add_argument("--faults", nargs="*", choices=list(FAULTS), default=list(FAULTS))
    parser.add_argument("--outage", type=float, default=30.0, help="back office down, seconds")
    parser.add_argument(
        "--settle", type=float, default=300.0, help="longest wait for the last reference"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-logs", type=Path, help="copy the processes' logs here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")

    results: list[FaultResult] = []
    with tempfile.TemporaryDirectory(prefix="civicdesk-faults-") as scratch:
        started = time.monotonic()
        with FaultEnvironment(Path(scratch), outage_seconds=args.outage) as environment:
            print(f"stack up in {time.monotonic() - started:.0f} s", flush=True)
            for fault in args.faults:
                result = environment.run(
                    fault, args.citizens, seed=args.seed, settle_seconds=args.settle
                )
                results.append(result)
                print(f"{fault}: {'met' if result.ok else 'NOT met'}", flush=True)
                for problem in result.problems[:10]:
                    print(f"  {problem}", flush=True)
            crashed = environment.stack.exited()
            if args.keep_logs:
                shutil.copytree(Path(scratch) / "logs", args.keep_logs, dirs_exist_ok=True)
    print(f"\n{args.citizens} citizens per fault, seed {args.seed}")
    print(TABLE_HEADER)
    for result in results:
        print(result.row())
    if crashed:
        print(f"processes that ended on their own: {crashed}")
    return 0 if all(result.ok for result in results) and not crashed else 1


if __name__ == "__main__":
    sys.exit(main())
