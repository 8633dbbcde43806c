"""Latency of the catalogue search, in-process and over HTTP on 127.0.0.1.

Run from the repository root with the back office's environment:

    backoffice/.venv/bin/python bench/catalogue_search_bench.py [--queries 2000] [--locale zh-Hans]

Queries are the labelled citizen phrasings of ``backoffice/tests/data/search_cases.yml`` plus,
for every second query, a copy with one typo put in at random (seeded, so runs compare):
misspelt words take the slower correction path, and most of them are new to the index's
correction cache. With ``--locale zh-Hans`` they are the Chinese phrasings of
``search_cases_zh.yml``, searched in the Chinese index (``locale=zh-Hans`` over HTTP), and
the typo of every second one is a homophone (同音字): one character replaced by another
character of the catalogue's Chinese text with the same toneless pinyin, so that bigram is
unknown and looked up by its pinyin. Each query is timed on its own; the script prints p50,
p95, p99 and max in milliseconds and exits with status 1 if a p95 misses the target.

In-process: ``CatalogueIndex.search`` on the packaged catalogue.
HTTP: the real application (``create_app``) on a migrated SQLite file holding the packaged
catalogue, run by ``aiohttp.web.run_app`` in a process of its own on 127.0.0.1, called over
one keep-alive connection (``http.client``), one request at a time. A round trip includes
parsing and checking the query, the index lookup, JSON encoding and the loopback network;
the server asks the database for the catalogue version at most every 5 seconds. For
comparison, a bare aiohttp application answering a fixed JSON body runs beside it and gets
every query right after the back office ("HTTP bare floor"): what HTTP alone costs on the
machine under the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import multiprocessing
import os
import platform
import random
import socket
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml
from aiohttp import web
from civicdesk_backoffice.app import create_app
from civicdesk_backoffice.catalogue import load_catalogue, read_catalogue
from civicdesk_backoffice.db import create_engine, create_sessionmaker
from civicdesk_backoffice.schema import migrate
from civicdesk_backoffice.search import index_of_catalogue
from civicdesk_backoffice.search_chinese import has_chinese
from civicdesk_backoffice.settings import DEFAULT_CATALOGUE_PATH, DatabaseSettings, Settings
from pydantic import SecretStr

DATA = Path(__file__).resolve().parent.parent / "backoffice/tests/data"
CASES = {"en": DATA / "search_cases.yml", "zh-Hans": DATA / "search_cases_zh.yml"}
TARGET_P95_MS = 5.0
WARM_UP = 50


def make_queries(count: int, locale: str = "en", seed: int = 20261130) -> list[str]:
    """``count`` queries: the labelled phrasings in turn, every second one with a typo."""
    cases = yaml.safe_load(CASES[locale].read_text("utf-8"))["cases"]
    phrasings = [case["q"] for case in cases]
    rng = random.Random(seed)  # noqa: S311 - typos for a benchmark, not secrets
    homophones = _homophones() if locale == "zh-Hans" else {}
    queries = []
    for number in range(count):
        text = phrasings[number % len(phrasings)]
        if number % 2:
            text = _homophone_typo(text, homophones, rng) if homophones else _typo(text, rng)
        queries.append(text)
    return queries


def _homophones() -> dict[str, list[str]]:
    """Each Chinese character of the catalogue's zh-Hans words -> the others read alike."""
    from pypinyin import Style, lazy_pinyin

    catalogue = read_catalogue(DEFAULT_CATALOGUE_PATH)
    overlay = catalogue.translations["zh-Hans"]
    text = "".join(
        words.name + words.description + "".join(words.keywords)
        for words in overlay.services.values()
    )
    by_sound: dict[str, set[str]] = {}
    for char in set(text):
        if has_chinese(char):
            by_sound.setdefault(lazy_pinyin(char, style=Style.NORMAL)[0], set()).add(char)
    return {
        char: sorted(chars - {char})
        for chars in by_sound.values()
        for char in chars
        if len(chars) > 1
    }


def _homophone_typo(text: str, homophones: dict[str, list[str]], rng: random.Random) -> str:
    """Replace one character of ``text`` by a homophone, as a pinyin keyboard slip does."""
    positions = [i for i, char in enumerate(text) if char in homophones]
    if not positions:
        return text
    i = rng.choice(positions)
    return text[:i] + rng.choice(homophones[text[i]]) + text[i + 1 :]


def _typo(text: str, rng: random.Random) -> str:
    """Swap, drop or double one letter of one word of five letters or more."""
    words = text.split()
    long_words = [i for i, word in enumerate(words) if len(word) >= 5 and word.isalpha()]
    if not long_words:
        return text
    i = rng.choice(long_words)
    word = words[i]
    j = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap":
        word = word[: j - 1] + word[j] + word[j - 1] + word[j + 1 :]
    elif kind == "drop":
        word = word[:j] + word[j + 1 :]
    else:
        word = word[:j] + word[j] + word[j:]
    words[i] = word
    return " ".join(words)


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and max of the samples (milliseconds)."""
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(samples_ms)}


def bench_in_process(queries: Sequence[str], limit: int, locale: str = "en") -> list[float]:
    """Time ``CatalogueIndex.search`` in ``locale``'s index for every query (milliseconds)."""
    catalogue = read_catalogue(DEFAULT_CATALOGUE_PATH)
    index = index_of_catalogue(catalogue, locale)
    for text in queries[:WARM_UP]:
        index.search(text, limit)
    return _timed(queries, lambda text: index.search(text, limit))


