"""Action calls send what Rasa would send, with the domain encoded once, over one connection."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

import bot  # noqa: F401  (installs the patches, as Rasa's loading of the pipeline does)
from bot import action_calls

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet]
slots:
  issue_description:
    type: text
    mappings: [{type: custom}]
forms:
  intake_form:
    required_slots: [issue_description]
responses:
  utter_greet: [{text: "hi \\u00e9 \\"quoted\\""}]
actions: [action_check]
"""
)


class ActionServer:
    """An action server on a free port that records each call's body and connection."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.connections: list[int] = []
        self.content_types: list[str] = []
        self.url = ""

    async def webhook(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        self.content_types.append(request.content_type)
        assert request.transport is not None
        self.connections.append(id(request.transport))
        return web.json_response({"events": [SlotSet("issue_description", "x").as_dict()]})


@pytest.fixture
async def server() -> AsyncIterator[ActionServer]:
    recorder = ActionServer()
    app = web.Application()
    app.router.add_post("/webhook", recorder.webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    recorder.url = f"http://127.0.0.1:{port}/webhook"
    yield recorder
    await runner.cleanup()


def tracker() -> DialogueStateTracker:
    state = DialogueStateTracker("action-calls-test", DOMAIN.slots)
    state.update(ActionExecuted("action_listen"))
    state.update(UserUttered('héllo "you"', {"name": "greet", "confidence": 1.0}))
    return state


async def call(endpoint: EndpointConfig, state: DialogueStateTracker) -> list[Any]:
    action = RemoteAction("action_check", endpoint)
    return await action.run(
        CollectingOutputChannel(),
        TemplatedNaturalLanguageGenerator(DOMAIN.responses),
        state,
        DOMAIN,
    )


async def test_the_action_server_gets_rasas_body_over_one_connection(server: ActionServer) -> None:
    endpoint = EndpointConfig(url=server.url, headers={"X-Token": "t"})
    state = tracker()
    try:
        first = await call(endpoint, state)
        second = await call(endpoint, state)
    finally:
        await action_calls.close_sessions(endpoint)

    action_calls.uninstall()
    try:
        rasas_body = RemoteAction("action_check", endpoint)._action_call_format(state, DOMAIN)
        await call(EndpointConfig(url=server.url, headers={"X-Token": "t"}), state)
    finally:
        action_calls.install()

    assert first == second == [SlotSet("issue_description", "x")]
    ours, again, rasas = (json.loads(body) for body in server.bodies)
    assert ours == again == rasas == json.loads(json.dumps(rasas_body))
    assert ours["domain"] == DOMAIN.as_dict()
    assert server.content_types == ["application/json"] * 3
    # Our two calls shared a connection; Rasa's own call opened another.
    assert server.connections[0] == server.connections[1] != server.connections[2]


def test_the_domain_is_encoded_once_and_again_when_it_changes() -> None:
    domain = DOMAIN.as_dict()
    body = action_calls.ActionCall({"next_action": "action_check", "domain": domain})
    first = body.encoded()
    kept = action_calls._DOMAIN_JSON.encoded(domain)
    assert action_calls._DOMAIN_JSON.encoded(domain) is kept
    assert json.loads(first) == {"next_action": "action_check", "domain": domain}

    other = {"intents": ["greet"]}
    assert json.loads(action_calls.ActionCall({"domain": other}).encoded()) == {"domain": other}
    assert json.loads(action_calls.ActionCall({"next_action": "a"}).encoded()) == {
        "next_action": "a"
    }
