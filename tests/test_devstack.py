"""Tests of the developer tooling that `make run` and `make train` rely on."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from actions.outbox import Outbox
from devstack import ROOT, Stack, StackConfig, StackError, read_env_file, scratch_config, train


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

    rest = "channels.rest.RestInput"
    assert rest in written if plain_rest else rest not in written
    assert "channels.webchat.WebChatInput" in written
    assert not {"rest", rest} & set(yaml.safe_load((ROOT / "credentials.yml").read_text()))


def test_conversations_are_kept_in_the_stacks_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CIVICDESK_TRACKER_DB_URL", raising=False)
    in_var = f"sqlite:///{tmp_path / 'conversations.sqlite3'}"

    assert Stack(StackConfig(var_dir=tmp_path))._rasa_env("t")["CIVICDESK_TRACKER_DB_URL"] == in_var
    configured = StackConfig(var_dir=tmp_path, environment={"CIVICDESK_TRACKER_DB_URL": "pg"})
    assert Stack(configured)._rasa_env("t")["CIVICDESK_TRACKER_DB_URL"] == "pg"
    # A test's stack keeps them in its scratch directory, whatever the shell says.
    monkeypatch.setenv("CIVICDESK_TRACKER_DB_URL", "postgresql://elsewhere")
    scratch = Stack(StackConfig(var_dir=tmp_path, tracker_db_url=in_var))
    assert scratch._rasa_env("t")["CIVICDESK_TRACKER_DB_URL"] == in_var
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text())
    assert endpoints["tracker_store"] == {
        "type": "bot.tracker_store.TrimmingSQLTrackerStore",
        "url": "${CIVICDESK_TRACKER_DB_URL}",
    }


def test_rasa_shares_the_outbox_file_and_takes_the_back_offices_erasure_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CIVICDESK_OUTBOX_PATH", "CIVICDESK_ERASURE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    stack = Stack(StackConfig(var_dir=tmp_path))
    stack.rasa_token = "per-run"
    rasa = stack._rasa_env("t")
    assert rasa["CIVICDESK_OUTBOX_PATH"] == str(tmp_path / "outbox.sqlite3")
    assert rasa["CIVICDESK_ERASURE_TOKEN"] == stack._backoffice_env()["BACKOFFICE__RASA__TOKEN"]
    chosen = StackConfig(var_dir=tmp_path, environment={"CIVICDESK_ERASURE_TOKEN": "own"})
    assert Stack(chosen)._rasa_env("t")["CIVICDESK_ERASURE_TOKEN"] == "own"


def test_the_retention_job_runs_on_the_stacks_files(tmp_path: Path) -> None:
    Outbox(tmp_path / "outbox.sqlite3")
    config = StackConfig(var_dir=tmp_path, tracker_db_url=f"sqlite:///{tmp_path / 'c.sqlite3'}")
    assert Stack(config).run_retention() == 0
    log = (tmp_path / "logs" / "retention.log").read_text()
    assert '"days": 30, "conversations": 0' in log
    assert '"outbox": {"submissions": 0' in log


def test_a_busy_port_is_named_with_the_process_holding_it(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = dataclasses.replace(scratch_config(tmp_path), rasa_port=port)
        with pytest.raises(StackError) as raised:
            Stack(config).start()
    message = str(raised.value)
    assert f"port {port} for the Rasa is in use by process {os.getpid()}" in message
    assert not (tmp_path / "logs").exists(), "nothing was started"


def test_children_end_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    """A supervisor killed outright (no clean-up) takes its children with it."""
    pid_file = tmp_path / "child.pid"
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys, time\n"
            "from devstack._stack import end_with_parent\n"
            "child = subprocess.Popen(['sleep', '120'], start_new_session=True,\n"
            "                         preexec_fn=end_with_parent(os.getpid()))\n"
            f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
            "time.sleep(120)\n",
        ],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the supervisor did not start its child"
            time.sleep(0.05)
        child = int(pid_file.read_text())
        os.kill(child, 0)  # running
        supervisor.kill()
        supervisor.wait()
        deadline = time.monotonic() + 10
        while _running(child):
            assert time.monotonic() < deadline, "the child outlived its supervisor"
            time.sleep(0.05)
    finally:
        supervisor.kill()
        supervisor.wait()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its parent (init here) has to reap it
