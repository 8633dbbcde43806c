"""The yardstick of bench/conversation_bench.py: Rasa's own starter bot under the same client.

``rasa init --no-prompt`` builds the bot every Rasa user starts from (a mood bot: DIET and TED,
no custom actions) in a temporary folder, with this project's Rasa, and trains it. It is then
served with ``rasa run`` on a free port, REST channel, logging as shipped, and N citizens at
once each have ``rounds`` short chats with it over the same HTTP client our citizens use:
greeting, feeling sad, yes it helped, goodbye (four turns, each answered by responses only).

Training the starter bot takes a minute or two on two cores; it happens once per run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

# One chat with the starter bot; every message has a rule or story of its own.
CHAT = ("hello there", "I am very sad", "yes", "goodbye")
START_SECONDS = 180


@dataclass(frozen=True)
class StockRun:
    citizens: int
    turns: int
    wall_seconds: float
    p50_ms: float
    p95_ms: float
    cpu_ms_per_turn: float

    @property
    def turns_per_second(self) -> float:
        return self.turns / self.wall_seconds


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def stock_bot(folder: Path) -> Iterator[tuple[str, int]]:
    """Build, train and serve the starter bot in ``folder``; yields its URL and process id."""
    python = sys.executable
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [python, "-m", "rasa", "init", "--no-prompt", "--init-dir", str(folder)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TQDM_DISABLE": "1"},
    )
    port = _free_port()
    log = (folder / "rasa.log").open("wb")
    process = subprocess.Popen(
        [python, "-m", "rasa", "run", "--port", str(port), "--interface", "127.0.0.1"],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(url, process)
        yield url, process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _wait_until_answering(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the starter bot exited with code {process.returncode}")
        try:
            reply = httpx.post(
                f"{url}/webhooks/rest/webhook",
                json={"sender": "warm-up", "message": CHAT[0]},
                timeout=10,
            )
            if reply.status_code == 200 and reply.json():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the starter bot did not answer within {START_SECONDS} s")


async def measure_stock(
    url: str, pid: int, citizens: int, rounds: int, ticks: Callable[[int], int]
) -> StockRun:
    """``citizens`` at once, each ``rounds`` chats; ``ticks`` reads a process group's CPU."""
    timings: list[float] = []
    limits = httpx.Limits(max_connections=citizens * 2, max_keepalive_connections=citizens * 2)
    async with httpx.AsyncClient(limits=limits) as client:

        async def chat(sender: str) -> None:
            for text in CHAT:
                started = time.perf_counter()
                response = await client.post(
                    f"{url}/webhooks/rest/webhook",
                    json={"sender": sender, "message": text},
                    timeout=60,
                )
                timings.append(time.perf_counter() - started)
                response.raise_for_status()
                if not response.json():
                    raise RuntimeError(f"the starter bot said nothing to {text!r}")

        async def citizen(number: int) -> None:
            for round_number in range(rounds):
                await chat(f"stock-{citizens}-{number}-{round_number}")

        await chat(f"stock-warm-up-{citizens}")
        timings.clear()
        cpu_before = ticks(pid)
        started = time.perf_counter()
        await asyncio.gather(*(citizen(n) for n in range(citizens)))
        wall = time.perf_counter() - started
        cpu = (ticks(pid) - cpu_before) / os.sysconf("SC_CLK_TCK")
    ordered = sorted(timings)
    return StockRun(
        citizens=citizens,
        turns=len(timings),
        wall_seconds=wall,
        p50_ms=statistics.median(ordered) * 1000,
        p95_ms=ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000,
        cpu_ms_per_turn=cpu * 1000 / len(timings),
    )
