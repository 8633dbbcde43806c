"""The texts adapters send by themselves: data in channels/messages.yml, keyed by language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from channels._base import CivicDeskInputChannel
from channels._messages import (
    MESSAGES_FILE,
    MessagesError,
    accept_language,
    channel_reply,
    load_messages,
    supported_language,
)
from channels.signed_rest import SignedRestInput
from channels.wechat import WeChatInput

RAW = yaml.safe_load(MESSAGES_FILE.read_text(encoding="utf-8"))


def test_english_and_simplified_chinese_have_every_text() -> None:
    english = set(RAW["en"])
    assert english >= {"unsupported_content", "photo_too_large", "photo_not_saved"}
    assert set(RAW["zh-Hans"]) == english
    for key in english:
        # Written in Chinese, not a copy of the English.
        assert RAW["zh-Hans"][key] != RAW["en"][key]
        assert any("\u4e00" <= char <= "\u9fff" for char in RAW["zh-Hans"][key])


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("en", "en"),
        ("en-GB", "en"),
        ("EN_us", "en"),
        ("zh", "zh-Hans"),
        ("zh-CN", "zh-Hans"),
        ("zh-hans", "zh-Hans"),
        ("zh_Hans_CN", "zh-Hans"),
        ("zh-SG", "zh-Hans"),
        ("zh-TW", None),
        ("zh-Hant", None),
        ("zh-HK", None),
        ("fr", None),
        ("", None),
        (None, None),
    ],
)
def test_language_tags_map_onto_the_languages_there_are(
    tag: str | None, language: str | None
) -> None:
    assert supported_language(tag) == language


def test_the_citizens_language_comes_first_then_the_channels_then_english() -> None:
    english, chinese = RAW["en"]["photo_too_large"], RAW["zh-Hans"]["photo_too_large"]
    assert channel_reply("photo_too_large") == english
    assert channel_reply("photo_too_large", "zh-CN") == chinese
    assert channel_reply("photo_too_large", "fr", "zh-Hans") == chinese
    assert channel_reply("photo_too_large", "en", "zh-Hans") == english
    assert channel_reply("photo_too_large", None, None) == english
    assert channel_reply("photo_too_large", "zh-TW") == english


def test_accept_language_picks_the_best_ranked_language_there_is() -> None:
    assert accept_language("fr-FR,fr;q=0.9,zh-CN;q=0.8,en;q=0.5") == "zh-Hans"
    assert accept_language("en;q=0.4, zh;q=0.7") == "zh-Hans"
    assert accept_language("zh;q=0, en") == "en"
    assert accept_language("fr, de") is None
    assert accept_language(None) is None


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "messages.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_new_language_is_a_data_change(tmp_path: Path) -> None:
    path = _write(tmp_path, {**RAW, "fr": {"photo_too_large": "Désolé, la photo est trop grande."}})
    messages = load_messages(path)
    assert messages["fr"] == {"photo_too_large": "Désolé, la photo est trop grande."}
    assert messages["en"] == RAW["en"]


@pytest.mark.parametrize(
    "data",
    [
        {"zh-Hans": {"photo_too_large": "太大"}},
        {"en": {"a": "A"}, "fr": {"b": "B"}},
        {"en": {"a": ""}},
        {"en": {"a": ["not", "text"]}},
        ["en"],
    ],
    ids=["no-english", "key-not-in-english", "empty-text", "not-text", "not-a-mapping"],
)
def test_a_malformed_messages_file_is_refused(tmp_path: Path, data: Any) -> None:
    with pytest.raises(MessagesError):
        load_messages(_write(tmp_path, data))


def test_a_channels_language_setting_picks_its_texts() -> None:
    channel = SignedRestInput("s", language="zh-CN")
    assert channel.language == "zh-Hans"
    assert channel.reply_text("photo_not_saved") == RAW["zh-Hans"]["photo_not_saved"]
    assert channel.reply_text("photo_not_saved", "en") == RAW["en"]["photo_not_saved"]
    assert SignedRestInput("s").reply_text("photo_not_saved") == RAW["en"]["photo_not_saved"]


def test_a_language_without_texts_stops_the_channel_from_starting() -> None:
    with pytest.raises(ValueError, match="fr"):
        SignedRestInput("s", language="fr")


def test_the_language_is_read_from_credentials_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CIVICDESK_WECHAT_LANGUAGE", "zh-Hans")
    credentials = {"token": "t", "app_id": "a", "app_secret": "s", "mode": "plain"}
    assert WeChatInput.from_credentials(credentials).language == "zh-Hans"
    assert WeChatInput.from_credentials({**credentials, "language": "en"}).language == "en"


def test_every_adapter_reads_the_same_common_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    class Example(CivicDeskInputChannel):
        @classmethod
        def name(cls) -> str:
            return "example"

    monkeypatch.setenv("CIVICDESK_EXAMPLE_MAX_PHOTO_BYTES", "2048")
    options = Example.common_options({"language": "zh"})
    assert options["max_photo_bytes"] == 2048
    assert options["language"] == "zh"
    assert Example.env_name("secret_token") == "CIVICDESK_EXAMPLE_SECRET_TOKEN"
    with pytest.raises(ValueError, match="CIVICDESK_EXAMPLE_SECRET"):
        Example.required_setting({}, "secret")
    with pytest.raises(ValueError, match="one of a, b"):
        Example.choice_setting({"mode": "c"}, "mode", ("a", "b"))
    with pytest.raises(ValueError, match="whole number"):
        Example.common_options({"max_photo_bytes": "big"})
