"""The mixed-script tokenizer: English as the WhitespaceTokenizer splits it, Chinese in words,
and entity spans inside Chinese sentences where they were annotated.

Without a request: components are built and trained here, in process, on small data, the way
Rasa's graph runs them (tokenizer, featurizers, then the extractors).
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
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor
from rasa.nlu.extractors.regex_entity_extractor import RegexEntityExtractor
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.mixed_script_tokenizer import MixedScriptTokenizer

ROOT = Path(__file__).resolve().parents[2]
_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]+\)")


def configured_tokenizer(tmp_path: Path | None = None) -> MixedScriptTokenizer:
    pipeline = yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]
    [entry] = [c for c in pipeline if c["name"].endswith("MixedScriptTokenizer")]
    config = {**MixedScriptTokenizer.get_default_config(), **entry}
    if tmp_path is not None:
        config["cache_dir"] = str(tmp_path)
    return MixedScriptTokenizer(config)


@pytest.fixture(scope="module")
def tokenizer() -> MixedScriptTokenizer:
    return configured_tokenizer()


def spans(tokenizer: WhitespaceTokenizer, text: str) -> list[tuple[str, int, int]]:
    tokens = tokenizer.tokenize(Message(data={"text": text}), "text")
    return [(token.text, token.start, token.end) for token in tokens]


def held_out_english() -> list[str]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "tests" / "nlu" / "heldout.yml").read_text())
    return [
        _ANNOTATION.sub(r"\1", line.strip().removeprefix("- "))
        for block in data["nlu"]
        if "intent" in block
        for line in block["examples"].splitlines()
        if line.strip()
    ]


def test_english_is_split_exactly_as_the_whitespace_tokenizer_splits_it(
    tokenizer: MixedScriptTokenizer,
) -> None:
    whitespace = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    messages = [
        *held_out_english(),
        "call me on +44 20 7946 0958, or mail a.b@example.org!",
        "it's at 12-14 O'Neill St. :) thanks",
        "🙂",
    ]
    assert len(messages) > 50
    for text in messages:
        assert spans(tokenizer, text) == spans(whitespace, text), text


def test_a_chinese_sentence_is_cut_into_words(tokenizer: MixedScriptTokenizer) -> None:
    assert [text for text, _, _ in spans(tokenizer, "我家楼下的路灯坏了一个星期了")] == [
        "我家",
        "楼下",
        "的",
        "路灯",
        "坏",
        "了",
        "一个",
        "星期",
        "了",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "编号CD-E5BW2X怎么样了",
        "路灯坏了，电话13812345678。谢谢！",
        "“天河区体育西路”的井盖没了…",
        "早上好啊😀 hi there",
        "在 Tianhe Road 12号 附近",
    ],
)
def test_every_token_is_its_own_part_of_the_text(
    tokenizer: MixedScriptTokenizer, text: str
) -> None:
    found = spans(tokenizer, text)
    assert found
    assert all(text[start:end] == word for word, start, end in found)
    starts = [start for _, start, _ in found]
    assert starts == sorted(starts)
    # Nothing is a token that is only punctuation or an emoji.
    assert all(re.search(r"\w", word) for word, _, _ in found)


def test_latin_inside_chinese_is_its_own_token(tokenizer: MixedScriptTokenizer) -> None:
    assert spans(tokenizer, "编号CD-E5BW2X怎么样了")[:2] == [("编号", 0, 2), ("CD-E5BW2X", 2, 11)]
    assert ("13812345678", 7, 18) in spans(tokenizer, "路灯坏了，电话13812345678。")


def test_a_training_example_is_also_cut_at_its_entities_edges(
    tokenizer: MixedScriptTokenizer,
) -> None:
    text = "住在体育西路口"
    entity = {"start": 2, "end": 6, "value": "体育西路", "entity": "location"}
    training = Message(data={"text": text, "entities": [entity]})

    words = {(t.start, t.end) for t in tokenizer.tokenize(training, "text")}

    assert {t.start for t in tokenizer.tokenize(training, "text")} >= {2, 6}
    assert all(not (start < 2 < end or start < 6 < end) for start, end in words)


def test_the_dictionary_is_built_when_the_component_is_made_and_cached(tmp_path: Path) -> None:
    made = configured_tokenizer(tmp_path)

    assert made._jieba.initialized, "built at load time, not on the first Chinese message"
    assert (tmp_path / "jieba.cache").is_file()


def test_an_unwritable_cache_folder_falls_back(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")

    made = configured_tokenizer(blocked / "cache")

    assert made._jieba.initialized
    assert spans(made, "路灯坏了") == [("路灯", 0, 2), ("坏", 2, 3), ("了", 3, 4)]


TRAINING = """
version: "3.1"
nlu:
  - regex: phone
    examples: |
      - \\+?\\d[\\d \\-]{7,14}\\d
  - intent: report_issue
    examples: |
      - [天河区体育西路](location)的路灯坏了
      - 我住在[海珠区江南大道](location)这里水管爆了
      - 在[越秀区北京路](location)有个大坑
      - [白云区机场路](location)那边垃圾没人收
      - 麻烦去[番禺区市桥街](location)看看井盖
      - 我家在[荔湾区上下九](location)楼下吵得要命
      - 电话[13812345678](phone)路灯不亮
      - 打我手机[13922223333](phone)就行
      - 我的号码是[13700001111](phone)
      - 联系[15866667777](phone)我家门口漏水
