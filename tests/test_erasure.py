"""Erasing one conversation from the tracker store (bot/erasure.py), on Rasa's own app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rasa.core.agent import Agent
from rasa.core.run import configure_app, create_http_input_channels
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from sanic import Sanic

from actions.outbox import Outbox
from bot.tracker_store import restart_points
from open311_schema import NewServiceRequest
from tests.channels.conftest import serve_app

DOMAIN = Domain.from_yaml(
    "version: '3.1'\nslots:\n  contact_phone:\n    type: text\n    mappings:\n"
    "      - type: custom\n"
)
TOKEN = "erase-secret"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLTrackerStore]:
    config = EndpointConfig(
        url=f"sqlite:///{tmp_path / 'conversations.sqlite3'}",
        type="bot.tracker_store.TrimmingSQLTrackerStore",
        max_events=4,
        keep_events=2,
    )
    made = TrackerStore.create(config, DOMAIN)
    assert isinstance(made, SQLTrackerStore)
    yield made
    made.engine.dispose()


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Outbox:
    """The action server's outbox where Rasa looks for it (same host, same variable)."""
    path = tmp_path / "outbox.sqlite3"
    monkeypatch.setenv("CIVICDESK_OUTBOX_PATH", str(path))
    return Outbox(path)


@pytest.fixture
def app(tmp_path: Path, store: SQLTrackerStore, outbox: Outbox) -> Sanic:
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("bot.erasure.ConversationErasureInput:\n")
    Sanic.test_mode = True
    server = configure_app(create_http_input_channels(None, str(credentials)), enable_api=False)
    server.ctx.agent = Agent(domain=DOMAIN, tracker_store=store)
    return server


async def remember(store: SQLTrackerStore, sender_id: str, turns: int) -> None:
    tracker = DialogueStateTracker(sender_id, DOMAIN.slots)
    for turn in range(turns):
        tracker.update(UserUttered(f"my number is +86 139 0000 {turn:04d}"))
        tracker.update(SlotSet("contact_phone", f"+86 139 0000 {turn:04d}"))
        await store.save(tracker)


async def test_a_conversation_is_erased_and_others_are_kept(
    app: Sanic, store: SQLTrackerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICDESK_ERASURE_TOKEN", TOKEN)
    await remember(store, "12345", turns=5)
    await remember(store, "777", turns=1)
    with store.engine.connect() as connection:
        points = connection.execute(restart_points.select()).fetchall()
    assert [row.sender_id for row in points] == ["12345"], "the store trimmed the long one"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with serve_app(app) as base, httpx.AsyncClient() as client:
        first = await client.post(f"{base}/civicdesk/conversations/12345/erase", headers=auth)
        again = await client.post(f"{base}/civicdesk/conversations/12345/erase", headers=auth)
    assert first.status_code == 200, first.text
    assert first.json()["erased"]["events"] == 10
    assert again.json()["erased"]["events"] == 0
    with store.engine.connect() as connection:
        senders = {row[0] for row in connection.exec_driver_sql("SELECT sender_id FROM events")}
        points = connection.execute(restart_points.select()).fetchall()
        texts = " ".join(row[0] for row in connection.exec_driver_sql("SELECT data FROM events"))
    assert senders == {"777"}
    assert points == []
    assert "0003" not in texts
    kept = await store.retrieve("777")
    assert kept is not None
    assert kept.get_slot("contact_phone") == "+86 139 0000 0000"


async def test_erasure_needs_its_token(
    app: Sanic, store: SQLTrackerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await remember(store, "12345", turns=1)
    url = "/civicdesk/conversations/12345/erase"
    async with serve_app(app) as base, httpx.AsyncClient() as client:
        monkeypatch.delenv("CIVICDESK_ERASURE_TOKEN", raising=False)
        off = await client.post(f"{base}{url}", headers={"Authorization": f"Bearer {TOKEN}"})
        monkeypatch.setenv("CIVICDESK_ERASURE_TOKEN", TOKEN)
        bare = await client.post(f"{base}{url}")
        wrong = await client.post(f"{base}{url}", headers={"Authorization": "Bearer nope"})
    assert (off.status_code, bare.status_code, wrong.status_code) == (403, 401, 401)
    assert off.json()["error"]["code"] == "forbidden"
    tracker = await store.retrieve("12345")
    assert tracker is not None
    assert tracker.get_slot("contact_phone") == "+86 139 0000 0000"


async def test_the_outbox_rows_of_the_conversation_go_too(
    app: Sanic, store: SQLTrackerStore, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICDESK_ERASURE_TOKEN", TOKEN)
    await remember(store, "12345", turns=1)
    outbox.enqueue("12345", NewServiceRequest(service_code="streetlight", phone="+8613900001111"))
    outbox.enqueue_handoff("12345", "telegram:12345", "call me on 139 0000 1111")
    outbox.enqueue_move("12345", "telegram:12345", "reopen", "CD-000001", "still broken")
    outbox.enqueue("777", NewServiceRequest(service_code="graffiti", phone="+8613900002222"))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with serve_app(app) as base, httpx.AsyncClient() as client:
        first = await client.post(f"{base}/civicdesk/conversations/12345/erase", headers=auth)
        again = await client.post(f"{base}/civicdesk/conversations/12345/erase", headers=auth)
    assert first.json()["erased"]["outbox"] == {
        "submissions": 1,
        "handoffs": 1,
        "ticket_moves": 1,
    }
    assert again.json()["erased"]["outbox"] == {"submissions": 0, "handoffs": 0, "ticket_moves": 0}
    assert outbox.entries_for("12345") == []
    assert [entry.service_code for entry in outbox.entries_for("777")] == ["graffiti"]
    raw = outbox_bytes(outbox)
    assert b"13900001111" not in raw.replace(b" ", b"")
    assert b"13900002222" in raw


def outbox_bytes(outbox: Outbox) -> bytes:
    """Every row of the three tables as text, to look for what should be gone."""
    with outbox._connect() as db:
        rows = [
            repr(tuple(row))
            for table in ("outbox", "handoffs", "ticket_moves")
            for row in db.execute(f"SELECT * FROM {table}")  # noqa: S608 (fixed names)
        ]
    return "\n".join(rows).encode()


async def test_without_an_outbox_file_here_the_answer_says_so(
    app: Sanic, store: SQLTrackerStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICDESK_ERASURE_TOKEN", TOKEN)
    monkeypatch.setenv("CIVICDESK_OUTBOX_PATH", str(tmp_path / "elsewhere" / "outbox.sqlite3"))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with serve_app(app) as base, httpx.AsyncClient() as client:
        answer = await client.post(f"{base}/civicdesk/conversations/12345/erase", headers=auth)
    assert answer.json() == {"erased": {"events": 0, "outbox": None}}
    assert not (tmp_path / "elsewhere").exists()
