"""Fixtures shared by the bot-side tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker

from actions import dependencies
from actions.outbox import Outbox
from actions.settings import ActionSettings
from tests.fakes import FakeOpen311, service


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.sqlite3", rng=lambda: 0.5)


@pytest.fixture
def catalogue(outbox: Outbox) -> FakeOpen311:
    """A small catalogue wired in as the actions' back office for one test."""
    fake = FakeOpen311(
        services=[
            service("street_light", "Street light out", "lamp, streetlight, dark, light"),
            service("pothole", "Pothole or road damage", "pothole, road, hole, tarmac"),
            service("other_problem", "Other problem", "other", group="general"),
        ]
    )
    dependencies.override(client=fake, settings=ActionSettings(), outbox=outbox)
    return fake


@pytest.fixture(autouse=True)
def _restore_dependencies() -> Iterator[None]:
    yield
    dependencies.override()


def make_tracker(
    slots: dict[str, Any],
    *,
    text: str = "",
    intent: str = "report_issue",
    entities: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
    sender_id: str = "citizen-1",
) -> Tracker:
    """A tracker as the action server receives it, with the given slots and last message."""
    return Tracker(
        sender_id=sender_id,
        slots=slots,
        latest_message={"text": text, "intent": {"name": intent}, "entities": entities or []},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )
