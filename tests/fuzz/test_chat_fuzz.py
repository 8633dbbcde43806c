"""Naughty chat input through the running stack (back office, action server, Rasa, trained
model), sent in the middle of a complaint: every message gets an answer and no 5xx, both
servers stay up with no traceback in their logs and none of the text in them, and the
conversation, and a new one, go on normally afterwards.

Each string is sent once, at the step that asks where the problem is (the step that takes
free text), on the plain REST channel that ``make run`` uses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from devstack import ROOT, Stack, scratch_config
from tests.e2e.local_stack import started
from tests.fuzz.naughty import LONE_SURROGATE_JSON, NAUGHTY, json_with

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
STREET_LIGHT = '/choose_option{"choice": "street_light"}'
# Strings distinctive enough that finding one in a log means message text was logged.
TELLTALES = ["'; DROP TABLE tickets; --", "{{ config.__class__.__init__.__globals__ }}"]


def pattern(key: str) -> re.Pattern[str]:
    text = re.escape(str(DOMAIN["responses"][key][0]["text"]))
    return re.compile(re.sub(r"\\\{(\w+)\\\}", r".*?", text) + "$", re.DOTALL)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with started(Stack(scratch_config(tmp_path_factory.mktemp("var")))) as running:
        yield running


def post(stack: Stack, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{stack.config.rasa_url}/webhooks/rest/webhook",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )


def say(stack: Stack, sender: str, message: str) -> list[dict[str, Any]]:
    response = post(stack, json.dumps({"sender": sender, "message": message}).encode())
    assert response.status_code == 200, (response.status_code, response.text[:300])
    return list(response.json())


def texts(replies: list[dict[str, Any]]) -> list[str]:
    return [str(reply["text"]) for reply in replies if reply.get("text")]


def at_the_location_step(stack: Stack, sender: str) -> None:
    """Describe a dark street lamp and pick the service: the bot asks where it is."""
    say(stack, sender, "I want to report a problem")
    say(stack, sender, "The street lamp outside number 12 has been dark for a week")
    [ask] = texts(say(stack, sender, STREET_LIGHT))
    assert pattern("utter_ask_issue_location").match(ask), ask


def test_naughty_messages_mid_form_get_answers_and_break_nothing(stack: Stack) -> None:
    sender = "fuzz-citizen"
    at_the_location_step(stack, sender)
    silent, server_errors = [], []
    for text in NAUGHTY:
        response = post(stack, json.dumps({"sender": sender, "message": text}).encode())
        if response.status_code >= 500:
            server_errors.append((text[:30], response.status_code))
        elif response.status_code == 200 and not texts(response.json()):
            silent.append(text[:30])
        if response.status_code == 200 and pattern("utter_complaint_filed").match(
            " ".join(texts(response.json()))
        ):
            at_the_location_step(stack, sender)  # a string was taken all the way: start again
    assert server_errors == []
    # An empty string is no message; everything else deserves a reply.
    assert [text for text in silent if text.strip()] == []


def test_malformed_and_oversized_chat_bodies_are_refused_with_a_reason(stack: Stack) -> None:
    refused = [
        post(stack, json_with("message", raw, sender="fuzz-2")) for raw in LONE_SURROGATE_JSON
    ]
    refused += [
        post(stack, json.dumps({"sender": 7, "message": "hi"}).encode()),
        post(stack, json.dumps({"sender": "fuzz-2", "message": ["hi"]}).encode()),
        post(stack, b"[" * 30_000),
        post(stack, json.dumps({"sender": "fuzz-2", "message": "x" * 100_000}).encode()),
    ]
    assert [r.status_code for r in refused] == [400] * (len(LONE_SURROGATE_JSON) + 3) + [413]
    assert all(r.json()["error"]["description"] for r in refused)
    # Over the bot's 2,000 characters but under the channel's cap: a plain reply, no turn cut.
    [reply] = texts(say(stack, "fuzz-2", "lamp " * 5000))
    assert reply.strip()


def test_afterwards_the_servers_are_up_clean_and_conversations_go_on(stack: Stack) -> None:
    assert stack.exited() == []
    assert httpx.get(f"{stack.config.actions_url}/health", timeout=10).status_code == 200
    # The fuzzed conversation goes on...
    assert texts(say(stack, "fuzz-citizen", "I want to report a problem"))
    # ...and a new one goes to the location question as on the first day.
    at_the_location_step(stack, "fuzz-after")
    [ask_contact] = texts(say(stack, "fuzz-after", "12 Jiefang Road, Gulou District"))
    assert pattern("utter_ask_contact_choice").match(ask_contact), ask_contact
    for name in ("rasa", "actions", "backoffice"):
        log = stack.log_path(name).read_text(errors="replace")
        assert "Traceback" not in log, (name, stack.log_tail(name, 60))
        for telltale in TELLTALES:
            assert telltale not in log, f"{name} logged message text"
