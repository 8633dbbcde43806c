"""Throughput and latency of ticket creation and status lookup, over HTTP on 127.0.0.1.

Run from the repository root with the back office's environment (PostgreSQL on
127.0.0.1:5432, trust auth, as on the development machines):

    backoffice/.venv/bin/python bench/backoffice_bench.py [--creations 2000] [--lookups 2000]
        [--concurrency 16] [--million 1000000] [--skip-million] [--only-million] [--profile DIR]

For each backend (a fresh SQLite file; a fresh PostgreSQL database ``civicdesk_bench_<random>``,
dropped at the end) and for one and two server processes, the real application
(``create_app``, migrated with the project's migrations, the test catalogue loaded) is run by
``aiohttp.web.run_app`` on 127.0.0.1; two processes share the port with ``SO_REUSEPORT``. One
client process keeps ``--concurrency`` requests in flight over keep-alive connections:

- creation: ``POST /open311/v2/requests.json`` (form body, API key, one required attribute);
- lookup: ``GET /open311/v2/requests/{id}.json`` on random tickets filed in the run.

Then, on PostgreSQL only, ``--million`` tickets are bulk-inserted with one
``INSERT ... SELECT ... FROM generate_series`` and the lookup is timed again, one request at
a time (latency, not throughput) and with ``--concurrency`` in flight.

Each phase is a fixed number of requests (no open-ended loops). Printed: requests/s, p50,
p95, p99 and the count of non-2xx answers. The script exits with status 1 if a target is
missed: >= 1000 creations/s (best configuration on PostgreSQL) and lookup p95 <= 10 ms with
1 M tickets on PostgreSQL (one request at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import random
import secrets
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from civicdesk_backoffice import api_keys
from civicdesk_backoffice.app import create_app
from civicdesk_backoffice.catalogue import load_catalogue
from civicdesk_backoffice.db import create_engine, create_sessionmaker
from civicdesk_backoffice.schema import migrate
from civicdesk_backoffice.settings import DatabaseSettings, Settings
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "backoffice/tests/data/catalogue.yml"
POSTGRES_ADMIN = os.environ.get(
    "CIVICDESK_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TARGET_CREATIONS_PER_S = 1000.0
TARGET_LOOKUP_P95_MS = 10.0
WARM_UP = 50
FORM = {
    "service_code": "street_light",
    "lat": "52.52",
    "long": "13.405",
    "description": "Benchmark: the lamp is off.",
    "attribute[fault]": "out",
    "account_id": "telegram:1",
}


@dataclass(frozen=True)
class Result:
    """One timed phase."""

    label: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    failures: int
    server_cpu_ms: float = 0.0

    def line(self) -> str:
        """One table row of the report."""
        ordered = sorted(self.latencies_ms)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

        cpu = self.server_cpu_ms / self.requests if self.server_cpu_ms else float("nan")
        return (
            f"| {self.label} | {self.requests / self.seconds:,.0f} | "
            f"{statistics.median(ordered):.1f} | {pct(0.95):.1f} | {pct(0.99):.1f} | "
            f"{cpu:.2f} | {self.failures} |"
        )

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds

    @property
    def p95(self) -> float:
        """95th percentile latency in ms."""
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _settings(url: str) -> Settings:
    return Settings(
        _env_file=None,
        db=DatabaseSettings(url=SecretStr(url)),
        catalogue_path=CATALOGUE,
        log_level="WARNING",
    )


def _serve(url: str, port: int) -> None:
    """Server process: the real app on 127.0.0.1:port, sharing the port with its siblings."""
    web.run_app(
        create_app(_settings(url)),
        host="127.0.0.1",
        port=port,
        reuse_port=True,
        access_log=None,
        print=None,
        handle_signals=True,
    )


def _serve_profiled(folder: Path) -> Callable[[str, int], None]:
    """``_serve`` under pyinstrument; the profile is written to ``folder`` when it stops."""

    def serve(url: str, port: int) -> None:
        from pyinstrument import Profiler  # dev dependency, only needed with --profile

        profiler = Profiler(interval=0.001)
        profiler.start()
        try:
            _serve(url, port)
        finally:
            profiler.stop()
            name = f"backoffice-{os.getpid()}"
            text = profiler.output_text(unicode=False, color=False)
            (folder / f"{name}.txt").write_text(text)
            profiler.last_session.save(str(folder / f"{name}.pyisession"))

    return serve


def _serve_bare(_url: str, port: int) -> None:
    """Server process: a bare aiohttp app answering a constant JSON body (the HTTP floor)."""

    async def constant(_: web.Request) -> web.Response:
        return web.json_response([{"service_request_id": "CD-000000", "status": "open"}])

    app = web.Application()
    app.router.add_get("/open311/v2/requests/{id}.json", constant)
    app.router.add_get("/healthz", constant)
    web.run_app(app, host="127.0.0.1", port=port, reuse_port=True, access_log=None, print=None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ms(pids: list[int]) -> float:
    """User + system CPU time the processes used so far, in ms (from /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total * 1000 / _CLOCK_TICKS


@dataclass(frozen=True)
class Servers:
    """Running server processes."""

    base: str
    pids: list[int]


@contextmanager
def servers(
    url: str,
    workers: int,
    target: Callable[[str, int], None] = _serve,
    join_seconds: float = 10.0,
) -> Iterator[Servers]:
    """Run ``workers`` server processes; yields their base URL and process ids.

    ``join_seconds`` is how long each stopped process is waited for (a profiled one writes
    its profile first).
    """
    port = _free_port()
    # fork: the children start with everything imported (spawn re-imports for ~20 s on a
    # loaded two-core machine). No event loop runs in this process at that moment.
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=target, args=(url, port), daemon=True) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        base = f"http://127.0.0.1:{port}"
        asyncio.run(_wait_ready(base))
        yield Servers(base, [int(process.pid or 0) for process in processes])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(join_seconds)


