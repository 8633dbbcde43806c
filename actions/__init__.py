"""CivicDesk's custom actions, served by the rasa_sdk action server (`python -m actions`).

One module per feature; nothing here does I/O at import, because the action server imports
every module of this package to register its actions.
"""
