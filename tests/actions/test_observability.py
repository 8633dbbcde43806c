"""Sender pseudonyms, own-logger levels and who may read /metrics (actions/observability.py)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from actions import observability
from actions.observability import configure_own_loggers, metrics_refusal, sender_tag


def test_a_sender_tag_is_stable_keyed_and_hides_the_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICDESK_LOG_HASH_KEY", "key-one")
    first = sender_tag("telegram:12345")
    assert re.fullmatch(r"s-[0-9a-f]{12}", first)
    assert sender_tag("telegram:12345") == first
    # An identity and its conversation id are one citizen: one tag.
    assert sender_tag("12345") == first
    assert "12345" not in first
    assert sender_tag("telegram:12346") != first
    monkeypatch.setenv("CIVICDESK_LOG_HASH_KEY", "key-two")
    assert sender_tag("telegram:12345") != first
    assert sender_tag(None) == "s-none"


def test_the_back_office_tags_an_identity_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    # The back office's helper (its own environment) must give the same tag for the same key:
    # this is its algorithm, written out, checked against ours.
    import hashlib
    import hmac

    monkeypatch.setenv("CIVICDESK_LOG_HASH_KEY", "shared-key")
    expected = hmac.new(b"shared-key", b"12345", hashlib.sha256).hexdigest()[:12]
    assert sender_tag("telegram:12345") == f"s-{expected}"


def test_without_a_key_each_process_draws_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICDESK_LOG_HASH_KEY", raising=False)
    monkeypatch.setattr(observability, "_process_key", None)
    first = sender_tag("rest:abc")
    assert sender_tag("rest:abc") == first
    monkeypatch.setattr(observability, "_process_key", None)
    assert sender_tag("rest:abc") != first


@pytest.fixture
def own_levels() -> Iterator[None]:
    saved = {name: logging.getLogger(name).level for name in observability.OWN_LOGGERS}
    handler = logging.StreamHandler()
    handler.setLevel(logging.INFO)
    logging.getLogger().addHandler(handler)
    yield
    logging.getLogger().removeHandler(handler)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("own_levels")
def test_own_loggers_get_the_level_and_libraries_keep_theirs() -> None:
    library = logging.getLogger("sanic.somewhere")
    library_level = library.getEffectiveLevel()
    configure_own_loggers({"CIVICDESK_LOG_LEVEL": "debug"})
    assert logging.getLogger("actions.outbox").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("channels").level == logging.DEBUG
    assert library.getEffectiveLevel() == library_level
    assert all(h.level <= logging.DEBUG for h in logging.getLogger().handlers)


def test_a_wrong_level_is_a_clear_error() -> None:
    with pytest.raises(SystemExit, match="not a log level"):
        configure_own_loggers({"CIVICDESK_LOG_LEVEL": "chatty"})


@pytest.mark.parametrize(
    ("peer", "headers", "token", "status"),
    [
        ("127.0.0.1", {}, "", None),
        ("::1", {}, "", None),
        ("10.0.0.8", {}, "", 403),
        ("127.0.0.1", {"X-Forwarded-For": "198.51.100.1"}, "", 403),
        ("127.0.0.1", {"Forwarded": "for=198.51.100.1"}, "", 403),
        ("10.0.0.8", {"Authorization": "Bearer s3cret"}, "s3cret", None),
        ("127.0.0.1", {}, "s3cret", 401),
        ("127.0.0.1", {"authorization": "Bearer wrong"}, "s3cret", 401),
        ("127.0.0.1", {"Authorization": "Basic s3cret"}, "s3cret", 401),
        ("not an address", {}, "", 403),
    ],
)
def test_who_may_read_metrics(
    peer: str, headers: dict[str, str], token: str, status: int | None
) -> None:
    refusal = metrics_refusal(peer, headers, token)
    assert (refusal[0] if refusal else None) == status
