"""Rasa's structured error logs without the local variables of every frame.

Rasa 3.6 renders exceptions of its structlog events with ``dict_tracebacks``, which writes each
frame's local variables into the log line. When a button payload such as
``/choose_option{"choice": "submit"}`` is sent as a response, Rasa's template interpolation
fails on the braces and logs that at ERROR with its locals, which include the conversation's
slot values: the citizen's own description of the problem, and possibly more. This module
swaps that processor for the same renderer with ``show_locals=False``: the exception type,
message and frames stay in the log; the values do not.

It also applies ``CIVICDESK_LOG_LEVEL`` to CivicDesk's own loggers in Rasa's process
(``actions.observability.configure_own_loggers``) and keeps httpx's request lines (full
URLs, with identities and search words in them) to warnings, as the action server does
(``actions.observability.hush_url_loggers``).

Installed by ``bot/__init__.py``, which Rasa imports (for the tracker store and the channels)
after it has configured structlog.
"""

from __future__ import annotations

import structlog
from structlog.processors import ExceptionRenderer
from structlog.tracebacks import ExceptionDictTransformer

from actions.observability import configure_own_loggers, hush_url_loggers

_WITHOUT_LOCALS = ExceptionRenderer(ExceptionDictTransformer(show_locals=False))


def install() -> None:
    """Replace ``dict_tracebacks`` in structlog's processors, in place, hush httpx's request
    lines and apply ``CIVICDESK_LOG_LEVEL`` to CivicDesk's loggers (idempotent)."""
    hush_url_loggers()
    configure_own_loggers()
    # In place: loggers already bound (Rasa caches them on first use) share this list.
    processors = structlog.get_config()["processors"]
    for index, processor in enumerate(processors):
        if processor is structlog.processors.dict_tracebacks:
            processors[index] = _WITHOUT_LOCALS
