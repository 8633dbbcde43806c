"""The graph runner without dask gives the trained model's answers, as Rasa's dask runner does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.engine.exceptions import GraphRunError
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

import bot  # noqa: F401  (installs the runner, as Rasa's loading of the pipeline does)
from bot import graph_runner

MODEL = Path(__file__).resolve().parent.parent / "models" / "civicdesk.tar.gz"
MESSAGES = (
    "hello",
    "the street lamp outside no. 12 has been dark for a week",
    "what is the status of CD-7K2M9Q",
    "talk to a person",
    "/affirm",
    "我家楼下的路灯坏了",
)


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    yield Agent.load(str(MODEL))
    graph_runner.install()


def with_dask(run: Any) -> Any:
    graph_runner.uninstall()
    try:
        return run()
    finally:
        graph_runner.install()


async def parsed(agent: Agent, text: str) -> dict[str, Any]:
    processor = agent.processor
    assert processor is not None
    return await processor.parse_message(UserMessage(text, sender_id="graph-runner-test"))


def tracker_after(agent: Agent, parse_data: dict[str, Any]) -> DialogueStateTracker:
    assert agent.domain is not None
    tracker = DialogueStateTracker("graph-runner-test", agent.domain.slots)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered(parse_data["text"], parse_data["intent"], parse_data["entities"]))
    return tracker


@pytest.mark.parametrize("text", MESSAGES)
async def test_messages_parse_and_predict_as_with_dask(agent: Agent, text: str) -> None:
    assert agent.processor is not None
    assert type(agent.processor.graph_runner).run is graph_runner.run_in_order
    in_order = await parsed(agent, text)
    graph_runner.uninstall()
    try:
        by_dask = await parsed(agent, text)
    finally:
        graph_runner.install()
    assert in_order == by_dask

    tracker = tracker_after(agent, in_order)
    ours = agent.processor._predict_next_with_tracker(tracker)
    theirs = with_dask(lambda: agent.processor._predict_next_with_tracker(tracker))
    assert (ours.policy_name, ours.probabilities) == (theirs.policy_name, theirs.probabilities)
    assert ours.max_confidence_index == theirs.max_confidence_index


def test_nodes_come_after_what_they_need(agent: Agent) -> None:
    assert agent.processor is not None
    runner: Any = agent.processor.graph_runner
    schema = runner._graph_schema
    targets = [agent.processor.model_metadata.core_target]
    order = graph_runner.node_order(schema, targets)
    names = [name for name, _ in order]

    assert set(names) == set(schema.minimal_graph_schema(targets).nodes)
    for position, (_, needs) in enumerate(order):
        for needed in needs:
            if needed in schema.nodes:
                assert names.index(needed) < position


def test_an_input_named_like_a_node_is_refused(agent: Agent) -> None:
    assert agent.processor is not None
    runner: Any = agent.processor.graph_runner
    target = agent.processor.model_metadata.core_target
    with pytest.raises(GraphRunError, match="clashes with a node name"):
        runner.run(inputs={"__tracker__": target}, targets=[target])
