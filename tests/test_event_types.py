"""Event and slot classes resolve by type name from the table exactly as Rasa's walk does."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.core.events import Event, SlotSet
from rasa.shared.core.slots import Slot, TextSlot
from rasa.shared.utils.common import all_subclasses

import bot  # noqa: F401  (installs the tables, as Rasa's loading of the pipeline does)
from bot import event_types


def _walk(base: type, type_name: str) -> type | None:
    return next((cls for cls in all_subclasses(base) if cls.type_name == type_name), None)


@pytest.mark.parametrize("base", [Event, Slot])
def test_every_type_name_resolves_to_the_class_rasa_would_find(base: Any) -> None:
    names = {cls.type_name for cls in all_subclasses(base)}
    assert len(names) > 5
    assert isinstance(base.__dict__["resolve_by_type"].__func__, event_types._ByTypeName)
    for name in names:
        assert base.resolve_by_type(name) is _walk(base, name), name


def test_a_class_defined_after_the_first_lookup_is_found() -> None:
    assert Event.resolve_by_type("slot") is SlotSet

    class LateEvent(SlotSet):
        type_name = "civicdesk_late_event_for_test"

    assert Event.resolve_by_type("civicdesk_late_event_for_test") is LateEvent


def test_unknown_names_keep_rasas_answers() -> None:
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError, match="no_such_event"):
        Event.resolve_by_type("no_such_event")
    assert Slot.resolve_by_type("text") is TextSlot
