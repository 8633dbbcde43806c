"""The intake's questions: one ``action_ask_<slot>`` per step, on the form engine's AskStep.

Each says where the citizen is ("Step n of m", ``steps.py``) and offers the step's buttons;
after two failed answers the engine asks the other way (numbered options, a person, skip
where the step may be skipped).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.attribute_answers import choices, display_answer
from actions.catalogue_language import button_title, in_chinese
from actions.form_steps import AskStep, choice_payload
from actions.open311_client import BackOfficeUnavailable
from actions.report_issue.contact_step import contact_summary
from actions.report_issue.service_step import catalogue_groups, offered_services
from actions.report_issue.state import (
    ALL_DONE,
    ANONYMOUS,
    BEST_MATCHES,
    BROWSE_TOPICS,
    CHANGE,
    CONTACT,
    GROUP_PREFIX,
    MORE_SERVICES,
    NO_SERVICE_FITS,
    SKIPPABLE_STEPS,
    SUBMIT,
    adding_to,
    answers_of,
    candidates_of,
    pending_questions,
    prompt_of,
    questions_of,
    service_page,
)
from actions.report_issue.steps import step_number, total_steps
from actions.report_issue.submission import checked_photo

# The service step's moves and their titles (catalogue_language.BUTTON_TITLES), in the
# order they are matched in.
MOVE_TITLES = {
    MORE_SERVICES: "more_services",
    BROWSE_TOPICS: "browse_topics",
    NO_SERVICE_FITS: "no_service_fits",
    BEST_MATCHES: "best_matches",
}


class _AskStep(AskStep):
    """The intake's ask actions: its step numbers and its ways out."""

    def step(self, tracker: Tracker) -> dict[str, int]:
        return {"step": step_number(tracker, self.slot), "total": total_steps(tracker)}

    def simpler_response(self) -> str:
        # Skip is offered only where the step may be skipped.
        return "utter_ask_simpler" if self.slot in SKIPPABLE_STEPS else "utter_ask_simpler_required"


class ActionAskIssueDescription(_AskStep, Action):
    slot = "issue_description"
    response = "utter_ask_issue_description"


class ActionAskServiceCode(_AskStep, Action):
    """The best matches (a page at a time), a topic's services, or the topics."""

    slot = "service_code"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        browse = tracker.get_slot("service_browse")
        kind, values = "matches", {}
        if isinstance(browse, str) and browse.startswith(GROUP_PREFIX):
            kind, values = "group", {"group": browse.removeprefix(GROUP_PREFIX)}
        elif browse == BROWSE_TOPICS:
            kind = "topics"
        options = await self._options(tracker)
        if options is None:  # the catalogue's groups could not be read
            kind, options = "matches", self._matches_only(tracker)
        if self.ask_again(dispatcher, tracker, options):
            return []
        services = [(value, title) for value, title in options if value not in MOVE_TITLES]
        moves = [(value, title) for value, title in options if value in MOVE_TITLES]
        response = {
            "matches": "utter_ask_service_code"
            if service_page(tracker) == 0
            else "utter_ask_service_code_more",
            "topics": "utter_ask_service_group",
            "group": "utter_ask_service_in_group",
        }[kind]
        dispatcher.utter_message(
            response=response, buttons=_buttons(services), **values, **self.step(tracker)
        )
        dispatcher.utter_message(response="utter_service_step_moves", buttons=_buttons(moves))
        return []

    def _matches_only(self, tracker: Tracker) -> list[tuple[str, str]]:
        return [*candidates_of(tracker)[:3], *_moves(MORE_SERVICES, NO_SERVICE_FITS)]

    async def _options(self, tracker: Tracker) -> list[tuple[str, str]] | None:
        """What the citizen can choose now, services first, in the order typed answers
        are matched in (``service_step._typed_choice``)."""
        browse = tracker.get_slot("service_browse")
        if isinstance(browse, str):
            try:
                groups = await catalogue_groups()
            except BackOfficeUnavailable:
                return None
            if browse == BROWSE_TOPICS:
                return [(GROUP_PREFIX + g, g) for g in groups] + _moves(BEST_MATCHES)
            services = groups.get(browse.removeprefix(GROUP_PREFIX))
            if services is not None:
                return [*services, *_moves(BROWSE_TOPICS, NO_SERVICE_FITS)]
        shown = await offered_services(tracker)
        return [*shown, *_moves(MORE_SERVICES, BROWSE_TOPICS, NO_SERVICE_FITS)]


def _moves(*moves: str) -> list[tuple[str, str]]:
    return [(move, button_title(MOVE_TITLES[move])) for move in moves]


def _buttons(options: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"title": title, "payload": choice_payload(value)} for value, title in options]


