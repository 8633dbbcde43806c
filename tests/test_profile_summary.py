"""The benchmark's profile: py-spy samples of a busy process, summarised."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.profile_summary import recording, summarise

BUSY = """
import time
def spin_for_the_profile():
    end = time.monotonic() + 30
    while time.monotonic() < end:
        sum(range(1000))
spin_for_the_profile()
"""


def test_a_busy_function_tops_the_summary(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        time.sleep(0.5)
        with recording(child.pid, tmp_path / "profile.txt", rate=100):
            time.sleep(1.5)
    finally:
        child.kill()
        child.wait()
    rows = summarise(tmp_path / "profile.txt")
    names = [name for name, _, _ in rows]
    assert any(name.startswith("spin_for_the_profile") for name in names), names
    assert all(0 <= own <= inclusive <= 1 for _, inclusive, own in rows)
