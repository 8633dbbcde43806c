"""What the forms' actions have in common: clean answers, counted failures, asking, cancelling.

``intake_form`` (``actions/report_issue/``) and ``follow_up_form``
(``actions/follow_up_form.py``) are built from these parts, so a new form only says what is
its own: its slots, its questions (response keys) and its step numbers.

Slots read and set: ``failed_attempts`` (a rejected answer counts one more; after
``FAILURES_BEFORE_SIMPLER`` the question is asked another way, see :class:`AskStep`) and
``requested_slot`` (emptied when a form is cancelled).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

FAILURES_BEFORE_SIMPLER = 2

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACES = re.compile(r"[ \t]+")


def clean_text(value: Any) -> str | None:
    """Normalise what a citizen typed; anything that is not text counts as no answer."""
    if not isinstance(value, str):
        return None
    text = _SPACES.sub(" ", _CONTROL_CHARACTERS.sub("", value)).strip()
    return text or None


def choice_payload(value: str) -> str:
    """A button payload that fills the requested slot through the ``choice`` entity."""
    return "/choose_option" + json.dumps({"choice": value})


def latest_intent(tracker: Tracker) -> str | None:
    """The intent of the message being answered, if the NLU gave one."""
    name = (tracker.latest_message.get("intent") or {}).get("name")
    return name if isinstance(name, str) else None


def failures(tracker: Tracker) -> int:
    value = tracker.get_slot("failed_attempts")
    return int(value) if isinstance(value, (int, float)) else 0


def failed(tracker: Tracker, slot: str, **values: Any) -> dict[str, Any]:
    """Slot values for a rejected answer: the slot stays empty and the failure is counted."""
    return {slot: None, "failed_attempts": float(failures(tracker) + 1), **values}


def cleared(slots: Iterable[str]) -> list[EventType]:
    """Events that empty every one of ``slots``."""
    return [SlotSet(slot, None) for slot in slots]


def tell_problem(
    dispatcher: CollectingDispatcher, tracker: Tracker, response: str, **values: Any
) -> None:
    """Say what was wrong with an answer, unless the re-ask that follows says it anyway.

    From the ``FAILURES_BEFORE_SIMPLER``-th failed answer on, the step is asked another way
    (see :class:`AskStep`), so saying the same problem again would only repeat it.
    """
    if failures(tracker) < FAILURES_BEFORE_SIMPLER:
        dispatcher.utter_message(response=response, **values)


def retrying(tracker: Tracker) -> bool:
    """Whether the open step is asked the other way this time.

    After two failed answers, and every second one after that: the plain question and the
    other way take turns, so no question is sent three times in a row.
    """
    count = failures(tracker)
    return count >= FAILURES_BEFORE_SIMPLER and count % 2 == 0


def numbered(options: Iterable[tuple[str, str]]) -> str:
    """Options as a short numbered list, one per line: what a citizen can answer by number."""
    return "\n".join(f"{index}. {title}" for index, (_, title) in enumerate(options, 1))


class AskStep:
    """The form engine's ``action_ask_<slot>``: asks a step, or asks it another way.

    By itself it asks ``response`` with the step numbers and ``details``. After
    ``FAILURES_BEFORE_SIMPLER`` failed answers (and every second failure after that) it asks
    the other way: first the ways out (``simpler_response``: a person, going back, skipping
    where the step may be skipped), then the step's ``options`` as a numbered list to answer
    by number (under the step's own ``question`` from :meth:`details`, where it has one), or
    for a step without options its ``<response>_again`` wording. An ask action
    with more to it overrides ``run`` and calls :meth:`ask_again` first.
    Not an ``Action`` itself, so the action server does not register it: a concrete ask
    action is ``class ActionAskSomething(<form's AskStep>, Action)``.
    """

    slot = ""
    response = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    def step(self, tracker: Tracker) -> dict[str, int]:
        """``step`` and ``total`` for the question's "step n of m"."""
        raise NotImplementedError

    def simpler_response(self) -> str:
        """The ways out said before the step is asked another way."""
        raise NotImplementedError

    def details(self, tracker: Tracker) -> dict[str, Any]:
        """More values for the question (its buttons, what it fills in); none by default."""
        return {}

    def options(self, tracker: Tracker) -> list[tuple[str, str]]:
        """The step's choices as ``(payload value, title)``, for the numbered re-ask."""
        return []

    def ask_again(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        options: list[tuple[str, str]] | None = None,
    ) -> bool:
        """Ask the other way when it is time to (see :func:`retrying`); True if it did.

        ``options`` stands in for :meth:`options` where the caller has already read them.
        """
        if not retrying(tracker):
            return False
        dispatcher.utter_message(response=self.simpler_response())
        options = self.options(tracker) if options is None else options
        if options:
            # A step whose question is data (a service's own question) says it again above
            # the list, so a citizen who lost track sees what the numbers answer.
            question = self.details(tracker).get("question")
            extra = {"question": question} if isinstance(question, str) and question else {}
            dispatcher.utter_message(
                response="utter_ask_numbered_question" if extra else "utter_ask_numbered",
                numbered=numbered(options),
                **extra,
                buttons=[{"title": t, "payload": choice_payload(v)} for v, t in options],
                **self.step(tracker),
            )
        else:
            dispatcher.utter_message(
                response=f"{self.response}_again",
                **self.details(tracker),
                **self.step(tracker),
            )
        return True

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if not self.ask_again(dispatcher, tracker):
            dispatcher.utter_message(
                response=self.response, **self.details(tracker), **self.step(tracker)
            )
        return []


class CancelForm:
    """The shared part of a form's cancel action: says ``response``, stops the form and
    empties ``form_slots``; nothing is sent. Not an ``Action`` itself (see :class:`AskStep`).
    """

    response = ""
    form_slots: tuple[str, ...] = ()

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(response=self.response)
        return [ActiveLoop(None), SlotSet("requested_slot", None), *cleared(self.form_slots)]