class ActionAskAttributeAnswer(_AskStep, Action):
    """The chosen service's next unanswered question, with its options as buttons."""

    slot = "attribute_answer"
    response = "utter_ask_attribute_answer"

    def options(self, tracker: Tracker) -> list[tuple[str, str]]:
        pending = pending_questions(tracker)
        return choices(pending[0]) if pending else []

    def details(self, tracker: Tracker) -> dict[str, Any]:
        pending = pending_questions(tracker)
        question = pending[0] if pending else {"question": "", "hint": ""}
        return {"question": question["question"], "hint": question.get("hint") or ""}

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if not pending_questions(tracker) or self.ask_again(dispatcher, tracker):
            return []
        question = pending_questions(tracker)[0]
        chosen = answers_of(tracker).get(question["code"]) if adding_to(tracker) else None
        if chosen:
            others = [(key, name) for key, name in choices(question) if key not in chosen]
            dispatcher.utter_message(
                response="utter_ask_attribute_more",
                question=question["question"],
                chosen=display_answer(question, chosen),
                buttons=_buttons([*others, (ALL_DONE, button_title("all_done"))]),
                **self.step(tracker),
            )
            return []
        details = self.details(tracker)
        dispatcher.utter_message(
            response="utter_ask_attribute_answer_hint"
            if details["hint"]
            else "utter_ask_attribute_answer",
            buttons=_buttons(self.options(tracker)),
            **details,
            **self.step(tracker),
        )
        return []


class _AskInServiceWords(_AskStep):
    """A step the chosen service may word itself (``location_question``, ``photo_question``)."""

    own_response = ""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if self.ask_again(dispatcher, tracker):
            return []
        own = prompt_of(tracker, self.slot)
        dispatcher.utter_message(
            response=self.own_response if own else self.response,
            question=own or "",
            **self.step(tracker),
        )
        return []


class ActionAskIssueLocation(_AskInServiceWords, Action):
    slot = "issue_location"
    response = "utter_ask_issue_location"
    own_response = "utter_ask_issue_location_own"


class ActionAskIssuePhoto(_AskInServiceWords, Action):
    slot = "issue_photo"
    response = "utter_ask_issue_photo"
    own_response = "utter_ask_issue_photo_own"


class ActionAskContactChoice(_AskStep, Action):
    slot = "contact_choice"
    response = "utter_ask_contact_choice"

    def options(self, tracker: Tracker) -> list[tuple[str, str]]:
        return [
            (ANONYMOUS, button_title("reply_in_chat")),
            (CONTACT, button_title("give_contact")),
        ]


class ActionAskContactDetails(_AskStep, Action):
    slot = "contact_details"
    response = "utter_ask_contact_details"


class ActionAskContactName(_AskStep, Action):
    slot = "contact_name"
    response = "utter_ask_contact_name"


# An answer after its question in the summary, by whether the conversation is in Chinese.
_ANSWER_FORMAT = {False: " {}.", True: "{}。"}
# The summary, by (a photo is attached, the citizen may be contacted).
_SUMMARY = {
    (False, False): "utter_ask_confirm_submission",
    (True, False): "utter_ask_confirm_submission_with_photo",
    (False, True): "utter_ask_confirm_submission_with_contact",
    (True, True): "utter_ask_confirm_submission_with_photo_and_contact",
}


class ActionAskConfirmSubmission(_AskStep, Action):
    slot = "confirm_submission"

    def options(self, tracker: Tracker) -> list[tuple[str, str]]:
        return [(SUBMIT, button_title("send_it")), (CHANGE, button_title("change_something"))]

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if self.ask_again(dispatcher, tracker):
            return []
        answers = answers_of(tracker)
        # Each question and its answer, with the full stop of the conversation's language.
        answered = _ANSWER_FORMAT[in_chinese()]
        details = ("" if in_chinese() else " ").join(
            q["question"] + answered.format(display_answer(q, answers[q["code"]]))
            for q in questions_of(tracker)
            if q["code"] in answers
        )
        photo, _ = checked_photo(tracker.get_slot("issue_photo"))
        contact = contact_summary(tracker)
        place = tracker.get_slot("issue_location")
        response = _SUMMARY[bool(photo), bool(contact)]
        dispatcher.utter_message(
            # A service that needs no place has none to show.
            response=response if place else f"{response}_without_place",
            contact=contact or "",
            service_name=tracker.get_slot("service_name") or "",
            # The summary puts its own full stop after it.
            issue_description=(tracker.get_slot("issue_description") or "").rstrip(" ."),
            issue_location=place or "",
            details=f"{'' if in_chinese() else ' '}{details}" if details else "",
            **self.step(tracker),
        )
        return []
