"""Telling a citizen the reference of a queued request as soon as the relay has filed it.

The outbox relay (``actions/__main__.py``) files requests that waited for the back office.
For each conversation that got a reference this way it asks Rasa's HTTP API to trigger the
intent ``EXTERNAL_request_filed`` (``POST /conversations/{id}/trigger_intent`` with
``output_channel=latest``); its rule runs ``action_announce_filed_requests``, which says the
references not yet told (each once, see ``Outbox.take_unannounced``) on the channel the
citizen last wrote from. A reference still untold later (the push failed, or Rasa took it
but was killed before the announcement) is pushed again in later rounds, at growing
intervals (``Outbox.conversations_to_push``). Without ``CIVICDESK_RASA_URL`` and
``CIVICDESK_RASA_TOKEN`` nothing is pushed and the reference is told the next time the
citizen writes.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dependencies import Open311Api
from actions.observability import sender_tag
from actions.outbox import Outbox, OutboxEntry
from actions.report_issue import announce_delivered
from actions.settings import ActionSettings

logger = logging.getLogger(__name__)

FILED_INTENT = "EXTERNAL_request_filed"


class ReferencePusher:
    """Asks Rasa to run the announcement in one conversation.

    Args:
        rasa_url: Root of Rasa's HTTP API.
        token: Rasa's ``--auth-token``.
        timeout_seconds: Timeout of each request.
        transport: Optional httpx transport (tests).
    """

    def __init__(
        self,
        rasa_url: str,
        token: str,
        *,
        timeout_seconds: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._token = token
        self._http = httpx.AsyncClient(
            base_url=rasa_url.rstrip("/"), timeout=timeout_seconds, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def push(self, conversation_id: str) -> bool:
        """Trigger the announcement; False (logged, never raised) when Rasa did not take it."""
        path = f"/conversations/{quote(conversation_id, safe='')}/trigger_intent"
        try:
            response = await self._http.post(
                path,
                params={"output_channel": "latest", "token": self._token},
                json={"name": FILED_INTENT, "entities": {}},
            )
        except httpx.HTTPError as error:
            # No URL in the log: it holds the conversation id and the token.
            logger.warning(
                "could not reach Rasa to push a reference: %s (%s)",
                type(error).__name__,
                sender_tag(conversation_id),
            )
            return False
        if not response.is_success:
            logger.warning(
                "Rasa refused a reference push: %d (%s)",
                response.status_code,
                sender_tag(conversation_id),
            )
            return False
        return True


def pusher_from_settings(settings: ActionSettings) -> ReferencePusher | None:
    """A pusher when both the Rasa URL and token are configured, else None (no push)."""
    token = settings.rasa_token.get_secret_value()
    if not settings.rasa_url or not token:
        return None
    return ReferencePusher(settings.rasa_url, token, timeout_seconds=10.0)


async def relay_round(
    outbox: Outbox, client: Open311Api, pusher: ReferencePusher | None
) -> list[OutboxEntry]:
    """One round of the relay: send what is due, then push the new references.

    Kept requests for a person and kept withdrawals, reopenings and ratings are sent too, and
    their conversations pushed as well (the outcome of a move is told), so the
    citizen hears which department will answer and by when; the person's answer itself
    reaches the chat through the back office's own push (``EXTERNAL_ticket_update``).
    """
    handoffs = await outbox.deliver_due_handoffs(client)
    moves = await outbox.deliver_due_moves(client)
    entries = await outbox.deliver_due(client)
    if pusher is not None:
        delivered = [entry.conversation_id for entry in entries if entry.state == "delivered"]
        delivered += [h.conversation_id for h in handoffs if h.state == "delivered"]
        delivered += [m.conversation_id for m in moves if m.outcome is not None]
        # A reference filed earlier whose push Rasa did not take (down, restarting) or whose
        # announcement never happened is pushed again, with growing gaps, until it is told:
        # the citizen was promised it and may not write again.
        delivered += outbox.conversations_to_push()
        for conversation_id in dict.fromkeys(delivered):
            await pusher.push(conversation_id)
            outbox.mark_pushed(conversation_id)
    return entries


class ActionAnnounceFiledRequests(Action):
    """Says the references of this conversation's queued requests filed since it last heard.

    Run by the rule of ``EXTERNAL_request_filed``; reads and sets no slots.
    """

    def name(self) -> str:
        return "action_announce_filed_requests"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        await announce_delivered(dispatcher, tracker)
        return []
