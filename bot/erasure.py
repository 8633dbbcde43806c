"""Erase one conversation from Rasa's tracker store on request.

``POST /civicdesk/conversations/{sender_id}/erase`` on Rasa's port, listed in
``credentials.yml`` as ``bot.erasure.ConversationErasureInput`` (like ``bot.metrics``, a
"channel" only for its route). It needs ``Authorization: Bearer <CIVICDESK_ERASURE_TOKEN>``;
without that variable set, erasure is off and every call gets ``403``.

The conversation's events go, and with them every message the citizen typed and every slot
(contact details included); so does the trimming store's restart point. The next message
from that sender starts a new conversation. The conversation is locked while it is erased,
so a turn running at the same moment finishes first. Erasing a conversation that does not
exist is not an error (``events: 0``), so a retry is safe.

The action server's outbox loses that conversation's rows too (``actions/outbox.py``, the
file at ``CIVICDESK_OUTBOX_PATH``, which Rasa reads with the action server's default when the
two share a host): submissions and requests still waiting included, so nothing kept for the
citizen is filed after they were erased. ``outbox`` is ``null`` in the answer when there is
no outbox file where Rasa looks (an action server on another host keeps its own).

The back office's erasure (``POST /api/v1/staff/citizens/{identity}/erase``, by an admin)
calls this route with its ``BACKOFFICE__RASA__TOKEN``; set ``CIVICDESK_ERASURE_TOKEN`` to that
same value (Rasa's ``--auth-token``, which already reads and writes every conversation
through Rasa's HTTP API) and one staff action erases a citizen everywhere.

The sender id is Rasa's conversation id: the ``id`` of the back office's ``channel:id``
identity (``telegram:12345`` → ``12345``). Supported stores: Rasa's SQL store and its
subclasses (``bot.tracker_store.TrimmingSQLTrackerStore``), and the in-memory stores.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.tracker_store import (
    FailSafeTrackerStore,
    InMemoryTrackerStore,
    SQLTrackerStore,
    TrackerStore,
)
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.observability import sender_tag
from actions.outbox import Outbox
from bot.retention import outbox_path
from bot.tracker_store import TrimmingSQLTrackerStore, restart_points

logger = logging.getLogger(__name__)

ERASURE_TOKEN_ENV = "CIVICDESK_ERASURE_TOKEN"  # noqa: S105 (the variable's name)
MAX_SENDER_ID_CHARS = 255  # the width of Rasa's events.sender_id column


class ErasureNotSupported(Exception):
    """The configured tracker store has no way to erase one conversation here."""


def _error(status: int, code: str, message: str) -> HTTPResponse:
    return response.json({"error": {"code": code, "message": message}}, status=status)


def _erase_sql(store: SQLTrackerStore, sender_id: str) -> int:
    with store.session_scope() as session:
        deleted = (
            session.query(store.SQLEvent)
            .filter(store.SQLEvent.sender_id == sender_id)
            .delete(synchronize_session=False)
        )
        if isinstance(store, TrimmingSQLTrackerStore):
            session.execute(restart_points.delete().where(restart_points.c.sender_id == sender_id))
        session.commit()
    return int(deleted)


async def erase_conversation(store: TrackerStore, sender_id: str) -> int:
    """Delete every stored event of ``sender_id``; returns how many were deleted.

    Raises:
        ErasureNotSupported: for a tracker store other than SQL or in-memory.
    """
    if isinstance(store, FailSafeTrackerStore):
        # Rasa wraps the configured store; its in-memory fallback holds conversations of
        # turns when the store was down, so both are erased.
        events = await erase_conversation(store._tracker_store, sender_id)
        fallback = store._fallback_tracker_store
        if fallback is not None:
            events += await erase_conversation(fallback, sender_id)
        return events
    if isinstance(store, SQLTrackerStore):
        return _erase_sql(store, sender_id)
    if isinstance(store, InMemoryTrackerStore):
        tracker = await store.retrieve(sender_id)
        events = 0 if tracker is None else len(tracker.events)
        store.store.pop(sender_id, None)
        return events
    raise ErasureNotSupported(type(store).__name__)


def erase_outbox(sender_id: str, path: Path | None = None) -> dict[str, int] | None:
    """Delete the outbox rows of ``sender_id``: counts per kind, None without an outbox file."""
    path = outbox_path() if path is None else path
    if not path.is_file():
        return None
    return Outbox(path).erase_conversation(sender_id)


def _authorised(request: Request) -> HTTPResponse | None:
    expected = os.environ.get(ERASURE_TOKEN_ENV, "")
    if not expected:
        return _error(403, "forbidden", f"erasure is off: {ERASURE_TOKEN_ENV} is not set")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        return _error(401, "unauthorized", f"send the {ERASURE_TOKEN_ENV} as a bearer token")
    return None


class ConversationErasureInput(InputChannel):  # type: ignore[misc]
    """Serves ``POST /civicdesk/conversations/{sender_id}/erase`` on Rasa's port."""

    @classmethod
    def name(cls) -> str:
        return "conversation_erasure"

    def url_prefix(self) -> str:
        # Absolute, so Rasa's urljoin("/webhooks/", ...) leaves it as it is.
        return "/civicdesk/conversations"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = Blueprint("civicdesk_conversation_erasure", __name__)

        @blueprint.route("/<sender_id>/erase", methods=["POST"])
        async def erase(request: Request, sender_id: str) -> HTTPResponse:
            refusal = _authorised(request)
            if refusal is not None:
                return refusal
            if not sender_id or len(sender_id) > MAX_SENDER_ID_CHARS:
                return _error(400, "bad_request", "the sender id is 1 to 255 characters")
            agent = getattr(request.app.ctx, "agent", None)
            if agent is None or agent.tracker_store is None:
                return _error(503, "unavailable", "Rasa is still starting; try again shortly")
            try:
                async with agent.lock_store.lock(sender_id):
                    events = await erase_conversation(agent.tracker_store, sender_id)
                    # Under the lock too: a turn filing a submission right now keeps it in the
                    # outbox before this runs, so it goes with the rest.
                    outbox = erase_outbox(sender_id)
            except ErasureNotSupported as error:
                return _error(501, "not_implemented", f"cannot erase from a {error} store")
            logger.info(
                "conversation erased: %d event(s), outbox rows %s (%s)",
                events,
                "not here" if outbox is None else outbox,
                sender_tag(sender_id),
            )
            return response.json({"erased": {"events": events, "outbox": outbox}})

        return blueprint
