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
    metadata: dict[str, Any] | None = None,
    input_channel: str | None = None,
) -> Tracker:
    """A tracker as the action server receives it, with the given slots and last message.

    ``metadata`` is what the channel attached to the last message; ``input_channel`` the
    channel it came through (recorded on its user event, as Rasa does).
    """
    latest: dict[str, Any] = {"text": text, "intent": {"name": intent}, "entities": entities or []}
    if metadata is not None:
        latest["metadata"] = metadata
    events = []
    if input_channel is not None:
        events.append({"event": "user", "text": text, "input_channel": input_channel})
    return Tracker(
        sender_id=sender_id,
        slots=slots,
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )
