"""Server time of the staff console's queue page at a million tickets on PostgreSQL.

Run from the repository root with the back office's environment (PostgreSQL on
127.0.0.1:5432, trust auth, as on the development machines):

    backoffice/.venv/bin/python bench/staff_console_bench.py [--tickets 1000000]
        [--requests 200] [--keep] [--database NAME] [--only WORDS]

``--database NAME`` measures a database an earlier ``--keep`` run left (migrated to the
latest revision first, then ``VACUUM ANALYZE``; never dropped), so a migration can be timed
before and after on the same tickets. ``--only WORDS`` times only the pages whose name
contains WORDS (e.g. ``search``).

A scratch database ``civicdesk_console_bench_<random>`` is created, migrated with the
project's migrations and loaded with the test catalogue; ``--tickets`` tickets are written
with one ``COPY`` (asyncpg ``copy_records_to_table``, rows generated in Python: 3
departments, filed over two years, 8 % still open and most of those past their due date,
some assigned), then ``VACUUM ANALYZE``. The dropped database is gone at the end unless ``--keep``.

The real application (``create_app``) is served on 127.0.0.1 by aiohttp; a staff member of
one department (an agent) and an admin sign in through the console's own form. Each page
below is then fetched ``--requests`` times, one request at a time (latency, not
throughput), after 10 warm-up requests. *Server time* is measured by an outermost
middleware added by this script: from the request reaching the application to the
response being ready (routing, session check, queries, the audit row and its commit,
rendering); the HTTP parsing and the client are outside it. The client's total is printed
beside it. Printed per page: median and p95 of both, the median CPU time of the server per
request (the process's CPU during the request; the client is idle then), and the number
of non-200 answers. The CPU figure does not grow when other work shares the machine.

The script exits with status 1 if a queue page's server p95 is above the issue's target,
50 ms. Every loop is a fixed number of requests.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import re
import secrets
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from civicdesk_backoffice import staff
from civicdesk_backoffice.app import create_app
from civicdesk_backoffice.catalogue import load_catalogue
from civicdesk_backoffice.db import create_engine, create_sessionmaker
from civicdesk_backoffice.models import StaffRole
from civicdesk_backoffice.schema import migrate
from civicdesk_backoffice.settings import DatabaseSettings, Settings
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "backoffice/tests/data/catalogue.yml"
POSTGRES_ADMIN = os.environ.get(
    "CIVICDESK_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TARGET_P95_MS = 50.0
WARM_UP = 10
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# (service, department) of the test catalogue; the agent works in the first department.
SERVICES = (
    ("street_light", "Street Lighting"),
    ("graffiti", "Street Cleaning"),
    ("bulky_waste", "Street Cleaning"),
    ("licence_renewal", "Licensing"),
)
OPEN = ("new", "acknowledged", "in_progress", "reopened")
CLOSED = ("resolved", "closed", "rejected")
WORDS = ("lamp", "flicker", "dark", "pole", "corner", "bridge", "school", "park", "bus", "stop")
PASSWORD = "bench-password-" + "x" * 8


def reference(number: int) -> str:
    """A unique ``CD-XXXXXX`` for ticket ``number`` (base 32, six characters)."""
    digits = []
    for _ in range(6):
        number, rest = divmod(number, 32)
        digits.append(ALPHABET[rest])
    return "CD-" + "".join(reversed(digits))


def ticket_rows(count: int, now: datetime, staff_ids: list[int]) -> list[tuple[Any, ...]]:
    """``count`` ticket rows, deterministic (seeded), in the column order of :data:`COLUMNS`."""
    rng = random.Random(20261207)  # noqa: S311 - test data, not secrets
    rows = []
    span = timedelta(days=730).total_seconds()
    for number in range(count):
        code, department = SERVICES[number % len(SERVICES)]
        filed = now - timedelta(seconds=rng.random() * span)
        is_open = rng.random() < 0.08
        status = rng.choice(OPEN) if is_open else rng.choice(CLOSED)
        words = " ".join(rng.choice(WORDS) for _ in range(6))
        rows.append(
            (
                reference(100_000 + number),
                code,
                status,
                f"Bench ticket {number}: {words}",
                52.5 + rng.random() / 10,
                13.4 + rng.random() / 10,
                "{}",
                f"telegram:{number % 300_000}",
                department,
                filed,
                filed,
                filed + timedelta(hours=72),
                rng.choice(staff_ids) if is_open and rng.random() < 0.3 else None,
                None if is_open else filed + timedelta(hours=rng.random() * 200),
            )
        )
    return rows


COLUMNS = (
    "service_request_id",
    "service_code",
    "status",
    "description",
    "lat",
    "long",
    "attributes",
    "account_id",
    "department",
    "requested_at",
    "updated_at",
    "expected_at",
    "assignee_id",
    "closed_at",
)


async def prepare(url: str, count: int) -> float:
    """Migrate, load the catalogue, add the staff, COPY the tickets; returns the COPY seconds."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        sessionmaker = create_sessionmaker(engine)
        await load_catalogue(sessionmaker, CATALOGUE)
        async with sessionmaker.begin() as session:
            await staff.create_staff_user(
                session, "agent", PASSWORD, "Street Lighting", StaffRole.AGENT
            )
            await staff.create_staff_user(
                session, "admin", PASSWORD, "Head Office", StaffRole.ADMIN
            )
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        staff_ids = [
            row[0]
            for row in await connection.fetch("SELECT id FROM staff_users WHERE username = 'agent'")
        ]
        print(f"generating {count:,} rows...", flush=True)
        rows = ticket_rows(count, datetime.now(timezone.utc), staff_ids)
        started = time.perf_counter()
        await connection.copy_records_to_table("tickets", records=rows, columns=COLUMNS)
        # VACUUM sets the visibility map (autovacuum does so after a bulk load in production),
        # without which no scan is index-only.
        await connection.execute("VACUUM ANALYZE tickets")
        elapsed = time.perf_counter() - started
        total = await connection.fetchval("SELECT count(*) FROM tickets")
        opened = await connection.fetchval(
            "SELECT count(*) FROM tickets WHERE status = ANY($1::text[])", list(OPEN)
        )
        print(
            f"  tickets: {total:,}, open: {opened:,}; COPY + VACUUM ANALYZE {elapsed:.1f} s",
            flush=True,
        )
        return elapsed
    finally:
        await connection.close()


