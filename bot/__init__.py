"""Rasa-side parts of CivicDesk: the command gate, the tracker and lock stores, and two small
speed-ups installed on import: the compiled check of action server responses
(``action_results``) and the event and slot type tables (``event_types``)."""

from bot import action_results, event_types

action_results.install()
event_types.install()