async def _wait_ready(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):  # up to 60 s
            try:
                async with session.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the back office did not start")


async def _prepare(url: str) -> str:
    """Migrate, load the catalogue, issue an API key; returns the key."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        sessionmaker = create_sessionmaker(engine)
        await load_catalogue(sessionmaker, CATALOGUE)
        async with sessionmaker.begin() as session:
            return await api_keys.create_api_key(session, f"bench-{secrets.token_hex(3)}")
    finally:
        await engine.dispose()


Call = Callable[[aiohttp.ClientSession, int], Awaitable[bool]]


def timed(running: Servers, count: int, concurrency: int, call: Call, label: str) -> Result:
    """One phase against ``running``, with the servers' CPU time per request."""
    before = cpu_ms(running.pids)
    result = asyncio.run(_run(running.base, count, concurrency, call, label))
    used = cpu_ms(running.pids) - before
    return Result(result.label, count, result.seconds, result.latencies_ms, result.failures, used)


async def _run(base: str, count: int, concurrency: int, call: Call, label: str) -> Result:
    """``count`` calls with ``concurrency`` in flight, after a short warm-up."""
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    latencies: list[float] = []
    failures = 0
    async with aiohttp.ClientSession(base, connector=connector) as session:
        for i in range(WARM_UP):
            await call(session, i)
        queue = iter(range(count))

        async def worker() -> None:
            nonlocal failures
            for i in queue:
                started = time.perf_counter()
                ok = await call(session, i)
                latencies.append((time.perf_counter() - started) * 1000)
                failures += not ok

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result(label, count, elapsed, latencies, failures)


def creation_call(api_key: str, filed: list[str]) -> Call:
    """POST one request; remember its reference."""

    async def call(session: aiohttp.ClientSession, _: int) -> bool:
        async with session.post(
            "/open311/v2/requests.json", data={**FORM, "api_key": api_key}
        ) as response:
            if response.status != 201:
                await response.read()
                return False
            filed.append((await response.json())[0]["service_request_id"])
            return True

    return call


def lookup_call(references: list[str], seed: int) -> Call:
    """GET one random ticket of ``references``."""
    rng = random.Random(seed)  # noqa: S311 - picking tickets, not secrets

    async def call(session: aiohttp.ClientSession, _: int) -> bool:
        reference = rng.choice(references)
        async with session.get(f"/open311/v2/requests/{reference}.json") as response:
            await response.read()
            return response.status == 200

    return call


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the run, dropped afterwards."""
    name = f"civicdesk_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Crockford base32 digit of g at position k (0 = least significant), in SQL.
_DIGIT = "substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', ((g / {div}) % 32)::int + 1, 1)"
_REFERENCE_SQL = "'CD-' || " + " || ".join(_DIGIT.format(div=32**k) for k in range(5, -1, -1))


async def bulk_insert(url: str, count: int) -> tuple[float, list[str]]:
    """Insert ``count`` tickets with generate_series; returns seconds and sample references."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        # g starts above anything the random references of the HTTP phases could clash with
        # only by chance; ON CONFLICT skips such a clash instead of failing the run.
        await connection.execute(
            f"""
            INSERT INTO tickets (service_request_id, service_code, status, description,
                lat, long, attributes, account_id, department, requested_at, updated_at,
                expected_at)
            SELECT {_REFERENCE_SQL}, 'street_light',
                (ARRAY['new','acknowledged','in_progress','resolved','closed'])[(g % 5)::int + 1],
                'Bulk ticket ' || g, 52.5 + (g % 1000) / 10000.0, 13.4, '{{"fault": "out"}}',
                'telegram:' || (g % 200000), 'Street Lighting',
                now() - (g % 86400)::int * interval '1 minute', now(), now() + interval '5 days'
            FROM generate_series(1000000000, 1000000000 + $1 - 1) AS g
            ON CONFLICT (service_request_id) DO NOTHING
            """,  # noqa: S608 - built from constants, the count is a bound parameter
            count,
        )
        await connection.execute("ANALYZE tickets")
        elapsed = time.perf_counter() - started
        rows = await connection.fetch(
            "SELECT service_request_id FROM tickets WHERE id % 97 = 0 LIMIT 5000"
        )
        total = await connection.fetchval("SELECT count(*) FROM tickets")
        print(f"  tickets in the table: {total:,}", flush=True)
        return elapsed, [row[0] for row in rows]
    finally:
        await connection.close()


