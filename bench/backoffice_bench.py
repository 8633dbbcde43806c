"""Throughput and latency of ticket creation and status lookup, over HTTP on 127.0.0.1.

Run from the repository root with the back office's environment (PostgreSQL on
127.0.0.1:5432, trust auth, as on the development machines):

    backoffice/.venv/bin/python bench/backoffice_bench.py [--creations 2000] [--lookups 2000]
        [--concurrency 16] [--million 1000000] [--skip-million] [--only-million] [--profile DIR]
        [--backends sqlite,postgresql] [--workers 1,2] [--client raw|aiohttp] [--idempotent]

For each backend (a fresh SQLite file; a fresh PostgreSQL database ``civicdesk_bench_<random>``,
dropped at the end) and for one and two server processes, the real application
(``create_app``, migrated with the project's migrations, the test catalogue loaded) is run by
``aiohttp.web.run_app`` on 127.0.0.1; two processes share the port with ``SO_REUSEPORT``. One
client process keeps ``--concurrency`` requests in flight over keep-alive connections, by
default with a minimal HTTP/1.1 client on asyncio streams (``--client raw``, about a fifth of
the CPU per request of ``aiohttp.ClientSession``, which ``--client aiohttp`` uses):

- creation: ``POST /open311/v2/requests.json`` (form body, API key, one required attribute;
  with ``--idempotent`` each one carries its own ``Idempotency-Key``);
- lookup: ``GET /open311/v2/requests/{id}.json`` on random tickets filed in the run.

Then, on PostgreSQL only, ``--million`` tickets are bulk-inserted with one
``INSERT ... SELECT ... FROM generate_series`` and the lookup is timed again, one request at
a time (latency, not throughput) and with ``--concurrency`` in flight.

Each phase is a fixed number of requests (no open-ended loops). Printed: requests/s, p50,
p95, p99, CPU time per request of the server processes, of the client process and of every
``postgres`` process on the machine (other users' queries included), and the count of
non-2xx answers. A bare aiohttp app answering a constant body gives the HTTP stack's own
ceiling with the same client. The script exits with status 1 if a target is
missed: >= 1000 creations/s (best configuration on PostgreSQL) and lookup p95 <= 10 ms with
1 M tickets on PostgreSQL (one request at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from urllib.parse import urlencode

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
    client_cpu_ms: float = 0.0
    database_cpu_ms: float = 0.0

    def line(self) -> str:
        """One table row of the report."""
        ordered = sorted(self.latencies_ms)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

        def per_request(total_ms: float) -> str:
            return f"{total_ms / self.requests:.2f}" if total_ms > 0 else ""

        return (
            f"| {self.label} | {self.requests / self.seconds:,.0f} | "
            f"{statistics.median(ordered):.1f} | {pct(0.95):.1f} | {pct(0.99):.1f} | "
            f"{per_request(self.server_cpu_ms)} | {per_request(self.client_cpu_ms)} | "
            f"{per_request(self.database_cpu_ms)} | {self.failures} |"
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
            if profiler.last_session is not None:
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
    """User + system CPU time the processes used so far, in ms (from /proc).

    A process that has gone away in the meantime counts as 0.
    """
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total * 1000 / _CLOCK_TICKS


def postgres_pids() -> list[int]:
    """Every PostgreSQL server process on the machine (backends, WAL writer, checkpointer...).

    Other users' queries count too, so this is an upper bound of the benchmark's share.
    """
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


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


Send = Callable[[str, str, bytes | None, dict[str, str] | None], Awaitable[tuple[int, bytes]]]
"""``send(method, path, form_body, headers)``: one HTTP request; returns status and body."""
Call = Callable[[Send, int], Awaitable[bool]]
CLIENTS = ("raw", "aiohttp")


class RawConnection:
    """A minimal HTTP/1.1 keep-alive client over asyncio streams, for the load generator.

    It speaks only what the benchmark needs (one request at a time, ``Content-Length``
    answers, which is what aiohttp's server sends for these routes) and spends far less CPU
    per request than ``aiohttp.ClientSession``, so the server gets more of the two cores.
    """

    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)
        self._host_header = f"Host: {host}:{port}\r\n".encode("ascii")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def send(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str] | None
    ) -> tuple[int, bytes]:
        """Send one request and read its whole answer."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(*self._address)
        reader, writer = self._reader, self._writer
        assert reader is not None  # noqa: S101 - set together with the writer
        head = f"{method} {path} HTTP/1.1\r\n".encode("ascii") + self._host_header
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n".encode("ascii")
        if body is None:
            writer.write(head + b"\r\n")
        else:
            writer.write(
                head
                + b"Content-Type: application/x-www-form-urlencoded\r\n"
                + b"Content-Length: %d\r\n\r\n" % len(body)
                + body
            )
        header = await reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        length, closing = 0, False
        for line in header.split(b"\r\n")[1:]:
            raw_name, _, raw_value = line.partition(b":")
            field = raw_name.strip().lower()
            if field == b"content-length":
                length = int(raw_value)
            elif field == b"connection":
                closing = raw_value.strip().lower() == b"close"
        payload = await reader.readexactly(length) if length else b""
        if closing:
            self.close()
        return status, payload

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def timed(
    running: Servers, count: int, concurrency: int, call: Call, label: str, client: str
) -> Result:
    """One phase against ``running``, with the CPU time per request of servers, client and DB."""
    database = postgres_pids()
    before = cpu_ms(running.pids), cpu_ms(database)
    result = asyncio.run(_run(running.base, count, concurrency, call, label, client))
    database = sorted(set(database) | set(postgres_pids()))
    return Result(
        result.label,
        count,
        result.seconds,
        result.latencies_ms,
        result.failures,
        server_cpu_ms=cpu_ms(running.pids) - before[0],
        client_cpu_ms=result.client_cpu_ms,
        database_cpu_ms=cpu_ms(database) - before[1],
    )


async def _run(
    base: str, count: int, concurrency: int, call: Call, label: str, client: str
) -> Result:
    """``count`` calls with ``concurrency`` in flight, after a short warm-up."""
    latencies: list[float] = []
    failures = 0
    queue = iter(range(count))
    session: aiohttp.ClientSession | None = None
    if client == "aiohttp":
        connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
        session = aiohttp.ClientSession(base, connector=connector)

    def sender() -> tuple[Send, Callable[[], None]]:
        if session is not None:
            return _aiohttp_send(session), lambda: None
        host, port = base.removeprefix("http://").rsplit(":", 1)
        connection = RawConnection(host, int(port))
        return connection.send, connection.close

    async def worker() -> None:
        nonlocal failures
        send, close = sender()
        try:
            for i in queue:
                started = time.perf_counter()
                ok = await call(send, i)
                latencies.append((time.perf_counter() - started) * 1000)
                failures += not ok
        finally:
            close()

    try:
        warm_send, warm_close = sender()
        for i in range(WARM_UP):
            await call(warm_send, -1 - i)  # numbers apart from the timed calls' 0..count-1
        warm_close()
        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        client_cpu = (time.process_time() - cpu_started) * 1000
    finally:
        if session is not None:
            await session.close()
    return Result(label, count, elapsed, latencies, failures, client_cpu_ms=client_cpu)


def _aiohttp_send(session: aiohttp.ClientSession) -> Send:
    async def send(
        method: str, path: str, body: bytes | None, headers: dict[str, str] | None
    ) -> tuple[int, bytes]:
        headers = dict(headers or {})
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        async with session.request(method, path, data=body, headers=headers) as response:
            return response.status, await response.read()

    return send


def creation_call(api_key: str, filed: list[str], *, idempotent: bool = False) -> Call:
    """POST one request (with a fresh ``Idempotency-Key`` if asked); remember its reference."""
    body = urlencode({**FORM, "api_key": api_key}).encode("ascii")
    run = secrets.token_hex(4)

    async def call(send: Send, i: int) -> bool:
        headers = {"Idempotency-Key": f"bench-{run}-{i}"} if idempotent else None
        status, payload = await send("POST", "/open311/v2/requests.json", body, headers)
        if status != 201:
            return False
        filed.append(json.loads(payload)[0]["service_request_id"])
        return True

    return call


def lookup_call(references: list[str], seed: int) -> Call:
    """GET one random ticket of ``references``."""
    rng = random.Random(seed)  # noqa: S311 - picking tickets, not secrets

    async def call(send: Send, _: int) -> bool:
        reference = rng.choice(references)
        path = f"/open311/v2/requests/{reference}.json"
        status, _payload = await send("GET", path, None, None)
        return status == 200

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
        "--backends",
        default="sqlite,postgresql",
        help="comma list of the creation/lookup matrix backends: sqlite, postgresql",
    )
    parser.add_argument(
        "--workers", default="1,2", help="comma list of server process counts to run"
    )
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        default="raw",
        help="load generator: raw (asyncio streams, cheapest) or aiohttp (ClientSession)",
    )
    parser.add_argument(
        "--idempotent",
        action="store_true",
        help="send every creation with its own Idempotency-Key header (the /api/v1 extension)",
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
    chosen = [name.strip().lower() for name in args.backends.split(",") if name.strip()]
    if not chosen or not set(chosen) <= {"sqlite", "postgresql"}:
        parser.error("--backends takes sqlite, postgresql or both")
    try:
        worker_counts = [int(count) for count in args.workers.split(",")]
    except ValueError:
        parser.error("--workers takes a comma list of process counts, e.g. 1,2")
    if not worker_counts or not all(1 <= count <= 8 for count in worker_counts):
        parser.error("--workers takes process counts between 1 and 8")

    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}, "
        f"client {args.client}",
        flush=True,
    )
    serve: Callable[[str, int], None] = _serve
    join_seconds = 10.0
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        serve, join_seconds = _serve_profiled(args.profile), 120.0
    results: list[Result] = []
    creation_rates: dict[str, float] = {}
    million_p95: float | None = None
    with tempfile.TemporaryDirectory() as folder, postgres_database() as pg_url:
        backends = {"SQLite": f"sqlite+aiosqlite:///{folder}/bench.sqlite3", "PostgreSQL": pg_url}
        matrix = {
            name: url
            for name, url in backends.items()
            if name.lower() in chosen and not args.only_million
        }
        for backend, url in matrix.items():
            api_key = asyncio.run(_prepare(url))
            for workers in worker_counts:
                label = f"{backend}, {workers} process{'es' if workers > 1 else ''}"
                print(f"{label}: creating {args.creations} tickets...", flush=True)
                filed: list[str] = []
                with servers(url, workers, serve, join_seconds) as running:
                    created = timed(
                        running,
                        args.creations,
                        args.concurrency,
                        creation_call(api_key, filed, idempotent=args.idempotent),
                        f"create{' (Idempotency-Key)' if args.idempotent else ''}, {label}",
                        args.client,
                    )
                    looked = timed(
                        running,
                        args.lookups,
                        args.concurrency,
                        lookup_call(filed, workers),
                        f"lookup, {label}",
                        args.client,
                    )
                results += [created, looked]
                creation_rates[label] = created.rate
                print(created.line(), looked.line(), sep="\n", flush=True)
        if matrix:
            # The ceiling of this machine's HTTP stack: same client, a server doing nothing.
            with servers(pg_url, 1, _serve_bare) as running:
                ceiling = timed(
                    running,
                    args.creations,
                    args.concurrency,
                    lookup_call(["CD-000000"], 1),
                    f"HTTP floor: bare aiohttp app, constant body, 1 process, "
                    f"{args.concurrency} in flight",
                    args.client,
                )
            results.append(ceiling)
            print(ceiling.line(), flush=True)
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
                    args.client,
                )
            with servers(pg_url, 2) as running:
                parallel = timed(
                    running,
                    args.lookups,
                    args.concurrency,
                    lookup_call(sample, 8),
                    f"lookup at {args.million:,} tickets, PostgreSQL, 2 processes, "
                    f"{args.concurrency} in flight",
                    args.client,
                )
            with servers(pg_url, 1, _serve_bare) as running:
                floor = timed(
                    running,
                    args.lookups,
                    1,
                    lookup_call(sample, 7),
                    "HTTP floor: bare aiohttp app, constant body, 1 process, 1 in flight",
                    args.client,
                )
            print(floor.line(), flush=True)
            database_only = asyncio.run(direct_lookups(pg_url, sample, args.lookups))
            print(database_only.line(), flush=True)
            results += [serial, parallel, floor, database_only]
            million_p95 = serial.p95
            print(serial.line(), parallel.line(), sep="\n", flush=True)

    print(
        "\n| phase | requests/s | p50 ms | p95 ms | p99 ms | CPU ms/request: server | client "
        "| PostgreSQL (all) | non-2xx |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        print(result.line())
    best_pg = max(
        (rate for label, rate in creation_rates.items() if label.startswith("PostgreSQL")),
        default=None,
    )
    missed = []
    if best_pg is None and not args.only_million:
        print("\ncreation target: not measured (PostgreSQL was not in --backends)")
    if best_pg is not None and best_pg < TARGET_CREATIONS_PER_S:
        missed.append(f"creations on PostgreSQL {best_pg:.0f}/s < {TARGET_CREATIONS_PER_S:.0f}/s")
    if million_p95 is not None and million_p95 > TARGET_LOOKUP_P95_MS:
        missed.append(f"lookup p95 at 1 M {million_p95:.1f} ms > {TARGET_LOOKUP_P95_MS} ms")
    print("\ntargets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
