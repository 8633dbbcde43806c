"""Where a process spends its CPU while the benchmark runs: py-spy, summarised in a table.

``py-spy record --format raw`` samples the process's Python stacks (on-CPU samples only) and
writes one line per distinct stack with its sample count. The summary gives, for the
functions with the largest shares, the share of samples in which each is on the stack
(inclusive) and at its top (self). Shares, not seconds: the sampling rate is fixed, so the
shares compare across runs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PY_SPY = Path(sys.executable).with_name("py-spy")
# "function (path/to/file.py:123)" as py-spy writes a frame.
_FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>[^()]*?)(?::\d+)?\)$")


@contextmanager
def recording(pid: int, output: Path, rate: int = 200) -> Iterator[None]:
    """Sample ``pid`` for as long as the ``with`` block runs."""
    process = subprocess.Popen(
        [
            str(PY_SPY),
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            str(rate),
            "--output",
            str(output),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=60)
        if not output.exists():
            raise RuntimeError(f"py-spy wrote no profile: {errors.decode(errors='replace')[-500:]}")


def _frame_name(frame: str) -> str:
    found = _FRAME.match(frame.strip())
    if found is None:
        return frame.strip()
    file = found["file"]
    for marker in ("site-packages/", "/work/", os.getcwd() + "/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{found['function']} ({file})"


def summarise(profile: Path, top: int = 12) -> list[tuple[str, float, float]]:
    """``(function, inclusive share, self share)``: the ``top`` functions by self share, then
    the ``top`` by inclusive share among those on fewer than half of the stacks (the callers
    every turn goes through, the server and the message handler, would say nothing)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in profile.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [_frame_name(frame) for frame in stack.split(";") if frame.strip()]
        for name in set(frames):
            inclusive[name] += samples
        if frames:
            own[frames[-1]] += samples
    if total == 0:
        return []
    by_self = [name for name, _ in own.most_common(top)]
    by_inclusive = [
        name
        for name, count in inclusive.most_common()
        if count / total < 0.5 and name not in by_self
    ][:top]
    return [(name, inclusive[name] / total, own[name] / total) for name in by_self + by_inclusive]
