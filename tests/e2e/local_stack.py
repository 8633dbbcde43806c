"""How the end-to-end tests start the three real processes (back office, action server, Rasa).

Every module under ``tests/e2e/`` runs its own stack once: free ports, the trained model, the
back office on a SQLite file and the action server's outbox beside it in a fresh directory
(``devstack.scratch_config``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from devstack import Stack

S = TypeVar("S", bound=Stack)


@contextmanager
def started(stack: S) -> Iterator[S]:
    """Run ``stack`` for the ``with`` block, then check that stopping it left no child behind."""
    with stack:
        yield stack
    assert stack.exited() == [], "stop() must leave no child behind"
