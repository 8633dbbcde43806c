"""A conversation in Chinese, end to end: three real processes, the trained model.

The language comes from what the citizen writes (bot/language.py); every reply is the zh-Hans
variation of its response, and the catalogue's services and questions come in Chinese from the
back office (``?locale=zh-Hans``, read in the language of each action call).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from devstack import ROOT, Stack, scratch_config
from tests.e2e.local_stack import started

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
_CHINESE = re.compile(r"[\u4e00-\u9fff]")


def variation(key: str, language: str) -> str:
    """The text of a response in ``language`` (zh-Hans: its conditional variation)."""
    for item in DOMAIN["responses"][key]:
        conditions = item.get("condition") or []
        said = next((c["value"] for c in conditions if c.get("name") == "language"), "en")
        if said == language:
            return str(item["text"])
    raise AssertionError(f"{key} has no {language} variation")


def pattern(key: str, language: str) -> re.Pattern[str]:
    text = re.escape(variation(key, language))
    return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.*?)", text) + "$", re.DOTALL)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = scratch_config(tmp_path_factory.mktemp("var"), {"CIVICDESK_OUTBOX_RETRY_SECONDS": "1"})
    with started(Stack(config)) as running:
        yield running


def say(stack: Stack, sender: str, message: str) -> list[dict[str, Any]]:
    body = {"sender": sender, "message": message}
    reply = httpx.post(f"{stack.config.rasa_url}/webhooks/rest/webhook", json=body, timeout=30)
    reply.raise_for_status()
    return list(reply.json())


def test_a_citizen_who_writes_chinese_is_answered_in_chinese_and_files_a_ticket(
    stack: Stack,
) -> None:
    sender = "citizen-zh-1"
    offered = say(stack, sender, "我家楼下的路灯坏了一个星期了，晚上黑乎乎的")
    assert pattern("utter_ask_service_code", "zh-Hans").match(offered[0]["text"]), offered
    titles = {b["payload"]: b["title"] for b in offered[0]["buttons"]}
    street_light = '/choose_option{"choice": "street_light"}'
    assert street_light in titles, titles
    assert _CHINESE.search(titles[street_light]), "the service's name comes in Chinese"

    # Typed, not tapped: its place in the list, in Chinese.
    place_in_list = list(titles).index(street_light) + 1
    [ask_place] = say(stack, sender, f"第{place_in_list}个")
    assert pattern("utter_ask_issue_location", "zh-Hans").match(ask_place["text"]), ask_place
    [ask_contact] = say(stack, sender, "天河区体育西路12号门口")
    assert pattern("utter_ask_contact_choice", "zh-Hans").match(ask_contact["text"]), ask_contact
    [summary] = say(stack, sender, "不用了")
    assert pattern("utter_ask_confirm_submission", "zh-Hans").match(summary["text"]), summary
    filed_replies = say(stack, sender, "是的，提交吧")

    filed = pattern("utter_complaint_filed", "zh-Hans").match(filed_replies[0]["text"])
    assert filed, filed_replies
    public = httpx.get(
        f"{stack.config.backoffice_url}/open311/v2/requests/{filed['service_request_id']}.json"
    )
    [ticket] = public.json()
    assert ticket["service_code"] == "street_light"
    assert ticket["address"] == "天河区体育西路12号门口"
    # The ticket keeps the language it was filed in, so staff and status messages use it.
    assert stack.credentials is not None
    own = httpx.get(
        f"{stack.config.backoffice_url}/api/v1/citizens/rest:{sender}/tickets/"
        f"{filed['service_request_id']}",
        headers={"X-API-Key": stack.credentials.api_key},
    )
    assert own.status_code == 200, own.text
    assert own.json()["ticket"]["locale"] == "zh-Hans"


def test_a_conversation_switches_language_when_asked(stack: Stack) -> None:
    sender = "citizen-zh-2"
    [help_reply] = say(stack, sender, "help")
    assert help_reply["text"] == variation("utter_help", "en")
    assert [b["title"] for b in help_reply["buttons"]] == ["English", "中文"]

    [switched] = say(stack, sender, help_reply["buttons"][1]["payload"])
    assert switched["text"] == variation("utter_language_set", "zh-Hans")
    [greeting] = say(stack, sender, "hi")
    assert greeting["text"] == variation("utter_greet", "zh-Hans"), "a short word keeps Chinese"

    [back] = say(stack, sender, "English please")
    assert back["text"] == variation("utter_language_set", "en")