"""


def trained_extractors(
    tmp_path: Path,
) -> tuple[MixedScriptTokenizer, CountVectorsFeaturizer, CRFEntityExtractor, RegexEntityExtractor]:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    data: TrainingData = RasaYAMLReader().reads(TRAINING)
    tokenizer = configured_tokenizer()
    featurizer = CountVectorsFeaturizer.create(
        {**CountVectorsFeaturizer.get_default_config()}, storage, Resource("cvf"), context
    )
    crf = CRFEntityExtractor.create(
        {**CRFEntityExtractor.get_default_config()}, storage, Resource("crf"), context
    )
    regex = RegexEntityExtractor.create(
        {"use_lookup_tables": False, "case_sensitive": False}, storage, Resource("re"), context
    )
    tokenizer.process_training_data(data)
    featurizer.train(data)
    featurizer.process_training_data(data)
    crf.train(data)
    regex.train(data)
    return tokenizer, featurizer, crf, regex


def extracted(
    parts: tuple[Any, ...], text: str, extractor_name: str
) -> list[tuple[str, str, int, int]]:
    tokenizer, featurizer, crf, regex = parts
    [message] = tokenizer.process([Message(data={"text": text})])
    featurizer.process([message])
    crf.process([message])
    regex.process([message])
    return [
        (e["entity"], e["value"], e["start"], e["end"])
        for e in message.get("entities") or []
        if e["extractor"] == extractor_name
    ]


@pytest.fixture(scope="module")
def extractors(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, ...]:
    return trained_extractors(tmp_path_factory.mktemp("model"))


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("我住在海珠区江南大道这里水管爆了", "location", "海珠区江南大道"),
        ("麻烦去番禺区市桥街看看井盖", "location", "番禺区市桥街"),
        ("打我手机13922223333就行", "phone", "13922223333"),
        # Not a training sentence.
        ("在天河区体育西路有个大坑", "location", "天河区体育西路"),
    ],
)
def test_the_crf_finds_an_entity_inside_a_chinese_sentence_at_its_span(
    extractors: tuple[Any, ...], text: str, entity: str, value: str
) -> None:
    start = text.index(value)

    assert (entity, value, start, start + len(value)) in extracted(
        extractors, text, "CRFEntityExtractor"
    )


def test_the_regex_finds_a_phone_written_right_after_chinese(
    extractors: tuple[Any, ...],
) -> None:
    text = "路灯坏了电话13566668888谢谢"

    assert extracted(extractors, text, "RegexEntityExtractor") == [("phone", "13566668888", 6, 17)]
