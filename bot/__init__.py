"""Rasa-side parts of CivicDesk: the command gate, the tracker and lock stores, and what is
installed on import: only offered buttons can be pressed (``payload_gate``), the compiled
check of action server responses (``action_results``), action calls with the domain encoded
once over kept connections (``action_calls``), the event and slot type tables
(``event_types``), the model graph run in order without dask (``graph_runner``), the
conversation's language (``language``, wrapping the payload gate's parsing, so it is installed
after it) and error logs without frame locals (``log_privacy``)."""

from bot import (
    action_calls,
    action_results,
    event_types,
    graph_runner,
    language,
    log_privacy,
    payload_gate,
)

action_calls.install()
action_results.install()
event_types.install()
graph_runner.install()
payload_gate.install()
log_privacy.install()
language.install()
