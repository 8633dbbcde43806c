"""Tests of the developer tooling that `make run` and `make train` rely on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from devstack import ROOT, Stack, StackConfig, StackError, read_env_file, train


def test_env_file_skips_comments_and_strips_quotes(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\n\nCIVICDESK_RASA_PORT=6005\nQUOTED='a b'\nEMPTY=\nnot a pair\n")

    assert read_env_file(env_file) == {"CIVICDESK_RASA_PORT": "6005", "QUOTED": "a b", "EMPTY": ""}
    assert read_env_file(tmp_path / "missing") == {}


def test_fingerprint_follows_content_not_timestamps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("config.yml", "domain.yml", "nlu/a.yml", "bot/rules/b.yml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    monkeypatch.setattr(train, "ROOT", tmp_path)
    before = train.fingerprint()

    os.utime(tmp_path / "nlu" / "a.yml", (1, 1))
    assert train.fingerprint() == before

    (tmp_path / "bot" / "rules" / "b.yml").write_text("changed")
    assert train.fingerprint() != before


def test_missing_model_is_reported_with_the_fix(tmp_path: Path) -> None:
    stack = Stack(StackConfig(var_dir=tmp_path, model_path=tmp_path / "none.tar.gz"))

    with pytest.raises(StackError, match="make train"):
        stack.start()


@pytest.mark.parametrize("plain_rest", [True, False])
def test_unsigned_rest_channel_only_in_the_local_stacks_copy(
    tmp_path: Path, plain_rest: bool
) -> None:
    stack = Stack(StackConfig(var_dir=tmp_path, plain_rest=plain_rest))

    written = yaml.safe_load(stack._write_rasa_credentials().read_text())

    assert "rest" in written if plain_rest else "rest" not in written
    assert "channels.webchat.WebChatInput" in written
    assert "rest" not in yaml.safe_load((ROOT / "credentials.yml").read_text())
