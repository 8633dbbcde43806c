"""The command gate with the cues of config.yml: commands stay commands, needs go to intake.

Without a request: the gate is built from the pipeline entry in config.yml and fed messages
as the classifiers leave them (an intent and its ranking), so what is tested is the cue data
the bot really runs with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.shared.nlu.training_data.message import Message

from bot.command_gate import CommandGate, words_of

ROOT = Path(__file__).resolve().parents[2]


def configured_gate() -> CommandGate:
    pipeline = yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]
    [entry] = [c for c in pipeline if c["name"] == "bot.command_gate.CommandGate"]
    return CommandGate({**CommandGate.get_default_config(), **entry})


def classified(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> Message:
    ranking = [
        {"name": intent, "confidence": 0.8},
        {"name": "request_service", "confidence": 0.1},
        {"name": "report_issue", "confidence": 0.05},
    ]
    return Message(
        data={
            "text": text,
            "intent": ranking[0],
            "intent_ranking": ranking,
            "entities": entities or [],
        }
    )


def gated(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> str:
    [message] = configured_gate().process([classified(text, intent, entities)])
    return str(message.get("intent")["name"])


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I lost my job, is there any support", "check_status"),
        ("i need help paying my rent", "withdraw_ticket"),
        ("can you help me, my water is leaking", "ask_help"),
        ("hi there, my street light is broken", "greet"),
        ("thanks, also the bins were not collected on our road", "thank"),
        ("we moved into 31 Linden Avenue, need to tell you our new address", "add_information"),
    ],
)
def test_a_need_taken_for_a_command_goes_to_the_intake(text: str, intent: str) -> None:
    assert gated(text, intent) == "request_service", "the best intake intent of the ranking"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("what is the status of my complaint", "check_status"),
        ("any news on my report?", "check_status"),
        ("I want to withdraw my complaint", "withdraw_ticket"),
        ("the pothole is still not fixed", "reopen_ticket"),
        ("I'd rate it 4 out of 5", "rate_resolution"),
        ("I forgot to mention it buzzes", "add_information"),
        ("help", "ask_help"),
        ("hello there", "greet"),
        ("thank you so much", "thank"),
        # Not a gated command at all: the gate leaves it.
        ("talk to a person", "request_human"),
        # A button payload is never re-read.
        ('/choose_option{"choice": "yes"}', "check_status"),
    ],
)
def test_a_command_said_in_its_words_stays_a_command(text: str, intent: str) -> None:
    assert gated(text, intent) == intent


def test_a_message_naming_a_ticket_keeps_its_command() -> None:
    reference = [{"entity": "reference", "value": "CD-7K2M9Q", "start": 10, "end": 19}]
    assert gated("what about CD-7K2M9Q then", "withdraw_ticket", reference) == "withdraw_ticket"


def test_the_ranking_puts_the_new_intent_first() -> None:
    lost_job = classified("I lost my job, any support", "check_status")
    [message] = configured_gate().process([lost_job])
    ranking = message.get("intent_ranking")
    assert [entry["name"] for entry in ranking] == [
        "request_service",
        "check_status",
        "report_issue",
    ]


def _training_examples() -> list[tuple[str, str]]:
    """The examples of the commands kept only by their cue (the ways out of a step)."""
    cues = configured_gate()._cue_only
    found: list[tuple[str, str]] = []
    for path in sorted((ROOT / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text())["nlu"]:
            if item.get("intent") in cues:
                lines = item["examples"].splitlines()
                found += [(line[2:].strip(), item["intent"]) for line in lines if line.strip()]
    return found


def test_every_training_example_of_a_cue_only_command_passes_the_gate() -> None:
    """The cues cover how the commands are taught: a cue too narrow shows up here."""
    examples = _training_examples()
    assert len(examples) > 200, "the examples of every gated intent were read"
    dropped = [(text, intent) for text, intent in examples if gated(text, intent) != intent]
    assert dropped == []


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # Answers inside a form that the model took for a way out of the step.
        ("next Thursday", "skip"),
        ("one sofa and one fridge", "skip"),
        ("just the one", "skip"),
        ("don't want to give my number, just reply here", "cancel"),
        ("in my back garden, by the fence", "go_back"),
        ("the light keeps changing colour", "change_value"),
        ("someone parked across my drive", "request_human"),
        ("no need to get back to me", "go_back"),
        # A date or a thing to stop is not a way out of the conversation.
        ("from the start of March", "restart"),
        ("from the beginning of next month", "restart"),
        ("no, just stop the bin", "cancel"),
        ("please stop charging me for the garden bin", "cancel"),
        # Wanting a thing to stop is not stopping the conversation.
        ("no. just make them stop", "cancel"),
        ("I want it to stop", "cancel"),
    ],
)
def test_an_answer_taken_for_a_way_out_of_the_step_stays_an_answer(text: str, intent: str) -> None:
    assert gated(text, intent) == "request_service"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("stop", "cancel"),
        ("stop it please", "cancel"),
        ("I want to stop", "cancel"),
        ("stop the request", "cancel"),
        ("start again", "restart"),
        ("back to the start", "go_back"),
        ("from the start please", "restart"),
    ],
)
def test_a_way_out_said_in_its_words_stays_a_way_out(text: str, intent: str) -> None:
    assert gated(text, intent) == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("我家楼下的路灯坏了一个星期了", "check_status"),
        ("小区门口的垃圾好几天没人收", "greet"),
        ("我想给孩子办护照", "ask_help"),
        ("下水道堵了，臭得不行", "thank"),
        # A greeting before the need does not make the message a greeting.
        ("您好，最近老是头疼，晚上也睡不好，想约个医生看看，请问怎么预约？", "greet"),
    ],
)
def test_a_need_written_in_chinese_goes_to_the_intake(text: str, intent: str) -> None:
    assert gated(text, intent) == "request_service", "the best intake intent of the ranking"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("我的投诉处理得怎么样了", "check_status"),
        ("查一下进度", "check_status"),
        ("您好", "greet"),
        ("谢谢您", "thank"),
        ("帮助", "ask_help"),
        ("我要转人工", "request_human"),
        ("跳过", "skip"),
        ("算了不办了", "cancel"),
        ("返回上一步", "go_back"),
        ("为什么要填这个", "ask_why"),
        ("灯又坏了，还没修好", "reopen_ticket"),
    ],
)
def test_a_command_said_in_chinese_stays_a_command(text: str, intent: str) -> None:
    assert gated(text, intent) == intent


def test_chinese_is_counted_in_words_of_two_characters_without_its_filler() -> None:
    filler = configured_gate()._filler

    assert words_of("请问一下", filler) == []
    assert words_of("路灯坏了", filler) == ["路灯", "坏"]
    assert words_of("my 路灯 is broken", filler) == ["broken", "路灯"]