async def direct_lookups(url: str, references: list[str], count: int) -> Result:
    """The database's share of a lookup: the same query over asyncpg, no HTTP, no ORM."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        query = (
            "SELECT t.*, s.name FROM tickets t JOIN services s ON s.code = t.service_code "
            "WHERE t.service_request_id = $1"
        )
        plan = await connection.fetch("EXPLAIN " + query, references[0])
        print("  plan: " + " / ".join(row[0].strip() for row in plan), flush=True)
        statement = await connection.prepare(query)
        rng = random.Random(9)  # noqa: S311 - picking tickets, not secrets
        latencies = []
        started = time.perf_counter()
        for _ in range(count):
            one = time.perf_counter()
            await statement.fetchrow(rng.choice(references))
            latencies.append((time.perf_counter() - one) * 1000)
        elapsed = time.perf_counter() - started
        return Result(
            "same query over asyncpg, no HTTP (database share)", count, elapsed, latencies, 0
        )
    finally:
        await connection.close()


def main() -> int:
    """Run every phase and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--creations", type=int, default=2000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--million", type=int, default=1_000_000)
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument(
        "--only-million", action="store_true", help="skip the creation/lookup matrix"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run the creation/lookup servers under pyinstrument, writing profiles to DIR "
        "(figures are then slower than without)",
    )
    args = parser.parse_args()
    for name in ("creations", "lookups", "concurrency", "million"):
        if not 1 <= getattr(args, name) <= 5_000_000:
            parser.error(f"--{name} must be between 1 and 5000000")

    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    serve, join_seconds = _serve, 10.0
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        serve, join_seconds = _serve_profiled(args.profile), 120.0
    results: list[Result] = []
    creation_rates: dict[str, float] = {}
    million_p95: float | None = None
    with tempfile.TemporaryDirectory() as folder, postgres_database() as pg_url:
        backends = {"SQLite": f"sqlite+aiosqlite:///{folder}/bench.sqlite3", "PostgreSQL": pg_url}
        matrix = {} if args.only_million else backends
        for backend, url in matrix.items():
            api_key = asyncio.run(_prepare(url))
            for workers in (1, 2):
                label = f"{backend}, {workers} process{'es' if workers > 1 else ''}"
                print(f"{label}: creating {args.creations} tickets...", flush=True)
                filed: list[str] = []
                with servers(url, workers, serve, join_seconds) as running:
                    created = timed(
                        running,
                        args.creations,
                        args.concurrency,
                        creation_call(api_key, filed),
                        f"create, {label}",
                    )
                    looked = timed(
                        running,
                        args.lookups,
                        args.concurrency,
                        lookup_call(filed, workers),
                        f"lookup, {label}",
                    )
                results += [created, looked]
                creation_rates[label] = created.rate
                print(created.line(), looked.line(), sep="\n", flush=True)
        if not args.skip_million:
            if args.only_million:
                asyncio.run(_prepare(pg_url))
            print(f"PostgreSQL: bulk-inserting {args.million:,} tickets...", flush=True)
            seconds, sample = asyncio.run(bulk_insert(pg_url, args.million))
            print(f"  inserted in {seconds:.1f} s", flush=True)
            with servers(pg_url, 1) as running:
                serial = timed(
                    running,
                    args.lookups,
                    1,
                    lookup_call(sample, 7),
                    f"lookup at {args.million:,} tickets, PostgreSQL, 1 process, 1 in flight",
                )
            with servers(pg_url, 2) as running:
                parallel = timed(
                    running,
                    args.lookups,
                    args.concurrency,
                    lookup_call(sample, 8),
                    f"lookup at {args.million:,} tickets, PostgreSQL, 2 processes, "
                    f"{args.concurrency} in flight",
                )
            with servers(pg_url, 1, _serve_bare) as running:
                floor = timed(
                    running,
                    args.lookups,
                    1,
                    lookup_call(sample, 7),
                    "HTTP floor: bare aiohttp app, constant body, 1 process, 1 in flight",
                )
            print(floor.line(), flush=True)
            database_only = asyncio.run(direct_lookups(pg_url, sample, args.lookups))
            print(database_only.line(), flush=True)
            results += [serial, parallel, floor, database_only]
            million_p95 = serial.p95
            print(serial.line(), parallel.line(), sep="\n", flush=True)

    print("\n| phase | requests/s | p50 ms | p95 ms | p99 ms | server CPU ms/request | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for result in results:
        print(result.line())
    best_pg = max(
        (rate for label, rate in creation_rates.items() if label.startswith("PostgreSQL")),
        default=None,
    )
    missed = []
    if best_pg is not None and best_pg < TARGET_CREATIONS_PER_S:
        missed.append(f"creations on PostgreSQL {best_pg:.0f}/s < {TARGET_CREATIONS_PER_S:.0f}/s")
    if million_p95 is not None and million_p95 > TARGET_LOOKUP_P95_MS:
        missed.append(f"lookup p95 at 1 M {million_p95:.1f} ms > {TARGET_LOOKUP_P95_MS} ms")
    print("\ntargets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
