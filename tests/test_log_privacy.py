"""Rasa's structured error logs keep no frame locals (bot/log_privacy.py)."""

from __future__ import annotations

import logging
import sys

import pytest
import structlog
from rasa.utils.log_utils import configure_structlog

from bot import log_privacy


def fail_with_a_secret_local() -> None:
    slot_values = {"issue_description": "my neighbour Wang Fang at no. 7 is shouting"}
    raise KeyError(str(len(slot_values)))


def test_an_error_with_exc_info_is_logged_without_locals(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rasa renders JSON with dict_tracebacks when stderr is not a terminal (a server).
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    configure_structlog(logging.INFO)
    before = structlog.get_config()["processors"]
    assert structlog.processors.dict_tracebacks in before
    log_privacy.install()
    logger = structlog.get_logger("rasa.core.nlg.interpolator")
    with caplog.at_level(logging.INFO):
        try:
            fail_with_a_secret_local()
        except KeyError:
            logger.exception("interpolator.interpolate.text")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "KeyError" in text
    assert "fail_with_a_secret_local" in text
    assert "Wang Fang" not in text
    assert structlog.processors.dict_tracebacks not in structlog.get_config()["processors"]


def test_httpx_request_lines_are_kept_to_warnings() -> None:
    logging.getLogger("httpx").setLevel(logging.NOTSET)
    log_privacy.install()
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
