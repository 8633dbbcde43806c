"""The naughty strings of the bot side's ``tests/fuzz/naughty.py``, loaded by path.

The two projects have separate environments and test packages; the list is plain Python
with no imports, so one file serves both.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

_SOURCE = Path(__file__).resolve().parents[3] / "tests" / "fuzz" / "naughty.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("civicdesk_naughty_strings", _SOURCE)
    if spec is None or spec.loader is None:  # pragma: no cover (the file is in the repository)
        raise ImportError(f"cannot load {_SOURCE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_naughty = _load()
NAUGHTY: list[str] = _naughty.NAUGHTY
HUGE: list[str] = _naughty.HUGE
LONE_SURROGATE_JSON: list[str] = _naughty.LONE_SURROGATE_JSON
LOOKALIKE: list[str] = _naughty.LOOKALIKE
json_with = _naughty.json_with
