"""Running Rasa's graph of NLU components and policies in order, in the calling thread.

Rasa 3.6 runs its model graph (``DaskGraphRunner.run``) once to parse a message and once per
action it predicts, through ``dask.get``: each run works out the minimal schema for its
targets again, builds a dask graph of it, and lets dask's local scheduler order the tasks,
with its queues, callbacks and bookkeeping, although the scheduler is synchronous and every
task runs in the calling thread anyway. That scheduling was a few percent of the Rasa
process's CPU per turn in the whole-conversation benchmark's profile (docs/benchmarks.md,
"Whole conversations through the stack").

This module installs a ``run`` that does the same work without dask: the order of the nodes
for a set of targets is worked out once per runner and kept, and each run calls the nodes in
that order, handing each one its inputs as dask did: the ``(node name, output)`` pair of every
node or run input it needs, or the bare name when nothing provides it (the node then raises
its own "missing input" error). Run inputs that clash with a node's name are refused, and a
``RuntimeError`` becomes a ``GraphRunError``, as in Rasa's runner. Training uses the same
runner class, so it runs in order too; the outputs are the same.

Imported by ``bot/__init__.py``, which installs it; Rasa imports ``bot`` when it builds the
model's graph (the pipeline names ``bot.command_gate.CommandGate``) and the tracker store.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner

# Per runner: for each tuple of targets, the nodes to call in order with the names they need.
_ORDERS = "_civicdesk_node_orders"

Order = list[tuple[str, tuple[str, ...]]]


def node_order(schema: GraphSchema, targets: list[str]) -> Order:
    """The nodes ``targets`` depend on (themselves included), each after what it needs."""
    order: Order = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed:
            return
        placed.add(name)
        node = schema.nodes.get(name)
        if node is None:  # a run input, or a name nothing provides
            return
        needs = tuple(node.needs.values())
        for needed in needs:
            place(needed)
        order.append((name, needs))

    for target in targets:
        place(target)
    return order


def run_in_order(
    self: DaskGraphRunner,
    inputs: dict[str, Any] | None = None,
    targets: list[str] | None = None,
) -> dict[str, Any]:
    """``DaskGraphRunner.run`` without dask (see the module docstring)."""
    run_targets = list(targets) if targets else list(self._graph_schema.target_names)
    orders: dict[tuple[str, ...], Order] = self.__dict__.setdefault(_ORDERS, {})
    key = tuple(run_targets)
    order = orders.get(key)
    if order is None:
        order = orders[key] = node_order(self._graph_schema, run_targets)
    values: dict[str, Any] = {}
    for input_name, input_value in (inputs or {}).items():
        if isinstance(input_value, str) and any(input_value == name for name, _ in order):
            raise GraphRunError(
                f"Input value '{input_value}' clashes with a node name. Make sure "
                f"that none of the input names passed to the `run` method are the "
                f"same as node names in the graph schema."
            )
        values[input_name] = (input_name, input_value)
    try:
        for name, needs in order:
            node = self._instantiated_nodes[name]
            values[name] = node(*(values.get(needed, needed) for needed in needs))
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error
    return dict(values[target] for target in run_targets)


_DASK_RUN = DaskGraphRunner.run


def install() -> None:
    """Run Rasa's graphs in order, without dask (idempotent)."""
    DaskGraphRunner.run = run_in_order  # type: ignore[method-assign]


def uninstall() -> None:
    """Rasa's own dask runner again (tests and benchmarks)."""
    DaskGraphRunner.run = _DASK_RUN  # type: ignore[method-assign]