async def reuse(url: str) -> None:
    """Bring a kept database to the latest migration and refresh its statistics."""
    engine = create_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        revision = await connection.fetchval("SELECT version_num FROM alembic_version")
        await connection.execute("VACUUM ANALYZE tickets")
        total = await connection.fetchval("SELECT count(*) FROM tickets")
        print(f"  kept database at revision {revision}: {total:,} tickets", flush=True)
    finally:
        await connection.close()


SERVER_MS: list[float] = []
SERVER_CPU_MS: list[float] = []


@web.middleware
async def server_time(request: web.Request, handler: Any) -> web.StreamResponse:
    """Outermost middleware: how long the application took to produce the response.

    Also the process's CPU time meanwhile: one request at a time, the client is idle
    awaiting the answer, so that is this request's CPU, whatever else loads the machine.
    """
    started = time.perf_counter()
    cpu = time.process_time()
    try:
        return await handler(request)
    finally:
        SERVER_MS.append((time.perf_counter() - started) * 1000)
        SERVER_CPU_MS.append((time.process_time() - cpu) * 1000)


async def sign_in(session: aiohttp.ClientSession, base: str, username: str) -> None:
    """Sign in through the console's form, as a browser does."""
    form = await (await session.get(f"{base}/staff/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None  # noqa: S101 - a bench precondition
    answer = await session.post(
        f"{base}/staff/login",
        data={"csrf_token": token.group(1), "username": username, "password": PASSWORD},
        allow_redirects=False,
    )
    assert answer.status == 303, await answer.text()  # noqa: S101


def pct(values: list[float], p: float) -> float:
    """The ``p`` percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), math.ceil(p / 100 * len(ordered))) - 1)]


async def measure(
    session: aiohttp.ClientSession, url: str, requests: int
) -> tuple[float, float, float, float, int, float]:
    """Median and p95 of server and client time for ``url``, the non-200 count, and the
    median server CPU time."""
    for _ in range(WARM_UP):
        await (await session.get(url)).read()
    SERVER_MS.clear()
    SERVER_CPU_MS.clear()
    client: list[float] = []
    failures = 0
    for _ in range(requests):
        started = time.perf_counter()
        answer = await session.get(url, allow_redirects=False)
        await answer.read()
        client.append((time.perf_counter() - started) * 1000)
        failures += answer.status != 200
    server = list(SERVER_MS)
    return (
        statistics.median(server),
        pct(server, 95),
        statistics.median(client),
        pct(client, 95),
        failures,
        statistics.median(SERVER_CPU_MS),
    )


async def next_link(session: aiohttp.ClientSession, url: str, hops: int) -> str:
    """The URL of the page ``hops`` pages after ``url`` (following the keyset links)."""
    for _ in range(hops):
        page = await (await session.get(url)).text()
        found = re.search(r'href="([^"]+)" rel="next"', page)
        if found is None:
            break
        url = url.split("/staff/")[0] + found.group(1).replace("&amp;", "&")
    return url


async def run(url: str, requests: int, only: str = "") -> list[tuple[str, float]]:
    """Serve the app and time each page; returns (page, server p95) pairs."""
    settings = Settings(
        _env_file=None,
        db=DatabaseSettings(url=SecretStr(url)),
        catalogue_path=CATALOGUE,
        staff_cookie_secure=False,
    )
    app = create_app(settings)
    app.middlewares.insert(0, server_time)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    results: list[tuple[str, float]] = []
    try:
        for username in ("agent", "admin"):
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as session:
                await sign_in(session, base, username)
                pages = {
                    "open tab, newest first": f"{base}/staff/queue",
                    "new tab": f"{base}/staff/queue?tab=new",
                    "overdue tab": f"{base}/staff/queue?tab=overdue",
                    "mine tab": f"{base}/staff/queue?tab=mine",
                    "open tab, due soonest first": f"{base}/staff/queue?sort=sla",
                    "open tab, page 21 (keyset)": await next_link(
                        session, f"{base}/staff/queue", 20
                    ),
                    "service filter": f"{base}/staff/queue?service=street_light",
                    "search by reference": f"{base}/staff/queue?q={reference(100_004)}",
                    "search by two words": f"{base}/staff/queue?q=bridge+school",
                    # Every description is "Bench ticket <number>: <words>": ten tickets in
                    # the million carry "54321:" (54321, 154321, ..., 954321).
                    "search by a rare word": f"{base}/staff/queue?q=54321:",
                }
                for name, page in pages.items():
                    if only and only not in name:
                        continue
                    s50, s95, c50, c95, failed, cpu = await measure(session, page, requests)
                    label = f"{username}: {name}"
                    results.append((label, s95))
                    print(
                        f"  {label:44s} server p50 {s50:6.1f} ms  p95 {s95:6.1f} ms   "
                        f"client p50 {c50:6.1f} ms  p95 {c95:6.1f} ms   "
                        f"server CPU p50 {cpu:5.1f} ms   non-200: {failed}",
                        flush=True,
                    )
    finally:
        await runner.cleanup()
    return results


async def admin(statement: str) -> None:
    """Run CREATE/DROP DATABASE on the admin connection."""
    connection = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def main() -> int:
    """Create the scratch database, fill it, time the pages, drop it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--database", default="", help="measure this kept database again")
    parser.add_argument("--only", default="", help="time only the pages whose name has this")
    args = parser.parse_args()
    if not 1 <= args.requests <= 10_000 or not 1 <= args.tickets <= 5_000_000:
        parser.error("--requests 1..10000, --tickets 1..5000000")
    if args.database and not re.fullmatch(r"civicdesk_console_bench_[0-9a-f]{8}", args.database):
        parser.error("--database takes the name a --keep run printed")
    name = args.database or f"civicdesk_console_bench_{secrets.token_hex(4)}"
    print(f"database {name}", flush=True)
    admin_dsn = POSTGRES_ADMIN.rsplit("/", 1)[0]
    url = admin_dsn.replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    if not args.database:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        asyncio.run(reuse(url) if args.database else prepare(url, args.tickets))
        print(f"queue pages, {args.requests} requests each, one at a time:", flush=True)
        results = asyncio.run(run(url, args.requests, args.only))
    finally:
        if not args.keep and not args.database:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    missed = [(label, p95) for label, p95 in results if p95 > TARGET_P95_MS]
    for label, p95 in missed:
        print(f"MISSED: {label}: server p95 {p95:.1f} ms > {TARGET_P95_MS} ms")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
