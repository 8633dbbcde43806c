"""How the end-to-end tests start the three real processes (back office, action server, Rasa).

Every module under ``tests/e2e/`` runs its own stack once: free ports, the trained model, the
back office on a SQLite file and the action server's outbox beside it in a fresh directory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from devstack import ROOT, Stack, StackConfig, free_port

MODEL = ROOT / "models" / "civicdesk.tar.gz"

S = TypeVar("S", bound=Stack)


def local_config(
    var_dir: Path, environment: Mapping[str, str] | None = None, *, plain_rest: bool = True
) -> StackConfig:
    """The stack's settings, everything it keeps under ``var_dir``; ``environment`` is added
    to what every child process gets."""
    assert MODEL.is_file(), f"no trained model at {MODEL}: run `make train` (make test does)"
    return StackConfig(
        var_dir=var_dir,
        model_path=MODEL,
        database_url=f"sqlite+aiosqlite:///{var_dir / 'backoffice.sqlite3'}",
        backoffice_port=free_port(),
        actions_port=free_port(),
        rasa_port=free_port(),
        environment={
            "CIVICDESK_OUTBOX_PATH": str(var_dir / "outbox.sqlite3"),
            **(environment or {}),
        },
        plain_rest=plain_rest,
    )


@contextmanager
def started(stack: S) -> Iterator[S]:
    """Run ``stack`` for the ``with`` block, then check that stopping it left no child behind."""
    with stack:
        yield stack
    assert stack.exited() == [], "stop() must leave no child behind"
