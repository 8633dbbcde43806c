"""Rasa-side parts of CivicDesk: the command gate, the tracker and lock stores, and the
compiled check of action server responses (installed on import, see ``action_results``)."""

from bot.action_results import install

install()
