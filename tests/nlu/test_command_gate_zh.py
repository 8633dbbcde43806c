"""The command gate's Chinese cues, by class, and the reference regexes around Chinese text.

Without a request: the gate is the pipeline entry of config.yml, the regexes are those of the
training data (nlu/ and nlu/zh/), read as Rasa reads them. The sentences here are written for
the classes the Chinese held-out misses fell into; none is a held-out or training sentence.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.extractors.regex_entity_extractor import RegexEntityExtractor
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from bot.command_gate import CommandGate

ROOT = Path(__file__).resolve().parents[2]
_ANNOTATION = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def configured_gate() -> CommandGate:
    pipeline = yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]
    [entry] = [c for c in pipeline if c["name"] == "bot.command_gate.CommandGate"]
    return CommandGate({**CommandGate.get_default_config(), **entry})


GATE = configured_gate()


def gated(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> str:
    ranking = [
        {"name": intent, "confidence": 0.8},
        {"name": "report_issue", "confidence": 0.1},
    ]
    message = Message(
        data={
            "text": text,
            "intent": ranking[0],
            "intent_ranking": ranking,
            "entities": entities or [],
        }
    )
    [message] = GATE.process([message])
    return str(message.get("intent")["name"])


@pytest.fixture(scope="module")
def reference_extractor(tmp_path_factory: pytest.TempPathFactory) -> RegexEntityExtractor:
    extractor = RegexEntityExtractor.create(
        {"use_lookup_tables": False, "case_sensitive": False},
        LocalModelStorage(tmp_path_factory.mktemp("regex")),
        Resource("regex"),
        ExecutionContext(GraphSchema({}), "test"),
    )
    extractor.train(load_data(str(ROOT / "nlu")))
    return extractor


def references(extractor: RegexEntityExtractor, text: str) -> list[tuple[str, int, int]]:
    [message] = extractor.process([Message(data={"text": text})])
    return [
        (e["value"], e["start"], e["end"])
        for e in message.get("entities") or []
        if e["entity"] == "reference"
    ]


@pytest.mark.parametrize(
    ("text", "value", "start"),
    [
        ("单号CD-Q4RT7Z", "CD-Q4RT7Z", 2),
        ("CD-Q4RT7Z怎么样了", "CD-Q4RT7Z", 0),
        ("查一下cd7k2m9q到哪了", "cd7k2m9q", 3),
        ("我的是 CD-7K2M9Q 谢谢", "CD-7K2M9Q", 4),
        ("编号：CD-7K2M9Q。", "CD-7K2M9Q", 3),
        ("my reference is CD-7K2M9Q.", "CD-7K2M9Q", 16),
    ],
)
def test_a_reference_is_found_once_next_to_chinese_or_anything_else(
    reference_extractor: RegexEntityExtractor, text: str, value: str, start: int
) -> None:
    assert references(reference_extractor, text) == [(value, start, start + len(value))]


@pytest.mark.parametrize("text", ["ABCD-E5BW2X", "编号CD-E5BW2XY", "CD-E5BW"])
def test_a_longer_code_is_no_reference(
    reference_extractor: RegexEntityExtractor, text: str
) -> None:
    assert references(reference_extractor, text) == []


def zh_training_examples() -> list[tuple[str, str, bool]]:
    """(text, intent, names a reference) of every zh example of a command the gate judges."""
    found = []
    for path in sorted((ROOT / "nlu" / "zh").glob("*.yml")):
        for block in yaml.safe_load(path.read_text())["nlu"]:
            if block.get("intent") not in GATE._cues:
                continue
            for line in block["examples"].splitlines():
                line = line.strip().removeprefix("- ")
                if line:
                    named = any(kind == "reference" for _, kind in _ANNOTATION.findall(line))
                    found.append((_ANNOTATION.sub(r"\1", line), block["intent"], named))
    return found


def test_every_chinese_training_example_of_a_command_passes_the_gate() -> None:
    """The model is taught these as commands; a cue too narrow would turn them into needs."""
    examples = zh_training_examples()
    assert len(examples) > 300
    dropped = [
        (text, intent)
        for text, intent, named in examples
        if gated(text, intent, [{"entity": "reference"}] if named else []) != intent
    ]
    assert dropped == []


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # Greetings, thanks and goodbyes with particles, repeated, or after 好了/那.
        ("下午好呀", "greet"),
        ("哈喽哈喽呀", "greet"),
        ("有人在吗在不在", "greet"),
        ("多谢多谢", "thank"),
        ("好的感恩", "thank"),
        ("那先这样吧", "goodbye"),
        ("好嘞下次见", "goodbye"),
        ("嗯没有别的事了", "goodbye"),
        # Help: what the bot does, how to use it, "I can't use it".
        ("你可以帮我干点啥", "ask_help"),
        ("请问这东西咋用", "ask_help"),
        ("我搞不懂这个", "ask_help"),
        ("你到底会做些什么呀", "ask_help"),
        # Status: what I filed, was it handled, no news, when.
        ("帮我看看我上次报的那个", "check_status"),
        ("反映的噪音有人管了没", "check_status"),
        ("报修的水管弄好了没有", "check_status"),
        ("一直没有回音", "check_status"),
        ("证明什么时候能办好", "check_status"),
        # Reopen: still the same, again, nobody came.
        ("说修好了但灯还是不亮", "reopen_ticket"),
        ("问题依旧没人来", "reopen_ticket"),
        # Rating: a number of stars or points.
        ("给三颗星吧", "rate_resolution"),
        ("评个满分", "rate_resolution"),
        # Add: more words, a photo, a number.
        ("我再补点情况", "add_information"),
        ("补张图片给你们", "add_information"),
        # Withdraw, cancel, restart, back, change, skip, why.
        ("那个申请我不需要了", "withdraw_ticket"),
        ("不想填了", "cancel"),
        ("重新搞吧", "restart"),
        ("倒回上一题", "go_back"),
        ("要改一下电话", "change_value"),
        ("不大记得", "skip"),
        ("填这个做啥", "ask_why"),
    ],
)
def test_a_chinese_command_of_each_class_stays_a_command(text: str, intent: str) -> None:
    assert gated(text, intent) == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("小区后门的路灯坏了两个星期了", "rate_resolution"),
        ("河边有人乱倒建筑垃圾都没人管", "check_status"),
        ("我不知道怎么申请低保", "ask_help"),
        ("你好我想问问怎么办居住证", "ask_help"),
        ("早上好，楼下的井盖不见了", "greet"),
        ("谢谢，另外小区门口一直有人占道经营", "goodbye"),
        ("路面要改造一下太颠了", "change_value"),
        ("不记得是哪天坏的反正一直不亮", "cancel"),
        # "重新弄一张" is getting a new card, not starting over.
        ("身份证找不到了 要重新弄一张 咋办", "restart"),
    ],
)
def test_a_chinese_need_taken_for_a_command_still_goes_to_the_intake(
    text: str, intent: str
) -> None:
    assert gated(text, intent) == "report_issue"


@pytest.mark.parametrize("text", ["算了不留了", "算了，我不给了", "算了 就不填了"])
def test_declining_details_after_suan_le_is_an_answer_not_a_cancel(text: str) -> None:
    # At the contact step "算了不留了" is "no, I'd rather not leave them": the request goes on.
    assert gated(text, "cancel") != "cancel"
    assert gated("算了 不办了", "cancel") == "cancel"
