"""Rasa-side parts of CivicDesk: the command gate, the tracker and lock stores, and what is
installed on import: only offered buttons can be pressed (``payload_gate``), the compiled
check of action server responses (``action_results``) and the event and slot type tables
(``event_types``)."""

from bot import action_results, event_types, payload_gate

action_results.install()
event_types.install()
payload_gate.install()
