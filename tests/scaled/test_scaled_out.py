"""The scaled-out set-up: two Rasa processes on PostgreSQL, Redis and RabbitMQ for real.

Both processes run with ``deploy/endpoints.scaled.yml``: conversations in the trimming SQL
tracker store (``bot/tracker_store.py``) on a fresh PostgreSQL database, per-conversation
locks in Redis, every event published to a RabbitMQ queue. A conversation moves between the
processes as a load balancer would move it, and messages for one conversation arrive at both
processes at once.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import psycopg2
import pytest
import redis

from devstack import ROOT, free_port
from tests.postgres import PG, pg_admin

MODEL = ROOT / "models" / "civicdesk.tar.gz"
TRAIN_LOCK = ROOT / "models" / ".train.lock"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"
STARTUP_SECONDS = 600


@dataclass
class ScaledOut:
    urls: list[str]
    token: str
    database: str
    queue: str
    redis_prefix: str


def _pg_rows(database: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    connection = psycopg2.connect(dbname=database, **PG)
    try:
        with connection.cursor() as cursor:
            cursor.execute(query, args)
            return list(cursor.fetchall())
    finally:
        connection.close()


def _copy_model(target: Path) -> Path:
    """A private copy of the trained model, taken while no `make train` is writing it."""
    assert MODEL.is_file(), f"no trained model at {MODEL}: run `make train` (make test does)"
    with TRAIN_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.copy2(MODEL, target)
    return target


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Rasa exited while starting:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"Rasa not ready after {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaledOut]:
    work = tmp_path_factory.mktemp("scaled")
    suffix = secrets.token_hex(4)
    setup = ScaledOut(
        urls=[],
        token=secrets.token_urlsafe(16),
        database=f"civicdesk_scaled_{suffix}",
        queue=f"civicdesk_events_{suffix}",
        redis_prefix=f"civicdesktest{suffix}",
    )
    pg_admin(f'CREATE DATABASE "{setup.database}"')
    model = _copy_model(work / "model.tar.gz")
    credentials = work / "credentials.yml"
    credentials.write_text("rest:\n")
    env: dict[str, str] = {
        **os.environ,
        # Rasa runs in a scratch directory; the project's modules (bot.lock_store) load from ROOT.
        "PYTHONPATH": str(ROOT),
        "CIVICDESK_ACTION_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}/webhook",
        "CIVICDESK_ACTION_TOKEN": "unused-here",
        "CIVICDESK_TRACKER_DB_HOST": PG["host"],
        "CIVICDESK_TRACKER_DB_PORT": str(PG["port"]),
        "CIVICDESK_TRACKER_DB_NAME": setup.database,
        "CIVICDESK_TRACKER_DB_USER": PG["user"],
        "CIVICDESK_TRACKER_DB_PASSWORD": "",
        "CIVICDESK_REDIS_HOST": "127.0.0.1",
        "CIVICDESK_REDIS_PORT": "6379",
        "CIVICDESK_REDIS_DB": "0",
        "CIVICDESK_REDIS_KEY_PREFIX": setup.redis_prefix,
        "CIVICDESK_RABBITMQ_HOST": "127.0.0.1",
        "CIVICDESK_RABBITMQ_PORT": "5672",
        "CIVICDESK_RABBITMQ_USER": "guest",
        "CIVICDESK_RABBITMQ_PASSWORD": "guest",
        "CIVICDESK_RABBITMQ_QUEUE": setup.queue,
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        started = []
        for index in range(2):
            port = free_port()
            log = work / f"rasa-{index}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [
                        str(ROOT / ".venv" / "bin" / "python"),
                        "-m",
                        "rasa",
                        "run",
                        "--model",
                        str(model),
                        "--endpoints",
                        str(ROOT / "deploy" / "endpoints.scaled.yml"),
                        "--credentials",
                        str(credentials),
                        "--interface",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--enable-api",
                        # One argument: a token may start with "-" (see devstack).
                        f"--auth-token={setup.token}",
                    ],
                    cwd=work,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            processes.append(process)
            url = f"http://127.0.0.1:{port}"
            started.append((process, url, log))
            setup.urls.append(url)
        for process, url, log in started:
            _wait_ready(process, f"{url}/status?token={setup.token}", log)
        yield setup
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        pg_admin(f'DROP DATABASE IF EXISTS "{setup.database}"')
        asyncio.run(_delete_queue(setup.queue))


async def _delete_queue(name: str) -> None:
    connection = await aio_pika.connect_robust(RABBITMQ_URL)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(name)


async def _say(client: httpx.AsyncClient, url: str, sender: str, text: str) -> list[str]:
    response = await client.post(
        f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}
    )
    response.raise_for_status()
    return [str(item.get("text", "")) for item in response.json()]


def _tracker(setup: ScaledOut, url: str, sender: str) -> dict[str, Any]:
    response = httpx.get(
        f"{url}/conversations/{sender}/tracker", params={"token": setup.token}, timeout=30
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _user_texts(tracker: dict[str, Any]) -> list[str]:
    return [str(event.get("text")) for event in tracker["events"] if event["event"] == "user"]


def test_a_conversation_moves_between_processes_through_postgresql(scaled: ScaledOut) -> None:
    sender = f"citizen-{secrets.token_hex(4)}"

    async def talk() -> tuple[list[str], list[str]]:
        async with httpx.AsyncClient(timeout=60) as client:
            first = await _say(client, scaled.urls[0], sender, "hello")
            second = await _say(client, scaled.urls[1], sender, "what can you do")
            return first, second

    first, second = asyncio.run(talk())
    assert first, "the first process answered"
    assert second, "the second process answered"
    # The second process saw the first one's turn: it read the conversation from PostgreSQL.
    assert _user_texts(_tracker(scaled, scaled.urls[1], sender)) == ["hello", "what can you do"]
    stored = _pg_rows(
        scaled.database,
        "SELECT type_name, data FROM events WHERE sender_id = %s ORDER BY id",
        sender,
    )
    stored_texts = [json.loads(data).get("text") for kind, data in stored if kind == "user"]
    assert stored_texts == ["hello", "what can you do"]


def test_concurrent_messages_for_one_conversation_are_serialised_by_the_redis_lock(
    scaled: ScaledOut,
) -> None:
    sender = f"citizen-{secrets.token_hex(4)}"
    messages = [f"thanks {index}" for index in range(8)]
    seen_prefixes: set[str] = set()
    lock_watch = redis.Redis(host="127.0.0.1", port=6379, db=0)

    async def watch_locks(stop: asyncio.Event) -> None:
        while not stop.is_set():
            for key in lock_watch.scan_iter(match=f"{scaled.redis_prefix}*"):
                seen_prefixes.add(key.decode())
            await asyncio.sleep(0.005)

    async def burst() -> list[list[str]]:
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_locks(stop))
        async with httpx.AsyncClient(timeout=120) as client:
            replies = await asyncio.gather(
                *(
                    _say(client, scaled.urls[index % 2], sender, text)
                    for index, text in enumerate(messages)
                )
            )
        stop.set()
        await watcher
        return list(replies)

    replies = asyncio.run(burst())
    assert all(reply for reply in replies), "every message got an answer"
    events = _tracker(scaled, scaled.urls[0], sender)["events"]
    # Every message is in the one conversation exactly once (without a shared lock, two
    # processes read the same tracker and one of them overwrites the other's turn) ...
    assert sorted(_user_texts({"events": events})) == sorted(messages)
    # ... and turns do not interleave: after each message the bot finishes (action_listen)
    # before the next message is taken.
    kinds = [
        "user" if event["event"] == "user" else event.get("name")
        for event in events
        if event["event"] == "user"
        or (event["event"] == "action" and event.get("name") == "action_listen")
    ]
    first_user = kinds.index("user")
    turns = kinds[first_user:]
    assert turns == ["user", "action_listen"] * len(messages), [
        (event["event"], event.get("name") or event.get("text")) for event in events
    ]
    # The lock lived in Redis under this set-up's prefix while the burst ran.
    assert any(key.startswith(scaled.redis_prefix) for key in seen_prefixes), seen_prefixes


def test_every_event_reaches_the_rabbitmq_queue(scaled: ScaledOut) -> None:
    sender = f"citizen-{secrets.token_hex(4)}"

    async def run() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=60) as client:
            await _say(client, scaled.urls[1], sender, "good morning")
        received: list[dict[str, Any]] = []
        connection = await aio_pika.connect_robust(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(scaled.queue, durable=True, passive=True)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                message = await queue.get(no_ack=True, fail=False)
                if message is None:
                    if any(event.get("text") == "good morning" for event in received):
                        break
                    await asyncio.sleep(0.2)
                    continue
                event = json.loads(message.body)
                if event.get("sender_id") == sender:
                    received.append(event)
        return received

    received = asyncio.run(run())
    kinds = [event["event"] for event in received]
    assert any(event.get("text") == "good morning" for event in received), kinds
    assert "bot" in kinds, kinds
    assert "action" in kinds, kinds
