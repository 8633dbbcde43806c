"""Who the citizen is to the back office: ``channel:sender_id``, e.g. ``telegram:12345``.

The bot files every ticket with this identity as the Open311 ``account_id``, and the back
office's ``/api/v1/citizens/{identity}/...`` endpoints answer only for tickets filed with it
(docs/backoffice-api.md, "A citizen's own tickets").
"""

from __future__ import annotations

import re

from rasa_sdk import Tracker

# The back office's own rule for an identity; anything else would be refused with a 400.
_IDENTITY = re.compile(r"[a-z][a-z0-9_]{0,31}:[A-Za-z0-9_.@+=-]{1,200}")


def citizen_identity(tracker: Tracker) -> str | None:
    """The identity of the conversation's citizen, or None when it cannot be formed.

    The channel is the input channel of the latest user message (set by Rasa from the
    channel adapter, not by the message text); the id is the conversation's sender id.
    """
    channel = tracker.get_latest_input_channel()
    sender = tracker.sender_id
    if not isinstance(channel, str) or not isinstance(sender, str):
        return None
    identity = f"{channel.lower()}:{sender}"
    return identity if _IDENTITY.fullmatch(identity) else None
