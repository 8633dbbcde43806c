"""Fixtures shared by the bot-side tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rasa_sdk import Tracker

from actions import dependencies
from actions.settings import ActionSettings
from tests.fakes import FakeOpen311, service


@pytest.fixture
def catalogue() -> FakeOpen311:
    """A small catalogue wired in as the actions' back office for one test."""
    fake = FakeOpen311(
        services=[
            service("street_light", "Street light out", "lamp, streetlight, dark, light"),
            service("pothole", "Pothole or road damage", "pothole, road, hole, tarmac"),
            service("other_problem", "Other problem", "other", group="general"),
        ]
    )
    dependencies.override(client=fake, settings=ActionSettings())
    return fake


@pytest.fixture(autouse=True)
def _restore_dependencies() -> Iterator[None]:
    yield
    dependencies.override()


def make_tracker(
    slots: dict[str, Any], *, text: str = "", active_loop: str | None = None
) -> Tracker:
    """A tracker as the action server receives it, with the given slots and last message."""
    return Tracker(
        sender_id="citizen-1",
        slots=slots,
        latest_message={"text": text, "intent": {"name": "report_issue"}, "entities": []},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )
