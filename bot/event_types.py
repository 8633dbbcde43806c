"""Looking up Rasa's event and slot classes by type name from a table, not a class walk.

Rasa 3.6 resolves the class of every event it reads (``Event.resolve_by_type``: each event
the action server sends back, each event of a stored conversation) and of every slot
(``Slot.resolve_by_type``) by walking all subclasses of ``Event`` or ``Slot`` and comparing
names. With 40-odd event classes that walk was about 5% of the Rasa process's CPU in the
whole-conversation benchmark's profile (docs/benchmarks.md, "Whole conversations through the
stack").

This module puts a table in front of the walk: built on first use, in the walk's own order
(so the first class with a name wins, as in Rasa), and built again once when a name is not in
it (a class defined later). A name still missing goes to Rasa's own function, which keeps its
answers for old ``topic`` events, defaults and unknown names. Installed by ``bot/__init__.py``.
"""

from __future__ import annotations

from typing import Any

from rasa.shared.core.events import Event
from rasa.shared.core.slots import Slot
from rasa.shared.utils.common import all_subclasses


class _ByTypeName:
    """``resolve_by_type`` for ``base``, through a table of its subclasses by ``type_name``."""

    def __init__(self, base: type, original: Any) -> None:
        self._base = base
        self._original = original
        self._table: dict[str, type] | None = None

    def _build(self) -> dict[str, type]:
        table: dict[str, type] = {}
        for cls in all_subclasses(self._base):
            table.setdefault(cls.type_name, cls)
        return table

    def __call__(self, type_name: str, *args: Any, **kwargs: Any) -> Any:
        if self._table is None:
            self._table = self._build()
        found = self._table.get(type_name)
        if found is None:
            self._table = self._build()
            found = self._table.get(type_name)
        return found if found is not None else self._original(type_name, *args, **kwargs)


_ORIGINALS = {Event: Event.resolve_by_type, Slot: Slot.resolve_by_type}


def install() -> None:
    """Resolve event and slot types through the tables (idempotent)."""
    for base, original in _ORIGINALS.items():
        base.resolve_by_type = staticmethod(_ByTypeName(base, original))  # type: ignore[assignment]


def uninstall() -> None:
    """Rasa's own lookups again (tests)."""
    for base, original in _ORIGINALS.items():
        base.resolve_by_type = staticmethod(original)  # type: ignore[assignment]
