"""One staff action erases a citizen everywhere, on the three real processes.

A citizen files a complaint with a phone number, an email and a name through Rasa's REST
channel. An admin then erases the citizen's identity in the back office; the back office calls
Rasa's erase route (the token ``make run`` gives both), which deletes the conversation and the
action server's outbox rows. Afterwards the phone number is in none of the three databases
and no event of that sender is left in the tracker store. The retention job runs on
the same stack and finds nothing old enough.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack import Stack, scratch_config
from tests.e2e.local_stack import started
from tests.e2e.test_observability import PHONE, SENDER, file_complaint_with_contact


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with started(Stack(scratch_config(tmp_path_factory.mktemp("var")))) as running:
        yield running


def dump(path: Path) -> str:
    """Every row of every table of a SQLite file, as text, separators of numbers removed."""
    with sqlite3.connect(path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = [
            repr(row)
            for table in tables
            for row in db.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (the file's own names)
        ]
    return re.sub(r"[\s\-]", "", "\n".join(rows))


def test_an_admins_erasure_reaches_the_conversation_and_the_outbox(stack: Stack) -> None:
    reference, _ = file_complaint_with_contact(stack)
    var = stack.config.var_dir
    phone = re.sub(r"[\s\-]", "", PHONE)
    assert phone in dump(var / "conversations.sqlite3")
    assert stack.credentials is not None
    admin = (stack.credentials.staff_username, stack.credentials.staff_password)
    identity = f"rest:{SENDER}"

    answer = httpx.post(
        f"{stack.config.backoffice_url}/api/v1/staff/citizens/{identity}/erase",
        auth=admin,
        timeout=30,
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["erased"]["tickets"] == [reference]
    bot = body["bot"]
    assert bot["status"] == "erased", bot
    assert bot["events"] > 20
    assert bot["outbox"]["submissions"] == 1
    for database in ("conversations.sqlite3", "outbox.sqlite3", "backoffice.sqlite3"):
        assert phone not in dump(var / database), database
    with sqlite3.connect(var / "conversations.sqlite3") as db:
        left = db.execute("SELECT count(*) FROM events WHERE sender_id = ?", (SENDER,)).fetchone()
    assert left == (0,)
    again = httpx.post(
        f"{stack.config.backoffice_url}/api/v1/staff/citizens/{identity}/erase",
        auth=admin,
        timeout=30,
    ).json()
    assert again["bot"] == {
        "status": "erased",
        "events": 0,
        "outbox": {"submissions": 0, "handoffs": 0, "ticket_moves": 0},
    }


def test_the_retention_job_runs_on_the_stack(stack: Stack) -> None:
    assert stack.run_retention() == 0
    last = stack.log_path("retention").read_text().strip().splitlines()[-1]
    assert json.loads(last) == {
        "days": 30,
        "conversations": 0,
        "events": 0,
        "outbox": {"submissions": 0, "handoffs": 0, "ticket_moves": 0},
    }