def _timed(queries: Sequence[str], call: Callable[[str], object]) -> list[float]:
    samples = []
    for text in queries:
        start = time.perf_counter_ns()
        call(text)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


def bench_http(
    queries: Sequence[str], limit: int, locale: str = "en"
) -> tuple[list[float], list[float]]:
    """Time search round trips on 127.0.0.1 (milliseconds): the app's, then the floor's.

    Two servers run side by side: the back office, and a bare aiohttp application that
    answers every request with a fixed small JSON body (the floor: what HTTP alone costs on
    this machine). Each query goes to one, then the other, so both see the same load.
    """
    with tempfile.TemporaryDirectory(prefix="civicdesk-bench-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        asyncio.run(_prepare_database(url))
        context = multiprocessing.get_context("spawn")
        servers = []
        connections = []
        try:
            for target in (_serve, _serve_bare):
                port = _free_port()
                server = context.Process(target=target, args=(url, port), daemon=True)
                server.start()
                servers.append(server)
                connections.append(_connect(port))
            for text in queries[:WARM_UP]:
                for connection in connections:
                    _get(connection, text, limit, locale)
            samples: tuple[list[float], list[float]] = ([], [])
            for text in queries:
                for connection, timings in zip(connections, samples, strict=True):
                    start = time.perf_counter_ns()
                    _get(connection, text, limit, locale)
                    timings.append((time.perf_counter_ns() - start) / 1e6)
            return samples
        finally:
            for connection in connections:
                connection.close()
            for server in servers:
                server.terminate()
                server.join(timeout=10)


async def _prepare_database(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine)
        await load_catalogue(create_sessionmaker(engine), DEFAULT_CATALOGUE_PATH)
    finally:
        await engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve(url: str, port: int) -> None:
    """The back office as ``serve`` runs it, in its own process."""
    settings = Settings(
        _env_file=None,
        db=DatabaseSettings(url=SecretStr(url)),
        catalogue_path=DEFAULT_CATALOGUE_PATH,
    )
    web.run_app(create_app(settings), host="127.0.0.1", port=port, access_log=None, print=None)


def _serve_bare(_url: str, port: int) -> None:
    async def answer(_request: web.Request) -> web.Response:
        return web.json_response({"query": "", "catalogue_version": 0, "results": []})

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def _connect(port: int) -> http.client.HTTPConnection:
    """A keep-alive connection to the server, once it answers."""
    deadline = time.monotonic() + 30
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            return connection
        except OSError:
            connection.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _get(connection: http.client.HTTPConnection, text: str, limit: int, locale: str) -> None:
    query = urllib.parse.urlencode({"q": text, "limit": limit, "locale": locale})
    connection.request("GET", f"/api/v1/services/search?{query}")
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"search answered {response.status}: {body[:200]!r}")


def machine() -> str:
    """One line describing where the figures come from."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, load average {load}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run both measurements and print the table; status 1 if a p95 misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=2000, help="timed queries per mode")
    parser.add_argument("--limit", type=int, default=5, help="results asked for per query")
    parser.add_argument("--skip-http", action="store_true", help="in-process only")
    parser.add_argument(
        "--locale",
        choices=sorted(CASES),
        default="en",
        help="which phrasings and which index: English (default) or Chinese",
    )
    args = parser.parse_args(argv)
    if args.queries < 100:
        parser.error("--queries must be at least 100 for a meaningful p95")

    queries = make_queries(args.queries, args.locale)
    catalogue = read_catalogue(DEFAULT_CATALOGUE_PATH)
    print(f"machine: {machine()}")
    print(
        f"catalogue: {len(catalogue.services)} services (version {catalogue.version}); "
        f"{len(queries)} timed queries per mode, half with a typo; limit={args.limit}; "
        f"locale={args.locale}"
    )
    results = {"in-process": percentiles(bench_in_process(queries, args.limit, args.locale))}
    if not args.skip_http:
        app, floor = bench_http(queries, args.limit, args.locale)
        results["HTTP 127.0.0.1"] = percentiles(app)
        results["HTTP bare floor"] = percentiles(floor)

    print(f"{'mode':<16}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for mode, figures in results.items():
        print(
            f"{mode:<16}{figures['p50']:>9.3f}{figures['p95']:>9.3f}"
            f"{figures['p99']:>9.3f}{figures['max']:>9.3f}"
        )
    missed = [
        mode
        for mode, figures in results.items()
        if figures["p95"] > TARGET_P95_MS and mode != "HTTP bare floor"
    ]
    if missed:
        print(f"p95 target of {TARGET_P95_MS} ms MISSED by: {', '.join(missed)}")
        return 1
    print(f"p95 target of {TARGET_P95_MS} ms met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
