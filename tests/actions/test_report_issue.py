"""Unit tests of the free-text-first intake: start, validation, questions, summary, filing."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import dependencies
from actions.attribute_answers import question_from_attribute
from actions.catalogue_language import BUTTON_TITLES, catalogue_locale
from actions.contact_details import ContactDetails, read_contact
from actions.form_steps import choice_payload
from actions.open311_client import ServiceMatch
from actions.outbox import Outbox
from actions.report_issue import (
    ActionAnswerStrayReply,
    ActionAskAttributeAnswer,
    ActionAskConfirmSubmission,
    ActionAskContactChoice,
    ActionAskContactDetails,
    ActionAskContactName,
    ActionAskIssueDescription,
    ActionAskIssueLocation,
    ActionAskIssuePhoto,
    ActionAskServiceCode,
    ActionCancelComplaint,
    ActionStartIntake,
    ActionSubmitComplaint,
    ValidateIntakeForm,
    location_in,
    says_what_is_wrong,
)
from actions.report_issue.state import ALL_DONE
from actions.report_issue.steps import step_number, total_steps
from open311_schema import (
    MAX_DESCRIPTION_CHARS,
    AttributeValue,
    ServiceAttribute,
    ServiceDefinition,
)
from tests.conftest import make_tracker
from tests.fakes import FakeOpen311, list_attribute, number_attribute, service
from tests.test_domain import DOMAIN as DOMAIN_FILE

DOMAIN: dict[str, Any] = {}
POSITION = list_attribute("position", 1, "road", "pavement")
DEPTH = number_attribute("depth", 2)
POTHOLE_QUESTIONS = [question_from_attribute(POSITION), question_from_attribute(DEPTH)]


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [message.get("response") for message in dispatcher.messages]


def slot_values(events: list[Any]) -> dict[str, Any]:
    return {event["name"]: event["value"] for event in events if event.get("event") == "slot"}


@pytest.fixture
def pothole_questions(catalogue: FakeOpen311) -> FakeOpen311:
    catalogue.definitions["pothole"] = ServiceDefinition("pothole", (POSITION, DEPTH))
    return catalogue


# --- starting from the first message -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the street lamp outside no. 12 Jiefang Road has been dark for a week", True),
        ("pothole on my street", True),
        ("I want to report a problem", False),
        ("i'd like to make a complaint", False),
        ("apply for a service", False),
    ],
)
def test_only_an_opening_that_says_what_is_wrong_counts_as_description(
    text: str, expected: bool
) -> None:
    assert says_what_is_wrong(text) is expected


@pytest.mark.parametrize(
    ("text", "intake"),
    [
        (
            "I came here from India 4 months back. I am having Indian driving licence, can I "
            "change it to local one?",
            True,
        ),
        ("yes", False),
        ("no, go back to the start", False),
        ("change that one please", False),
        ('/choose_option{"choice": "submit"}', False),
        # Chinese, written without spaces: a run is several words.
        ("这个月电费比平时翻了一倍 肯定哪里搞错了吧", True),
        ("不对 回到上一步", False),
        ("我不想继续了 先这样吧", False),
    ],
)
async def test_a_stray_answer_that_says_a_matter_starts_the_intake(text: str, intake: bool) -> None:
    dispatcher = CollectingDispatcher()

    events = await ActionAnswerStrayReply().run(dispatcher, make_tracker({}, text=text), DOMAIN)

    if intake:
        assert events == [FollowupAction("action_start_intake")]
        assert dispatcher.messages == []
    else:
        assert events == []
        assert responses(dispatcher) == ["utter_anything_else"]


async def test_first_message_becomes_description_and_its_location_is_kept(
    catalogue: FakeOpen311,
) -> None:
    text = "the street lamp outside no. 12 Jiefang Road has been dark for a week"
    tracker = make_tracker(
        {}, text=text, entities=[{"entity": "location", "value": "12 Jiefang Road"}]
    )

    events = await ActionStartIntake().run(CollectingDispatcher(), tracker, DOMAIN)

    values = slot_values(events)
    assert values["issue_description"] == text
    assert values["issue_location"] == "12 Jiefang Road"
    assert values["intake_kind"] == "report_issue"


def located(text: str, span: str) -> dict[str, Any]:
    """A message whose location entity is ``span`` (start/end offsets as the CRF gives them)."""
    start = text.index(span)
    entity = {"entity": "location", "value": span, "start": start, "end": start + len(span)}
    return {"text": text, "entities": [entity]}


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        (
            "the street lamp outside no. 12 Jiefang Road has been dark for a week",
            "Jiefang Road",
            "no. 12 Jiefang Road",
        ),
        ("pothole at 12 Jiefang Road", "Jiefang Road", "12 Jiefang Road"),
        ("bin not emptied at number 7b Elm St", "Elm St", "number 7b Elm St"),
        ("lamp dark on Jiefang Road 12 since monday", "Jiefang Road", "Jiefang Road 12"),
        ("lamp dark on Jiefang Road, no. 12", "Jiefang Road", "Jiefang Road, no. 12"),
        ("pothole in Jiefang Road for 3 weeks", "Jiefang Road", "Jiefang Road"),
        ("pothole near 12 Jiefang Road", "12 Jiefang Road", "12 Jiefang Road"),
    ],
)
def test_the_house_number_stays_with_the_street(text: str, span: str, expected: str) -> None:
    assert location_in(located(text, span)) == expected


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        (
            "big branch down in the park, its right across the path by the swings",
            "across the path by the swings",
            None,
        ),
        ("the bench in the park is broken", "in the park", None),
        ("dog mess all over victoria park", "victoria park", None),
        ("broken glass all over the main road", "the main road", None),
        (
            "dog mess behind Orchard Primary again",
            "behind Orchard Primary",
            "behind Orchard Primary",
        ),
        ("lamp out on grange road", "grange road", "grange road"),
        ("lift broken at Westgate library", "Westgate library", "Westgate library"),
    ],
)
def test_a_place_said_in_passing_is_kept_only_if_it_names_somewhere(
    text: str, span: str, expected: str | None
) -> None:
    assert location_in(located(text, span)) == expected


async def test_the_opening_keeps_the_house_number(catalogue: FakeOpen311) -> None:
    text = "the street lamp outside no. 12 Jiefang Road has been dark for a week"
    message = located(text, "Jiefang Road")
    tracker = make_tracker({}, text=text, entities=message["entities"])

    events = await ActionStartIntake().run(CollectingDispatcher(), tracker, DOMAIN)

    assert slot_values(events)["issue_location"] == "no. 12 Jiefang Road"


@pytest.mark.parametrize(
    ("step", "change", "emptied"),
    [
        ("issue_location", "change_issue_description", {"issue_description": None}),
        ("service_code", "change_issue_description", {"issue_description": None}),
        (
            "attribute_answer",
            "change_service_code",
            {"service_code": None, "service_attributes": {}},
        ),
        (
            "issue_photo",
            "change_issue_location",
            {"issue_location": None, "issue_coordinates": None},
        ),
    ],
)
async def test_change_is_taken_at_every_step(
    catalogue: FakeOpen311, step: str, change: str, emptied: dict[str, Any]
) -> None:
    tracker = make_tracker(
        {"requested_slot": step, "issue_description": "lamp dark", "service_code": change},
        text="",
        intent="choose_option",
        entities=[{"entity": "choice", "value": change}],
        active_loop="intake_form",
    )
    dispatcher = CollectingDispatcher()

    values = slot_values(await ValidateIntakeForm().run(dispatcher, tracker, DOMAIN))

    assert values.items() >= {**emptied, step: None, "failed_attempts": 0.0}.items()
    assert dispatcher.messages == [], "the form asks the emptied step next"


async def test_generic_opening_leaves_the_description_to_ask(catalogue: FakeOpen311) -> None:
    tracker = make_tracker({}, text="I want to report a problem")

    events = await ActionStartIntake().run(CollectingDispatcher(), tracker, DOMAIN)

    assert slot_values(events)["issue_description"] is None


async def test_a_crafted_payload_is_never_taken_as_the_description(catalogue: FakeOpen311) -> None:
    tracker = make_tracker({}, text='/report_issue{"service_code": "street_light"}')

    events = await ActionStartIntake().run(CollectingDispatcher(), tracker, DOMAIN)

    assert slot_values(events)["issue_description"] is None


# --- validation, step by step --------------------------------------------------------------


async def validate(
    slot: str,
    value: Any,
    slots: dict[str, Any] | None = None,
    *,
    intent: str = "report_issue",
) -> tuple[dict[str, Any], CollectingDispatcher]:
    """Validates ``value`` as the citizen typed it (the message's text is the value)."""
    text = value if isinstance(value, str) else ""
    return await _validate(slot, value, slots, text=text, intent=intent)


async def press(
    slot: str, value: str, slots: dict[str, Any] | None = None
) -> tuple[dict[str, Any], CollectingDispatcher]:
    """Validates ``value`` as a button press: the message is the button's payload."""
    return await _validate(slot, value, slots, text=choice_payload(value), intent="choose_option")


async def _validate(
    slot: str, value: Any, slots: dict[str, Any] | None, *, text: str, intent: str
) -> tuple[dict[str, Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    method = getattr(ValidateIntakeForm(), f"validate_{slot}")
    tracker = make_tracker(
        {slot: value, **(slots or {})}, text=text, intent=intent, active_loop="intake_form"
    )
    return await method(value, dispatcher, tracker, DOMAIN), dispatcher


async def test_description_is_cleaned_and_matching_services_offered(
    catalogue: FakeOpen311,
) -> None:
    result, dispatcher = await validate("issue_description", " Street lamp\x00 dark  again ")

    assert result["issue_description"] == "Street lamp dark again"
    assert result["service_candidates"][0] == ["street_light", "Street light out"]
    assert dispatcher.messages == []


async def test_back_office_search_is_used_when_it_exists(catalogue: FakeOpen311) -> None:
    catalogue.with_extensions = True
    catalogue.search_results = [ServiceMatch("pothole", "Pothole or road damage", 0.9)]

    result, _ = await validate("issue_description", "the lamp is dark")

    assert result["service_candidates"] == [["pothole", "Pothole or road damage"]]


async def test_without_the_catalogue_the_fallback_service_is_used(catalogue: FakeOpen311) -> None:
    catalogue.unavailable = True

    result, _ = await validate("issue_description", "the lamp is dark")

    assert result["service_code"] == "other_problem"
    assert result["service_questions"] == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ok", "utter_issue_description_too_short"),
        ("a" * (MAX_DESCRIPTION_CHARS + 1), "utter_issue_description_too_long"),
        ({"service_code": "X"}, "utter_issue_description_too_short"),
    ],
)
async def test_bad_descriptions_are_asked_again_and_counted(
    catalogue: FakeOpen311, value: Any, problem: str
) -> None:
    result, dispatcher = await validate("issue_description", value, {"failed_attempts": 1.0})

    assert result["issue_description"] is None
    assert result["failed_attempts"] == 2.0
    assert responses(dispatcher) == [problem]


async def test_choosing_a_service_loads_its_required_questions(
    pothole_questions: FakeOpen311,
) -> None:
    optional = list_attribute("colour", 3, "red", required=False)
    pothole_questions.definitions["pothole"] = ServiceDefinition(
        "pothole", (POSITION, DEPTH, optional)
    )

    result, _ = await press("service_code", "pothole")

    assert result["service_code"] == "pothole"
    assert result["service_name"] == "Pothole or road damage"
    assert [q["code"] for q in result["service_questions"]] == ["position", "depth"]
    assert result["service_attributes"] == {}
    assert result["service_needs_location"] is True
    assert result["service_prompts"] == {"issue_location": None, "issue_photo": None}


async def test_a_number_picks_from_the_buttons_shown(catalogue: FakeOpen311) -> None:
    candidates = [["pothole", "Pothole or road damage"], ["street_light", "Street light out"]]

    result, _ = await validate("service_code", "2", {"service_candidates": candidates})

    assert result["service_code"] == "street_light"


async def test_see_others_turns_the_page(catalogue: FakeOpen311) -> None:
    result, dispatcher = await press("service_code", "more", {"service_page": 0.0})

    assert result == {"service_code": None, "service_page": 1.0, "service_browse": None}
    assert dispatcher.messages == []


async def test_none_of_these_files_under_the_fallback(catalogue: FakeOpen311) -> None:
    result, _ = await press("service_code", "none")

    assert result["service_code"] == "other_problem"


@pytest.mark.parametrize("value", ["not_in_catalogue", "Robert'); DROP TABLE", "/affirm"])
async def test_a_service_outside_the_catalogue_is_refused(
    catalogue: FakeOpen311, value: str
) -> None:
    result, dispatcher = await press("service_code", value)

    assert result["service_code"] is None
    assert responses(dispatcher) == ["utter_service_not_recognised"]


async def test_required_slots_ask_attributes_only_while_some_are_open(
    catalogue: FakeOpen311,
) -> None:
    form = ValidateIntakeForm()
    dispatcher = CollectingDispatcher()
    open_questions = make_tracker({"service_questions": POTHOLE_QUESTIONS})
    answered = make_tracker(
        {
            "service_questions": POTHOLE_QUESTIONS,
            "service_attributes": {"position": ["road"], "depth": ["5"]},
        }
    )

    assert "attribute_answer" in await form.required_slots([], dispatcher, open_questions, {})
    assert await form.required_slots([], dispatcher, answered, {}) == [
        "issue_description",
        "service_code",
        "issue_location",
        "contact_choice",
        "confirm_submission",
    ]


async def test_attribute_answers_are_checked_by_datatype_in_order(catalogue: FakeOpen311) -> None:
    slots = {"service_questions": POTHOLE_QUESTIONS}

    first, _ = await validate("attribute_answer", "/choose_option", slots)
    chosen, _ = await validate("attribute_answer", "pavement", slots)
    not_a_number, dispatcher = await validate(
        "attribute_answer", "quite deep", {**slots, "service_attributes": {"position": ["road"]}}
    )
    number, _ = await validate(
        "attribute_answer", "about 12", {**slots, "service_attributes": {"position": ["road"]}}
    )

    assert first["attribute_answer"] is None
    assert first["failed_attempts"] == 1.0
    assert chosen == {
        "attribute_answer": None,
        "service_attributes": {"position": ["pavement"]},
        "failed_attempts": 0.0,
    }
    assert responses(dispatcher) == ["utter_answer_not_a_number"]
    assert not_a_number["attribute_answer"] is None
    assert number["service_attributes"] == {"position": ["road"], "depth": ["12"]}


async def test_location_bounds(catalogue: FakeOpen311) -> None:
    accepted, _ = await validate("issue_location", "No. 12 Jiefang Road")
    too_short, short_dispatcher = await validate("issue_location", "x")
    too_long, long_dispatcher = await validate("issue_location", "y" * 501)

    assert accepted["issue_location"] == "No. 12 Jiefang Road"
    assert too_short["issue_location"] is None
    assert responses(short_dispatcher) == ["utter_issue_location_too_short"]
    assert too_long["issue_location"] is None
    assert responses(long_dispatcher) == ["utter_issue_location_too_long"]


async def test_confirmation_submit_change_and_what_to_change(catalogue: FakeOpen311) -> None:
    submit, _ = await press("confirm_submission", "submit")
    change, change_dispatcher = await press("confirm_submission", "change")
    location, _ = await press("confirm_submission", "change_issue_location")
    service, _ = await press("confirm_submission", "change_service_code")
    odd, odd_dispatcher = await press("confirm_submission", "change_service_request_id")

    assert submit["confirm_submission"] == "submit"
    assert change == {"confirm_submission": None}
    assert responses(change_dispatcher) == ["utter_ask_what_to_change"]
    assert location == {
        "confirm_submission": None,
        "issue_location": None,
        "issue_coordinates": None,
    }
    assert service["service_code"] is None
    assert service["service_attributes"] == {}
    assert odd["confirm_submission"] is None
    assert responses(odd_dispatcher) == ["utter_confirm_not_understood"]


# --- asking ----------------------------------------------------------------------------------


async def ask(action: Any, slots: dict[str, Any]) -> CollectingDispatcher:
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, make_tracker(slots, active_loop="intake_form"), DOMAIN)
    return dispatcher


async def test_service_question_offers_the_best_matches_as_buttons(catalogue: FakeOpen311) -> None:
    candidates = [[f"s{i}", f"Service {i}"] for i in range(5)]

    dispatcher = await ask(ActionAskServiceCode(), {"service_candidates": candidates})

    first = dispatcher.messages[0]
    assert first["response"] == "utter_ask_service_code"
    assert (first["step"], first["total"]) == (2, 5)
    assert [b["title"] for b in first["buttons"]] == ["Service 0", "Service 1", "Service 2"]
    assert first["buttons"][0]["payload"] == '/choose_option{"choice": "s0"}'
    moves = dispatcher.messages[1]
    assert moves["response"] == "utter_service_step_moves"
    assert [b["payload"] for b in moves["buttons"]] == [
        '/choose_option{"choice": "more"}',
        '/choose_option{"choice": "topics"}',
        '/choose_option{"choice": "none"}',
    ]


async def test_attribute_question_counts_steps_and_offers_choices(catalogue: FakeOpen311) -> None:
    dispatcher = await ask(
        ActionAskAttributeAnswer(),
        {"service_questions": POTHOLE_QUESTIONS, "service_attributes": {"position": ["road"]}},
    )

    [message] = dispatcher.messages
    assert message["question"] == "How many depth?"
    assert (message["step"], message["total"]) == (4, 7)
    assert message["buttons"] == []


OPEN_POSITION = {"service_questions": POTHOLE_QUESTIONS}
OPEN_DEPTH = {**OPEN_POSITION, "service_attributes": {"position": ["road"]}}


@pytest.mark.parametrize(
    ("action", "slots", "simpler", "other_way"),
    [
        (ActionAskIssueDescription(), {}, "utter_ask_simpler_required", "_again"),
        (ActionAskServiceCode(), {}, "utter_ask_simpler", "numbered"),
        (ActionAskAttributeAnswer(), OPEN_POSITION, "utter_ask_simpler_required", "_question"),
        (ActionAskAttributeAnswer(), OPEN_DEPTH, "utter_ask_simpler_required", "_again"),
        (ActionAskIssueLocation(), {}, "utter_ask_simpler_required", "_again"),
        (ActionAskIssuePhoto(), {}, "utter_ask_simpler", "_again"),
        (ActionAskContactChoice(), {}, "utter_ask_simpler", "numbered"),
        (ActionAskContactDetails(), {"contact_choice": "contact"}, "utter_ask_simpler", "_again"),
        (ActionAskContactName(), {"contact_choice": "contact"}, "utter_ask_simpler", "_again"),
        (ActionAskConfirmSubmission(), {}, "utter_ask_simpler_required", "numbered"),
    ],
)
async def test_after_two_failed_answers_every_step_is_asked_the_other_way(
    catalogue: FakeOpen311, action: Any, slots: dict[str, Any], simpler: str, other_way: str
) -> None:
    dispatcher = await ask(action, {**slots, "failed_attempts": 2.0})

    first, second = dispatcher.messages
    assert first["response"] == simpler, "skip is offered only where it works"
    buttons = [b["payload"] for b in DOMAIN_FILE["responses"][simpler][0]["buttons"]]
    assert ("/skip" in buttons) is (simpler == "utter_ask_simpler")
    # A step with options lists them by number; one without says its question more plainly.
    expected = {
        "_again": f"utter_ask_{action.slot}_again",
        "numbered": "utter_ask_numbered",
        # A service's own question is said again above its numbered options.
        "_question": "utter_ask_numbered_question",
    }[other_way]
    assert second["response"] == expected
    assert expected in DOMAIN_FILE["responses"]
    assert (second["step"], second["total"]) == (
        step_number(make_tracker(slots), action.slot),
        total_steps(make_tracker(slots)),
    )
    if other_way == "_question":
        assert second["question"] == POTHOLE_QUESTIONS[0]["question"]
    if expected.startswith("utter_ask_numbered"):
        lines = second["numbered"].split("\n")
        assert len(lines) == len(second["buttons"]) >= 2
        assert lines[0] == f"1. {second['buttons'][0]['title']}"


async def test_the_numbered_re_ask_lists_the_open_questions_options(
    catalogue: FakeOpen311,
) -> None:
    dispatcher = await ask(ActionAskAttributeAnswer(), {**OPEN_POSITION, "failed_attempts": 2.0})

    numbered = dispatcher.messages[1]
    assert numbered["numbered"] == "1. Road option\n2. Pavement option"
    assert [b["payload"] for b in numbered["buttons"]] == [
        '/choose_option{"choice": "road"}',
        '/choose_option{"choice": "pavement"}',
    ]
    assert (numbered["step"], numbered["total"]) == (3, 7)


async def test_the_third_failure_asks_plainly_and_the_fourth_the_other_way_again(
    catalogue: FakeOpen311,
) -> None:
    third = await ask(ActionAskIssueLocation(), {"failed_attempts": 3.0})
    fourth = await ask(ActionAskIssueLocation(), {"failed_attempts": 4.0})

    assert responses(third) == ["utter_ask_issue_location"]
    assert responses(fourth) == ["utter_ask_simpler_required", "utter_ask_issue_location_again"]


async def test_the_service_step_is_asked_the_other_way_even_when_the_topics_are_unreadable(
    catalogue: FakeOpen311,
) -> None:
    catalogue.unavailable = True
    candidates = [["pothole", "Pothole or road damage"], ["street_light", "Street light out"]]

    dispatcher = await ask(
        ActionAskServiceCode(),
        {"service_browse": "topics", "service_candidates": candidates, "failed_attempts": 2.0},
    )

    assert all(r in DOMAIN_FILE["responses"] for r in responses(dispatcher))
    assert responses(dispatcher) == ["utter_ask_simpler", "utter_ask_numbered"]


async def test_summary_shows_every_answer(catalogue: FakeOpen311) -> None:
    dispatcher = await ask(
        ActionAskConfirmSubmission(),
        {
            "service_name": "Pothole or road damage",
            "issue_description": "hole",
            "issue_location": "Main St 1",
            "service_questions": POTHOLE_QUESTIONS,
            "service_attributes": {"position": ["road"], "depth": ["5"]},
        },
    )

    [message] = dispatcher.messages
    assert message["response"] == "utter_ask_confirm_submission"
    assert message["details"] == " Which position? Road option. How many depth? 5."
    assert (message["step"], message["total"]) == (7, 7)


async def test_summary_ends_a_description_with_one_full_stop(catalogue: FakeOpen311) -> None:
    dispatcher = await ask(
        ActionAskConfirmSubmission(),
        {"service_name": "Dog fouling", "issue_description": "Dog mess every day. "},
    )

    [message] = dispatcher.messages
    assert message["issue_description"] == "Dog mess every day"


# --- filing ----------------------------------------------------------------------------------

COMPLETE = {
    "issue_description": "  The street lamp outside no. 12 has been dark for a week ",
    "issue_location": "12 Jiefang Road",
    "service_code": "street_light",
    "service_name": "Street light out",
    "service_questions": [],
    "service_attributes": {},
    "contact_choice": "anonymous",
    "confirm_submission": "submit",
}


async def submit(slots: dict[str, Any]) -> tuple[list[Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitComplaint().run(dispatcher, make_tracker(slots), DOMAIN)
    return events, dispatcher


async def test_files_the_confirmed_request_and_says_what_happens_next(
    catalogue: FakeOpen311, outbox: Outbox
) -> None:
    events, dispatcher = await submit(COMPLETE)

    [filed] = catalogue.filed
    assert filed.service_code == "street_light"
    assert filed.description == "The street lamp outside no. 12 has been dark for a week"
    assert filed.address_string == "12 Jiefang Road"
    assert responses(dispatcher) == ["utter_complaint_filed", "utter_what_happens_next"]
    assert dispatcher.messages[0]["service_request_id"] == "CD-TEST01"
    assert dispatcher.messages[0]["service_name"] == "Street light out"
    assert SlotSet("service_request_id", "CD-TEST01") in events
    assert SlotSet("issue_description", None) in events
    assert [m.get("text") for m in dispatcher.messages] == [None, None]
    assert [e.state for e in outbox.entries_for("citizen-1")] == ["delivered"]
    assert outbox.take_unannounced("citizen-1") == [], "the reference was already given"


async def test_answers_are_filed_as_open311_attributes(pothole_questions: FakeOpen311) -> None:
    await submit(
        {
            **COMPLETE,
            "service_code": "pothole",
            "service_questions": POTHOLE_QUESTIONS,
            "service_attributes": {"position": ["pavement"], "depth": ["7"]},
        }
    )

    assert pothole_questions.filed[0].attributes == {"position": ("pavement",), "depth": ("7",)}


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"issue_description": "x"}, "utter_issue_description_too_short"),
        ({"issue_location": ["a", "b"]}, "utter_issue_location_too_short"),
        ({"service_code": "made_up"}, "utter_service_not_recognised"),
        ({"service_code": "pothole"}, "utter_answer_not_a_choice"),
        ({"confirm_submission": None}, None),
    ],
)
async def test_submission_revalidates_every_slot(
    pothole_questions: FakeOpen311, changes: dict[str, Any], problem: str | None
) -> None:
    # A crafted `/intent{...}` message could set slots without the form's validation.
    events, dispatcher = await submit({**COMPLETE, **changes})

    assert pothole_questions.filed == []
    assert responses(dispatcher) == ([problem] if problem else [])
    assert FollowupAction("intake_form") in events


async def test_an_answer_not_in_the_definition_is_not_filed(pothole_questions: FakeOpen311) -> None:
    await submit(
        {
            **COMPLETE,
            "service_code": "pothole",
            "service_attributes": {"position": ["on the moon"], "depth": ["7"]},
        }
    )

    assert pothole_questions.filed == []


async def test_back_office_outage_queues_the_request_and_says_so(
    catalogue: FakeOpen311, outbox: Outbox
) -> None:
    catalogue.unavailable = True

    _, dispatcher = await submit(COMPLETE)

    assert responses(dispatcher) == ["utter_submission_queued"]
    [entry] = outbox.entries_for("citizen-1")
    assert entry.state == "pending"

    catalogue.unavailable = False
    outbox._clock = lambda: 10**10  # the retry is due
    await outbox.deliver_due(catalogue)
    start = CollectingDispatcher()
    await ActionStartIntake().run(start, make_tracker({}, text="hi there"), DOMAIN)

    assert len(catalogue.filed) == 1
    assert responses(start) == ["utter_queued_request_filed"]
    assert start.messages[0]["service_request_id"] == "CD-TEST01"


async def test_rejection_is_reported_plainly(catalogue: FakeOpen311) -> None:
    catalogue.reject_with = 400

    _, dispatcher = await submit(COMPLETE)

    assert responses(dispatcher) == ["utter_complaint_rejected"]


async def test_cancel_forgets_the_answers_and_stops_the_form(catalogue: FakeOpen311) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker({"issue_description": "dark lamp"}, active_loop="intake_form")

    events = await ActionCancelComplaint().run(dispatcher, tracker, DOMAIN)

    assert responses(dispatcher) == ["utter_complaint_cancelled"]
    assert ActiveLoop(None) in events
    assert SlotSet("issue_description", None) in events
    assert catalogue.filed == []


@pytest.mark.parametrize(
    ("text", "active_loop", "intake"),
    [
        (
            "We don't need the garden waste bin emptied any more. Can you stop it and stop "
            "charging me for it.",
            None,
            True,
        ),
        ("cancel", None, False),
        ("stop it, I don't want to send this about the garden waste bin", "intake_form", False),
    ],
)
async def test_a_cancel_with_nothing_going_on_that_says_a_matter_starts_the_intake(
    catalogue: FakeOpen311, text: str, active_loop: str | None, intake: bool
) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker({}, text=text, active_loop=active_loop)

    events = await ActionCancelComplaint().run(dispatcher, tracker, DOMAIN)

    assert (events == [FollowupAction("action_start_intake")]) is intake
    assert (responses(dispatcher) == ["utter_complaint_cancelled"]) is not intake


# --- shared locations and photos -------------------------------------------------------------

MEDIA_ID = "AbCdEfGhIjKlMnOpQrStUv"
LOCATION = {"location": {"latitude": 32.0603, "longitude": 118.7969}}


def photo_url() -> str:
    return f"{dependencies.get_settings().backoffice_url}/media/{MEDIA_ID}.png"


def photo_metadata() -> dict[str, Any]:
    return {"photo": {"media_id": MEDIA_ID, "media_url": photo_url()}}


async def run_validator(
    slots: dict[str, Any],
    *,
    text: str,
    intent: str,
    metadata: dict[str, Any] | None = None,
    extracted: dict[str, Any] | None = None,
) -> tuple[list[Any], CollectingDispatcher]:
    """Run the whole validation action; ``extracted`` are the slot candidates Rasa sends."""
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        {**slots, **(extracted or {})},
        text=text,
        intent=intent,
        metadata=metadata,
        active_loop="intake_form",
    )
    tracker.events.extend(
        {"event": "slot", "name": name, "value": value} for name, value in (extracted or {}).items()
    )
    return await ValidateIntakeForm().run(dispatcher, tracker, DOMAIN), dispatcher


AT_LOCATION = {
    "requested_slot": "issue_location",
    "issue_description": "The lamp is dark",
    "service_code": "street_light",
    "service_name": "Street light out",
    "service_questions": [],
    "service_attributes": {},
}


async def test_a_shared_location_answers_the_location_step(catalogue: FakeOpen311) -> None:
    events, dispatcher = await run_validator(
        AT_LOCATION, text="/share_location", intent="share_location", metadata=LOCATION
    )

    values = slot_values(events)
    assert values["issue_coordinates"] == [32.0603, 118.7969]
    assert values["issue_location"] == "32.060300, 118.796900"
    assert values["requested_slot"] == "contact_choice"
    assert dispatcher.messages == [], "the next step follows at once"


@pytest.mark.parametrize(
    "metadata",
    [None, {"location": {"latitude": 95.0, "longitude": 10.0}}, {"location": "here"}],
)
async def test_an_unusable_shared_location_asks_the_place_again(
    catalogue: FakeOpen311, metadata: dict[str, Any] | None
) -> None:
    events, dispatcher = await run_validator(
        AT_LOCATION, text="/share_location", intent="share_location", metadata=metadata
    )

    values = slot_values(events)
    assert responses(dispatcher) == ["utter_shared_location_invalid"]
    assert values.get("issue_coordinates") is None
    assert values.get("issue_location") is None
    assert values["failed_attempts"] == 1.0
    assert values["requested_slot"] == "issue_location"


async def test_typing_a_place_forgets_an_earlier_shared_one(catalogue: FakeOpen311) -> None:
    result, _ = await validate("issue_location", "12 Jiefang Road", {"issue_coordinates": [1, 2]})

    assert result["issue_location"] == "12 Jiefang Road"
    assert result["issue_coordinates"] is None


async def test_a_photo_is_kept_at_any_step_and_the_step_asked_again(
    catalogue: FakeOpen311,
) -> None:
    events, dispatcher = await run_validator(
        {"requested_slot": "issue_description"},
        text="/share_photo",
        intent="share_photo",
        metadata=photo_metadata(),
    )

    values = slot_values(events)
    assert values["issue_photo"] == photo_url()
    assert values["requested_slot"] == "issue_description"
    assert responses(dispatcher) == ["utter_photo_received"]


async def test_a_photo_with_a_caption_answers_the_step_too(catalogue: FakeOpen311) -> None:
    events, _ = await run_validator(
        {"requested_slot": "issue_description"},
        text="a deep hole in the road",
        intent="report_issue",
        metadata=photo_metadata(),
        extracted={"issue_description": "a deep hole in the road"},
    )

    values = slot_values(events)
    assert values["issue_photo"] == photo_url()
    assert values["issue_description"] == "a deep hole in the road"
    assert values["requested_slot"] == "service_code"


async def test_a_photo_from_elsewhere_is_refused(catalogue: FakeOpen311) -> None:
    foreign = {"photo": {"media_url": f"http://evil.example/media/{MEDIA_ID}.png"}}

    events, dispatcher = await run_validator(
        {"requested_slot": "issue_description"},
        text="/share_photo",
        intent="share_photo",
        metadata=foreign,
    )

    values = slot_values(events)
    assert "issue_photo" not in values
    assert responses(dispatcher) == ["utter_photo_not_usable"]
    assert values["failed_attempts"] == 1.0


async def test_the_photo_step_is_asked_only_where_the_catalogue_wants_one(
    catalogue: FakeOpen311,
) -> None:
    catalogue.photo_services = {"pothole"}
    form = ValidateIntakeForm()
    dispatcher = CollectingDispatcher()

    chosen, _ = await press("service_code", "pothole")
    other, _ = await press("service_code", "street_light")
    wants = make_tracker({"service_needs_photo": True})
    has_one = make_tracker({"service_needs_photo": True, "issue_photo": photo_url()})

    assert chosen["service_needs_photo"] is True
    assert other["service_needs_photo"] is False
    assert await form.required_slots([], dispatcher, wants, {}) == [
        "issue_description",
        "service_code",
        "issue_location",
        "issue_photo",
        "contact_choice",
        "confirm_submission",
    ]
    assert "issue_photo" not in await form.required_slots([], dispatcher, has_one, {})


async def test_the_photo_step_counts_and_offers_skip(catalogue: FakeOpen311) -> None:
    dispatcher = await ask(ActionAskIssuePhoto(), {"service_needs_photo": True})
    summary = await ask(ActionAskConfirmSubmission(), {"service_needs_photo": True})

    [message] = dispatcher.messages
    assert message["response"] == "utter_ask_issue_photo"
    assert (message["step"], message["total"]) == (4, 6)
    assert (summary.messages[0]["step"], summary.messages[0]["total"]) == (6, 6)


async def test_at_the_photo_step_text_asks_for_a_photo_and_no_skips(
    catalogue: FakeOpen311,
) -> None:
    text, text_dispatcher = await validate("issue_photo", "here it is")
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        {"issue_photo": "no"}, text="no", intent="deny", active_loop="intake_form"
    )
    declined = await ValidateIntakeForm().validate_issue_photo("no", dispatcher, tracker, DOMAIN)

    assert text["issue_photo"] is None
    assert responses(text_dispatcher) == ["utter_photo_expected"]
    assert declined["issue_photo"] == "skipped"


async def test_the_summary_says_a_photo_is_attached(catalogue: FakeOpen311) -> None:
    dispatcher = await ask(
        ActionAskConfirmSubmission(), {"issue_photo": photo_url(), "issue_location": "Main St 1"}
    )

    assert responses(dispatcher) == ["utter_ask_confirm_submission_with_photo"]


async def test_a_photo_or_a_place_can_start_the_intake(catalogue: FakeOpen311) -> None:
    photo_dispatcher = CollectingDispatcher()
    place_dispatcher = CollectingDispatcher()
    photo = make_tracker({}, text="/share_photo", intent="share_photo", metadata=photo_metadata())
    place = make_tracker({}, text="/share_location", intent="share_location", metadata=LOCATION)

    photo_events = await ActionStartIntake().run(photo_dispatcher, photo, DOMAIN)
    place_events = await ActionStartIntake().run(place_dispatcher, place, DOMAIN)

    assert slot_values(photo_events)["issue_photo"] == photo_url()
    assert slot_values(photo_events)["issue_description"] is None
    assert responses(photo_dispatcher) == ["utter_photo_received"]
    assert slot_values(place_events)["issue_coordinates"] == [32.0603, 118.7969]
    assert responses(place_dispatcher) == ["utter_location_received"]


async def test_a_shared_place_and_a_photo_are_filed_as_open311_fields(
    catalogue: FakeOpen311,
) -> None:
    await submit(
        {
            **COMPLETE,
            "issue_location": "32.060300, 118.796900",
            "issue_coordinates": [32.0603, 118.7969],
            "issue_photo": photo_url(),
        }
    )

    [filed] = catalogue.filed
    assert (filed.lat, filed.long) == (32.0603, 118.7969)
    assert filed.address_string is None
    assert filed.media_url == photo_url()
    assert ("media_url", photo_url()) in filed.to_form()


async def test_a_skipped_photo_files_none(catalogue: FakeOpen311) -> None:
    await submit({**COMPLETE, "issue_photo": "skipped"})

    assert catalogue.filed[0].media_url is None
    assert catalogue.filed[0].address_string == "12 Jiefang Road"


@pytest.mark.parametrize(
    ("changes", "problem", "cleared"),
    [
        ({"issue_coordinates": [91.0, 0.0]}, "utter_shared_location_invalid", "issue_location"),
        ({"issue_coordinates": ["32", "118"]}, "utter_shared_location_invalid", "issue_location"),
        (
            {"issue_photo": f"http://evil.example/media/{MEDIA_ID}.png"},
            "utter_photo_not_usable",
            "issue_photo",
        ),
        ({"issue_photo": "skipped please"}, "utter_photo_not_usable", "issue_photo"),
    ],
)
async def test_submission_rechecks_shared_place_and_photo(
    catalogue: FakeOpen311, changes: dict[str, Any], problem: str, cleared: str
) -> None:
    events, dispatcher = await submit({**COMPLETE, **changes})

    assert catalogue.filed == []
    assert responses(dispatcher) == [problem]
    assert SlotSet(cleared, None) in events
    assert FollowupAction("intake_form") in events


async def test_a_ticket_is_filed_under_this_chats_identity(catalogue: FakeOpen311) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(COMPLETE, sender_id="12345", input_channel="telegram")

    await ActionSubmitComplaint().run(dispatcher, tracker, DOMAIN)
    await submit(COMPLETE)  # no channel known: no identity

    assert [filed.account_id for filed in catalogue.filed] == ["telegram:12345", None]


async def test_an_unusable_photo_or_place_at_the_start_is_said_plainly(
    catalogue: FakeOpen311,
) -> None:
    dispatcher = CollectingDispatcher()
    foreign = {"photo": {"media_url": f"http://evil.example/media/{MEDIA_ID}.png"}}
    tracker = make_tracker({}, text="/share_photo", intent="share_photo", metadata=foreign)

    events = await ActionStartIntake().run(dispatcher, tracker, DOMAIN)

    assert slot_values(events)["issue_photo"] is None
    assert responses(dispatcher) == ["utter_photo_not_usable"]


# --- contact details or replies in this chat only ------------------------------------------


@pytest.mark.parametrize(
    ("text", "phone", "email"),
    [
        ("+86 138 0013 8000", "+86 138 0013 8000", None),
        ("call me on (0612) 345-678", "(0612) 345-678", None),
        ("jo.lin@example.com", None, "jo.lin@example.com"),
        ("0612345678 or jo@example.org", "0612345678", "jo@example.org"),
    ],
)
def test_a_phone_number_and_an_email_are_read_from_what_is_typed(
    text: str, phone: str | None, email: str | None
) -> None:
    assert read_contact(text) == ContactDetails(phone=phone, email=email, name=None)


@pytest.mark.parametrize(
    "text",
    [
        "12345",  # too short for a phone number
        "1234567890123456",  # longer than E.164 allows
        "jo@example",  # no domain ending
        "jo..lin@example.com",
        "jo@example.com and ann@example.com",  # which one?
        '/inform{"phone": "0612345678"}',
        "",
    ],
)
def test_what_is_not_a_phone_number_or_an_email_is_refused(text: str) -> None:
    assert read_contact(text) is None


def test_words_without_details_give_no_way_to_reach_the_citizen() -> None:
    details = read_contact("call me tomorrow")

    assert details is not None
    assert not details.usable


async def test_replies_in_this_chat_only_files_no_personal_field(catalogue: FakeOpen311) -> None:
    result, dispatcher = await validate(
        "contact_choice", "anonymous", {"contact_phone": "0612345678"}
    )

    assert result["contact_choice"] == "anonymous"
    assert result["contact_phone"] is None
    assert result["contact_details"] is None
    assert dispatcher.messages == []


async def test_choosing_contact_asks_the_details_and_the_name(catalogue: FakeOpen311) -> None:
    result, _ = await validate("contact_choice", "contact")
    tracker = make_tracker({"contact_choice": "contact"})

    assert result == {"contact_choice": "contact", "failed_attempts": 0.0}
    required = await ValidateIntakeForm().required_slots([], CollectingDispatcher(), tracker, {})
    assert required[-4:] == [
        "contact_choice",
        "contact_details",
        "contact_name",
        "confirm_submission",
    ]


async def test_an_email_typed_at_the_contact_question_answers_the_details_too(
    catalogue: FakeOpen311,
) -> None:
    result, _ = await validate("contact_choice", "jo@example.com")

    assert result["contact_choice"] == "contact"
    assert (result["contact_email"], result["contact_phone"]) == ("jo@example.com", None)
    assert result["contact_details"] == "jo@example.com"
    # The question invited a name with the details: none typed means none is asked for.
    assert result["contact_name"] == "no_name"


async def test_a_name_typed_with_the_details_at_the_contact_question_is_kept(
    catalogue: FakeOpen311,
) -> None:
    result, _ = await validate("contact_choice", "13912345678 Li Na")

    assert (result["contact_phone"], result["contact_name"]) == ("13912345678", "Li Na")


async def test_no_at_the_contact_question_means_replies_here(catalogue: FakeOpen311) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker({"contact_choice": "no"}, text="no", intent="deny")

    result = await ValidateIntakeForm().validate_contact_choice("no", dispatcher, tracker, DOMAIN)

    assert result["contact_choice"] == "anonymous"


async def test_an_unclear_contact_answer_is_asked_again(catalogue: FakeOpen311) -> None:
    result, dispatcher = await validate("contact_choice", "maybe later")

    assert result == {"contact_choice": None, "failed_attempts": 1.0}
    assert responses(dispatcher) == ["utter_contact_choice_not_understood"]


async def test_bad_contact_details_are_asked_again_in_plain_words(catalogue: FakeOpen311) -> None:
    result, dispatcher = await validate("contact_details", "jo at example dot com")

    assert result["contact_details"] is None
    assert result["failed_attempts"] == 1.0
    assert result["contact_phone"] is None
    assert result["contact_email"] is None
    assert responses(dispatcher) == ["utter_contact_details_invalid"]


async def test_good_contact_details_are_kept_as_typed(catalogue: FakeOpen311) -> None:
    result, dispatcher = await validate("contact_details", " 0612 345 678 ")

    assert result == {
        "contact_choice": "contact",
        "contact_details": "0612 345 678",
        "contact_phone": "0612 345 678",
        "contact_email": None,
        "failed_attempts": 0.0,
    }
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("Lin Mei", "Lin Mei"), ("Anne-Marie O'Neil", "Anne-Marie O'Neil"), ("no_name", "no_name")],
)
async def test_a_name_is_optional_and_checked(
    catalogue: FakeOpen311, typed: str, kept: str
) -> None:
    result, dispatcher = await validate("contact_name", typed)

    assert result == {"contact_name": kept, "failed_attempts": 0.0}
    assert dispatcher.messages == []


@pytest.mark.parametrize("typed", ["0612345678", "/choose_option", "x" * 101])
async def test_what_is_not_a_name_is_asked_again(catalogue: FakeOpen311, typed: str) -> None:
    result, dispatcher = await validate("contact_name", typed)

    assert result["contact_name"] is None
    assert responses(dispatcher) == ["utter_contact_name_invalid"]


async def test_the_contact_steps_count_and_say_who_sees_the_details(catalogue: FakeOpen311) -> None:
    choice = await ask(ActionAskContactChoice(), {})
    details = await ask(ActionAskContactDetails(), {"contact_choice": "contact"})
    name = await ask(ActionAskContactName(), {"contact_choice": "contact"})

    [asked] = choice.messages
    assert asked["response"] == "utter_ask_contact_choice"
    # Contact is one step, however many messages it takes.
    assert (asked["step"], asked["total"]) == (4, 5)
    assert (details.messages[0]["step"], details.messages[0]["total"]) == (4, 5)
    assert (name.messages[0]["step"], name.messages[0]["total"]) == (4, 5)
    question = DOMAIN_FILE["responses"]["utter_ask_contact_choice"][0]
    assert "never published" in question["text"]
    assert [b["title"] for b in question["buttons"]][:2] == [
        "Reply in this chat only",
        "Give a phone number or email",
    ]


CONTACT = {
    "contact_choice": "contact",
    "contact_details": "0612 345 678, jo@example.com",
    "contact_phone": "0612 345 678",
    "contact_email": "jo@example.com",
    "contact_name": "Lin Mei Hua",
}


async def test_the_summary_shows_the_contact_details(catalogue: FakeOpen311) -> None:
    dispatcher = await ask(ActionAskConfirmSubmission(), {**COMPLETE, **CONTACT})
    anonymous = await ask(ActionAskConfirmSubmission(), COMPLETE)

    [message] = dispatcher.messages
    assert message["response"] == "utter_ask_confirm_submission_with_contact"
    assert message["contact"] == "Lin Mei Hua, 0612 345 678, jo@example.com"
    assert responses(anonymous) == ["utter_ask_confirm_submission"]


async def test_contact_details_are_filed_as_open311_personal_fields(
    catalogue: FakeOpen311, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    await submit({**COMPLETE, **CONTACT})

    [filed] = catalogue.filed
    assert (filed.phone, filed.email) == ("0612 345 678", "jo@example.com")
    assert (filed.first_name, filed.last_name) == ("Lin", "Mei Hua")
    assert "345 678" not in caplog.text
    assert "jo@example.com" not in caplog.text
    assert "Lin" not in caplog.text


async def test_replies_here_only_files_no_personal_field_even_if_slots_were_injected(
    catalogue: FakeOpen311,
) -> None:
    await submit({**COMPLETE, **CONTACT, "contact_choice": "anonymous"})

    [filed] = catalogue.filed
    assert (filed.phone, filed.email, filed.first_name, filed.last_name) == (None,) * 4


@pytest.mark.parametrize(
    ("changes", "problem", "emptied"),
    [
        ({"contact_phone": "not a number"}, "utter_contact_details_invalid", "contact_phone"),
        ({"contact_email": "jo@"}, "utter_contact_details_invalid", "contact_email"),
        (
            {"contact_phone": None, "contact_email": None},
            "utter_contact_details_invalid",
            "contact_details",
        ),
        ({"contact_name": "<script>"}, "utter_contact_name_invalid", "contact_name"),
        ({"contact_choice": "everyone"}, "utter_contact_choice_not_understood", "contact_choice"),
        ({"contact_choice": None}, "utter_contact_choice_not_understood", "contact_choice"),
    ],
)
async def test_submission_rechecks_the_contact_details(
    catalogue: FakeOpen311, changes: dict[str, Any], problem: str, emptied: str
) -> None:
    events, dispatcher = await submit({**COMPLETE, **CONTACT, **changes})

    assert catalogue.filed == []
    assert responses(dispatcher) == [problem]
    values = slot_values(events)
    assert values[emptied] is None
    assert values["confirm_submission"] is None
    assert events[-1] == FollowupAction("intake_form")


async def test_change_reaches_the_contact_step(catalogue: FakeOpen311) -> None:
    result, _ = await press("confirm_submission", "change_contact_choice", CONTACT)

    assert result["confirm_submission"] is None
    assert all(result[slot] is None for slot in CONTACT)
    buttons = DOMAIN_FILE["responses"]["utter_ask_what_to_change"][0]["buttons"]
    assert '/choose_option{"choice": "change_contact_choice"}' in [b["payload"] for b in buttons]


# --- browsing the catalogue by topic ---------------------------------------------------------


async def test_the_moves_are_titled_in_the_conversations_language(catalogue: FakeOpen311) -> None:
    candidates = [["pothole", "Pothole or road damage"]]

    token = catalogue_locale.set("zh-Hans")
    try:
        dispatcher = await ask(ActionAskServiceCode(), {"service_candidates": candidates})
    finally:
        catalogue_locale.reset(token)

    titles = [b["title"] for b in dispatcher.messages[1]["buttons"]]
    assert titles == [
        BUTTON_TITLES[name]["zh-Hans"]
        for name in ("more_services", "browse_topics", "no_service_fits")
    ]


def test_every_button_title_the_actions_compose_has_both_languages() -> None:
    for name, titles in BUTTON_TITLES.items():
        assert set(titles) == {"en", "zh-Hans"}, name
        assert all(title.strip() for title in titles.values()), name


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("都不是", {"service_code": "other_problem"}),
        ("看看其他的", {"service_page": 1.0, "service_browse": None}),
        ("都不是，还有别的吗", {"service_page": 1.0, "service_browse": None}),
        ("none of these, any others?", {"service_page": 1.0, "service_browse": None}),
        ("按类别找吧", {"service_browse": "topics"}),
    ],
)
async def test_the_moves_are_taken_in_chinese_words(
    catalogue: FakeOpen311, typed: str, expected: dict[str, Any]
) -> None:
    candidates = [["pothole", "Pothole or road damage"]]

    result, _ = await validate("service_code", typed, {"service_candidates": candidates})

    assert result.items() >= expected.items()


async def test_a_chinese_summary_and_numbered_list_are_in_chinese(catalogue: FakeOpen311) -> None:
    slots = {
        "service_name": "坑洼",
        "issue_description": "路上有个坑",
        "issue_location": "体育西路12号",
        "service_questions": [{**POTHOLE_QUESTIONS[0], "question": "在哪个位置？"}],
        "service_attributes": {"position": ["road"]},
    }
    token = catalogue_locale.set("zh-Hans")
    try:
        summary = await ask(ActionAskConfirmSubmission(), slots)
        contact = await ask(ActionAskContactChoice(), {"failed_attempts": 2.0})
    finally:
        catalogue_locale.reset(token)

    assert summary.messages[0]["details"] == "在哪个位置？Road option。"
    numbered = contact.messages[-1]
    assert numbered["response"] == "utter_ask_numbered"
    assert [b["title"] for b in numbered["buttons"]] == ["只在本聊天回复", "留电话或邮箱"]


async def test_browse_by_topic_is_offered_with_the_best_matches(catalogue: FakeOpen311) -> None:
    candidates = [["pothole", "Pothole or road damage"]]

    dispatcher = await ask(ActionAskServiceCode(), {"service_candidates": candidates})

    moves = dispatcher.messages[1]
    assert moves["response"] == "utter_service_step_moves"
    assert {"title": "Browse by topic", "payload": '/choose_option{"choice": "topics"}'} in moves[
        "buttons"
    ]
    assert "utter_service_step_moves" in DOMAIN_FILE["responses"]
    for gone in (
        "utter_service_code_other_options",
        "utter_service_group_other_options",
        "utter_service_in_group_other_options",
    ):
        assert gone not in DOMAIN_FILE["responses"]


async def test_the_topics_are_the_catalogues_groups(catalogue: FakeOpen311) -> None:
    result, _ = await press("service_code", "topics")
    dispatcher = await ask(ActionAskServiceCode(), {"service_browse": "topics"})

    assert result["service_code"] is None
    assert result["service_browse"] == "topics"
    first = dispatcher.messages[0]
    assert first["response"] == "utter_ask_service_group"
    assert [(b["title"], b["payload"]) for b in first["buttons"]] == [
        ("general", '/choose_option{"choice": "group:general"}'),
        ("streets", '/choose_option{"choice": "group:streets"}'),
    ]
    moves = dispatcher.messages[1]
    assert moves["response"] == "utter_service_step_moves"
    assert [b["payload"] for b in moves["buttons"]] == ['/choose_option{"choice": "matches"}']


async def test_a_topic_lists_its_services_with_a_way_back(catalogue: FakeOpen311) -> None:
    by_button, _ = await press("service_code", "group:streets", {"service_browse": "topics"})
    by_number, _ = await validate("service_code", "2", {"service_browse": "topics"})
    dispatcher = await ask(ActionAskServiceCode(), {"service_browse": "group:streets"})

    assert by_button["service_browse"] == by_number["service_browse"] == "group:streets"
    first = dispatcher.messages[0]
    assert (first["response"], first["group"]) == ("utter_ask_service_in_group", "streets")
    assert [b["payload"] for b in first["buttons"]] == [
        '/choose_option{"choice": "pothole"}',
        '/choose_option{"choice": "street_light"}',
    ]
    moves = dispatcher.messages[1]
    assert moves["response"] == "utter_service_step_moves"
    assert [b["payload"] for b in moves["buttons"]] == [
        '/choose_option{"choice": "topics"}',
        '/choose_option{"choice": "none"}',
    ]


async def test_a_service_is_chosen_from_a_topic(catalogue: FakeOpen311) -> None:
    by_button, _ = await press("service_code", "street_light", {"service_browse": "group:streets"})
    by_number, _ = await validate("service_code", "1", {"service_browse": "group:streets"})

    assert by_button["service_code"] == "street_light"
    assert by_button["service_browse"] is None
    assert by_number["service_code"] == "pothole"


async def test_a_topic_button_pressed_later_still_opens_the_topic(catalogue: FakeOpen311) -> None:
    result, _ = await press("service_code", "group:general")

    assert result["service_browse"] == "group:general"
    assert result["service_code"] is None


async def test_an_unknown_topic_is_asked_again(catalogue: FakeOpen311) -> None:
    result, dispatcher = await press("service_code", "group:parks", {"service_browse": "topics"})

    assert result["service_code"] is None
    assert result["failed_attempts"] == 1.0
    assert responses(dispatcher) == ["utter_service_group_not_recognised"]


async def test_back_to_the_best_matches(catalogue: FakeOpen311) -> None:
    result, _ = await press("service_code", "matches", {"service_browse": "group:streets"})

    assert result == {"service_code": None, "service_page": 0.0, "service_browse": None}


# --- the start hands over to the form ----------------------------------------------------------


@pytest.mark.parametrize("text", ["pothole on my street", "I want to report a problem"])
async def test_the_start_runs_the_form_itself(catalogue: FakeOpen311, text: str) -> None:
    events = await ActionStartIntake().run(CollectingDispatcher(), make_tracker({}, text=text), {})

    assert events[-1] == FollowupAction("intake_form")


# --- services without a place, and services' own wording ---------------------------------------


@pytest.fixture
def permit(catalogue: FakeOpen311) -> FakeOpen311:
    """An application that needs no place, next to the street services."""
    catalogue.services.append(
        service("parking_permit", "Resident parking permit", "permit, parking", group="permits")
    )
    catalogue.placeless_services = {"parking_permit"}
    return catalogue


PERMIT = {
    "issue_description": "I need a parking permit for my street",
    "service_code": "parking_permit",
    "service_name": "Resident parking permit",
    "service_questions": [],
    "service_attributes": {},
    "service_needs_location": False,
    "service_needs_photo": False,
}


async def test_a_service_without_a_place_skips_the_place_step(permit: FakeOpen311) -> None:
    chosen, _ = await press("service_code", "parking_permit")
    street, _ = await press("service_code", "pothole")
    required = await ValidateIntakeForm().required_slots(
        [], CollectingDispatcher(), make_tracker(chosen), {}
    )

    assert chosen["service_needs_location"] is False
    assert street["service_needs_location"] is True
    assert required == [
        "issue_description",
        "service_code",
        "contact_choice",
        "confirm_submission",
    ]


async def test_the_summary_of_a_service_without_a_place_shows_none(permit: FakeOpen311) -> None:
    plain = await ask(ActionAskConfirmSubmission(), {**PERMIT, "contact_choice": "anonymous"})
    with_contact = await ask(ActionAskConfirmSubmission(), {**PERMIT, **CONTACT})
    choice = await ask(ActionAskContactChoice(), PERMIT)

    [message] = plain.messages
    assert message["response"] == "utter_ask_confirm_submission_without_place"
    assert message["response"] in DOMAIN_FILE["responses"]
    assert "{issue_location}" not in DOMAIN_FILE["responses"][message["response"]][0]["text"]
    assert (message["step"], message["total"]) == (4, 4)
    assert responses(with_contact) == ["utter_ask_confirm_submission_with_contact_without_place"]
    assert (choice.messages[0]["step"], choice.messages[0]["total"]) == (3, 4)


async def test_a_service_without_a_place_is_filed_without_one(permit: FakeOpen311) -> None:
    _, dispatcher = await submit(
        {**PERMIT, "contact_choice": "anonymous", "confirm_submission": "submit"}
    )

    [filed] = permit.filed
    assert (filed.address_string, filed.lat, filed.long) == (None, None, None)
    assert responses(dispatcher) == ["utter_complaint_filed", "utter_what_happens_next"]


async def test_a_service_with_a_place_is_not_filed_without_one(catalogue: FakeOpen311) -> None:
    events, dispatcher = await submit({**COMPLETE, "issue_location": None})

    assert catalogue.filed == []
    assert responses(dispatcher) == ["utter_issue_location_too_short"]
    assert FollowupAction("intake_form") in events


async def test_a_service_asks_for_the_place_and_photo_in_its_own_words(
    catalogue: FakeOpen311,
) -> None:
    catalogue.photo_services = {"pothole"}
    catalogue.location_questions = {"pothole": "Which road is the hole in?"}
    catalogue.photo_questions = {"pothole": "Can you send a photo of the hole?"}

    chosen, _ = await press("service_code", "pothole")
    place = await ask(ActionAskIssueLocation(), chosen)
    photo = await ask(ActionAskIssuePhoto(), chosen)
    plain = await ask(ActionAskIssueLocation(), {"service_code": "street_light"})

    assert chosen["service_prompts"] == {
        "issue_location": "Which road is the hole in?",
        "issue_photo": "Can you send a photo of the hole?",
    }
    [asked] = place.messages
    assert (asked["response"], asked["question"]) == (
        "utter_ask_issue_location_own",
        "Which road is the hole in?",
    )
    assert "{question}" in DOMAIN_FILE["responses"]["utter_ask_issue_location_own"][0]["text"]
    assert (photo.messages[0]["response"], photo.messages[0]["question"]) == (
        "utter_ask_issue_photo_own",
        "Can you send a photo of the hole?",
    )
    assert responses(plain) == ["utter_ask_issue_location"]


@pytest.mark.parametrize("prompts", [{"issue_location": "  "}, {"issue_location": 7}, "Where?"])
async def test_a_blank_or_odd_own_wording_falls_back_to_the_usual_question(
    catalogue: FakeOpen311, prompts: Any
) -> None:
    dispatcher = await ask(ActionAskIssueLocation(), {"service_prompts": prompts})

    assert responses(dispatcher) == ["utter_ask_issue_location"]


# --- "Step n of m" ----------------------------------------------------------------------------

ASK_ACTIONS: dict[str, Any] = {
    "issue_description": ActionAskIssueDescription(),
    "service_code": ActionAskServiceCode(),
    "attribute_answer": ActionAskAttributeAnswer(),
    "issue_location": ActionAskIssueLocation(),
    "issue_photo": ActionAskIssuePhoto(),
    "contact_choice": ActionAskContactChoice(),
    "contact_details": ActionAskContactDetails(),
    "contact_name": ActionAskContactName(),
    "confirm_submission": ActionAskConfirmSubmission(),
}


async def walk(
    slots: dict[str, Any], answers: dict[str, list[tuple[str, bool]]]
) -> list[tuple[str, int, int]]:
    """Goes through the form as Rasa does: asks the first empty required slot, validates the
    next answer for it (``(value, pressed)``) and keeps the slots it sets. Returns every
    question asked as ``(slot, step, total)``."""
    asked: list[tuple[str, int, int]] = []
    slots = dict(slots)
    for _ in range(20):
        required = await ValidateIntakeForm().required_slots(
            [], CollectingDispatcher(), make_tracker(slots), {}
        )
        step = next((slot for slot in required if slots.get(slot) is None), None)
        if step is None:
            return asked
        dispatcher = await ask(ASK_ACTIONS[step], {**slots, "requested_slot": step})
        [question] = [m for m in dispatcher.messages if "step" in m]
        asked.append((step, question["step"], question["total"]))
        value, pressed = answers[step].pop(0)
        check = press if pressed else validate
        result, _ = await check(step, value, {**slots, "requested_slot": step})
        slots.update(result)
    raise AssertionError(f"the form never ended: {asked}")


async def test_the_total_never_changes_once_the_service_is_chosen(
    pothole_questions: FakeOpen311,
) -> None:
    pothole_questions.photo_services = {"pothole"}
    candidates = [["pothole", "Pothole or road damage"], ["street_light", "Street light out"]]

    asked = await walk(
        {"issue_description": "there is a hole", "service_candidates": candidates},
        {
            "service_code": [("pothole", True)],
            "attribute_answer": [("road", True), ("about 12", False)],
            "issue_location": [("12 Jiefang Road", False)],
            "issue_photo": [("no photo", False)],
            "contact_choice": [("contact", True)],
            "contact_details": [("0612 345 678", False)],
            "contact_name": [("Li Na", False)],
            "confirm_submission": [("submit", True)],
        },
    )

    # Before a service is chosen the count assumes a place and no questions.
    assert asked[0] == ("service_code", 2, 5)
    # Service, 2 questions, place, photo, contact (one step), summary: 8 in all.
    assert asked[1:] == [
        ("attribute_answer", 3, 8),
        ("attribute_answer", 4, 8),
        ("issue_location", 5, 8),
        ("issue_photo", 6, 8),
        ("contact_choice", 7, 8),
        ("contact_details", 7, 8),
        ("contact_name", 7, 8),
        ("confirm_submission", 8, 8),
    ]


async def test_the_count_of_a_service_without_place_or_questions(permit: FakeOpen311) -> None:
    candidates = [["parking_permit", "Resident parking permit"]]

    asked = await walk(
        {"issue_description": "I need a parking permit", "service_candidates": candidates},
        {
            "service_code": [("1", False)],
            "contact_choice": [("I'd rather not say", False)],
            "confirm_submission": [("send it", False)],
        },
    )

    assert asked == [
        ("service_code", 2, 5),
        ("contact_choice", 3, 4),
        ("confirm_submission", 4, 4),
    ]


async def test_failed_answers_do_not_move_the_count(pothole_questions: FakeOpen311) -> None:
    chosen, _ = await press("service_code", "pothole")

    asked = await walk(
        {"issue_description": "there is a hole", **chosen},
        {
            "attribute_answer": [("on the moon", False), ("pavement", False), ("7", False)],
            "issue_location": [("x", False), ("Main St 1", False)],
            "contact_choice": [("maybe later", False), ("anonymous", True)],
            "confirm_submission": [("submit", True)],
        },
    )

    assert {total for _, _, total in asked} == {7}
    assert [step for _, step, _ in asked] == [3, 3, 4, 5, 5, 6, 6, 7]


# --- answers in words --------------------------------------------------------------------------

BIN_PROBLEM = ServiceAttribute(
    code="problem",
    datatype="singlevaluelist",
    required=True,
    description="What is the problem?",
    order=1,
    values=(
        AttributeValue("full", "A public bin is full or overflowing"),
        AttributeValue("damaged", "A bin is damaged"),
        AttributeValue("graffiti", "Graffiti on a wall"),
    ),
)
BIN_QUESTIONS = [question_from_attribute(BIN_PROBLEM)]


@pytest.fixture
def bins(catalogue: FakeOpen311) -> FakeOpen311:
    catalogue.services.append(service("public_bin", "Public bin", "bin, litter, rubbish"))
    catalogue.definitions["public_bin"] = ServiceDefinition("public_bin", (BIN_PROBLEM,))
    return catalogue


async def test_a_typed_answer_picks_the_option_its_words_name(bins: FakeOpen311) -> None:
    result, dispatcher = await validate(
        "attribute_answer",
        "the bin is overflowing and smells",
        {"service_questions": BIN_QUESTIONS},
    )

    assert result["service_attributes"] == {"problem": ["full"]}
    assert dispatcher.messages == []


async def test_a_description_that_answers_a_question_answers_it_already(bins: FakeOpen311) -> None:
    described, _ = await press(
        "service_code", "public_bin", {"issue_description": "the bin is overflowing and smells"}
    )
    vague, _ = await press("service_code", "public_bin", {"issue_description": "the bin"})
    summary = await ask(
        ActionAskConfirmSubmission(),
        {**described, "issue_description": "the bin is overflowing", "issue_location": "Elm St"},
    )

    assert described["service_attributes"] == {"problem": ["full"]}
    assert vague["service_attributes"] == {}, "a tie answers nothing"
    assert summary.messages[0]["details"] == (
        " What is the problem? A public bin is full or overflowing."
    )


async def test_a_position_in_the_description_answers_no_question(bins: FakeOpen311) -> None:
    result, _ = await press(
        "service_code", "public_bin", {"issue_description": "the second one on the left"}
    )

    assert result["service_attributes"] == {}


async def test_a_tie_asks_which_of_the_two_was_meant(bins: FakeOpen311) -> None:
    result, dispatcher = await validate(
        "attribute_answer", "the bin", {"service_questions": BIN_QUESTIONS}
    )

    assert result["attribute_answer"] is None
    assert result["failed_attempts"] == 1.0
    [message] = dispatcher.messages
    assert message["response"] == "utter_answer_tied"
    assert message["options"] == '"A public bin is full or overflowing" or "A bin is damaged"'
    assert [(b["title"], b["payload"]) for b in message["buttons"]] == [
        ("A public bin is full or overflowing", '/choose_option{"choice": "full"}'),
        ("A bin is damaged", '/choose_option{"choice": "damaged"}'),
    ]
    assert "{options}" in DOMAIN_FILE["responses"]["utter_answer_tied"][0]["text"]


async def test_words_that_fit_no_option_are_named(bins: FakeOpen311) -> None:
    result, dispatcher = await validate(
        "attribute_answer", "purple elephant", {"service_questions": BIN_QUESTIONS}
    )

    assert result["attribute_answer"] is None
    [message] = dispatcher.messages
    assert (message["response"], message["words"]) == (
        "utter_answer_words_not_understood",
        "purple elephant",
    )


async def test_after_two_failures_the_problem_is_left_to_the_other_way(bins: FakeOpen311) -> None:
    result, dispatcher = await validate(
        "attribute_answer", "the bin", {"service_questions": BIN_QUESTIONS, "failed_attempts": 2.0}
    )

    assert result["failed_attempts"] == 3.0
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("typed", "chosen"),
    [
        ("the street light one", "street_light"),
        ("the hole in the road", "pothole"),
        ("2", "street_light"),
        ("the second one", "street_light"),
        ("Pothole or road damage", "pothole"),
    ],
)
async def test_a_service_is_chosen_in_words(
    catalogue: FakeOpen311, typed: str, chosen: str
) -> None:
    candidates = [["pothole", "Pothole or road damage"], ["street_light", "Street light out"]]

    result, _ = await validate("service_code", typed, {"service_candidates": candidates})

    assert result["service_code"] == chosen


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("show me more", {"service_page": 1.0, "service_browse": None}),
        ("browse by topic", {"service_browse": "topics"}),
        ("none of these", {"service_code": "other_problem"}),
    ],
)
async def test_the_service_steps_moves_are_taken_in_words(
    catalogue: FakeOpen311, typed: str, expected: dict[str, Any]
) -> None:
    candidates = [["pothole", "Pothole or road damage"]]

    result, _ = await validate("service_code", typed, {"service_candidates": candidates})

    assert result.items() >= expected.items()


async def test_new_words_at_the_service_step_search_again(catalogue: FakeOpen311) -> None:
    candidates = [["street_light", "Street light out"]]

    result, dispatcher = await validate(
        "service_code", "there is a hole in the tarmac", {"service_candidates": candidates}
    )

    assert result["service_code"] is None
    assert result["service_candidates"][0] == ["pothole", "Pothole or road damage"]
    assert result["service_page"] == 0.0
    assert responses(dispatcher) == ["utter_service_searched_again"]


async def test_words_that_find_nothing_new_are_said_back(catalogue: FakeOpen311) -> None:
    candidates = [["street_light", "Street light out"]]

    result, dispatcher = await validate(
        "service_code", "zzz qqq", {"service_candidates": candidates}
    )

    assert result == {"service_code": None, "failed_attempts": 1.0}
    [message] = dispatcher.messages
    assert (message["response"], message["words"]) == (
        "utter_service_words_not_understood",
        "zzz qqq",
    )


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("send it", "submit"), ("yes that's correct", "submit"), ("I need to fix something", None)],
)
async def test_the_summary_is_answered_in_words(
    catalogue: FakeOpen311, typed: str, expected: str | None
) -> None:
    result, dispatcher = await validate("confirm_submission", typed)

    assert result["confirm_submission"] == expected
    if expected is None:
        assert responses(dispatcher) == ["utter_ask_what_to_change"]


# --- the contact step in one message ------------------------------------------------------------


async def test_details_typed_at_the_contact_question_answer_the_whole_step(
    catalogue: FakeOpen311,
) -> None:
    result, dispatcher = await validate("contact_choice", "Li Na, 13912345678")
    required = await ValidateIntakeForm().required_slots(
        [], CollectingDispatcher(), make_tracker({**COMPLETE, **result}), {}
    )
    summary = await ask(ActionAskConfirmSubmission(), {**COMPLETE, **result})

    assert result == {
        "contact_choice": "contact",
        "contact_details": "13912345678",
        "contact_phone": "13912345678",
        "contact_email": None,
        "contact_name": "Li Na",
        "failed_attempts": 0.0,
    }
    assert dispatcher.messages == []
    assert required[-3:] == ["contact_details", "contact_name", "confirm_submission"]
    assert summary.messages[0]["contact"] == "Li Na, 13912345678"


async def test_a_name_given_with_the_details_is_filed(catalogue: FakeOpen311) -> None:
    result, _ = await validate("contact_details", "email me at jo@example.org, I'm Jo Lin")

    await submit({**COMPLETE, **result, "confirm_submission": "submit"})

    [filed] = catalogue.filed
    assert (filed.email, filed.phone, filed.first_name, filed.last_name) == (
        "jo@example.org",
        None,
        "Jo",
        "Lin",
    )


@pytest.mark.parametrize(
    "typed", ["I'd rather not say", "anonymous please", "no thanks", "just reply here"]
)
async def test_declining_in_words_means_replies_here_only(
    catalogue: FakeOpen311, typed: str
) -> None:
    result, dispatcher = await validate("contact_choice", typed, {"contact_phone": "0612345678"})

    assert result["contact_choice"] == "anonymous"
    assert result["contact_phone"] is None
    assert dispatcher.messages == []


@pytest.mark.parametrize("typed", ["yes, you can call me", "please phone me"])
async def test_agreeing_in_words_asks_for_the_details(catalogue: FakeOpen311, typed: str) -> None:
    result, _ = await validate("contact_choice", typed)

    assert result == {"contact_choice": "contact", "failed_attempts": 0.0}


async def test_i_dont_mind_being_called_is_a_yes(catalogue: FakeOpen311) -> None:
    result, _ = await validate("contact_choice", "you may call me, I don't mind")

    assert result["contact_choice"] == "contact"


async def test_declining_at_the_details_means_replies_here_only(catalogue: FakeOpen311) -> None:
    result, dispatcher = await validate(
        "contact_details", "no, I'd rather not after all", {"contact_choice": "contact"}
    )

    assert result["contact_choice"] == "anonymous"
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("li na", "li na"),  # a bare name is kept as typed
        ("skip", "no_name"),
        ("I'd rather not", "no_name"),
        ("my name is Li Na", "Li Na"),
        ("I'm Jo", "Jo"),
    ],
)
async def test_a_name_is_read_from_a_sentence_or_declined(
    catalogue: FakeOpen311, typed: str, kept: str
) -> None:
    result, _ = await validate("contact_name", typed)

    assert result == {"contact_name": kept, "failed_attempts": 0.0}


# --- "choose all that apply" with buttons ---------------------------------------------------

ITEMS_QUESTION = {
    "code": "items",
    "datatype": "multivaluelist",
    "question": "What needs collecting? Choose all that apply.",
    "hint": "",
    "choices": [["furniture", "Furniture"], ["fridge", "Fridge or freezer"], ["other", "Other"]],
}


async def test_a_tapped_option_of_a_multi_choice_question_offers_the_others() -> None:
    slots = {"service_questions": [ITEMS_QUESTION], "service_attributes": {}}

    first, _ = await press("attribute_answer", "furniture", slots)
    adding = {**slots, **first}
    dispatcher = await ask(ActionAskAttributeAnswer(), adding)
    second, _ = await press("attribute_answer", "fridge", adding)
    done, _ = await press("attribute_answer", ALL_DONE, {**adding, **second})

    assert first["service_attributes"] == {"items": ["furniture"]}
    assert first["attribute_adding"] == "items"
    [message] = dispatcher.messages
    assert message["response"] == "utter_ask_attribute_more"
    assert message["chosen"] == "Furniture"
    assert [b["title"] for b in message["buttons"]] == ["Fridge or freezer", "Other", "That's all"]
    assert second["service_attributes"] == {"items": ["furniture", "fridge"]}
    assert done["attribute_adding"] is None
    assert "service_attributes" not in done, "closing keeps the options chosen"


@pytest.mark.parametrize(
    "said", ["that's all", "no, nothing else", "就这些", "没有了", "好的，就这样吧"]
)
async def test_that_is_all_typed_in_either_language_closes_a_multi_choice_question(
    said: str,
) -> None:
    slots = {"service_questions": [ITEMS_QUESTION], "service_attributes": {}}
    first, _ = await press("attribute_answer", "furniture", slots)

    done, _ = await validate("attribute_answer", said, {**slots, **first})

    assert done["attribute_adding"] is None
    assert "service_attributes" not in done, "closing keeps the options chosen"


async def test_typed_options_of_a_multi_choice_question_are_taken_at_once() -> None:
    slots = {"service_questions": [ITEMS_QUESTION], "service_attributes": {}}

    typed, _ = await validate("attribute_answer", "a fridge and some furniture", slots)

    assert typed["service_attributes"] == {"items": ["fridge", "furniture"]}
    assert "attribute_adding" not in typed


async def test_the_last_option_tapped_closes_the_question() -> None:
    slots = {
        "service_questions": [ITEMS_QUESTION],
        "service_attributes": {"items": ["furniture", "fridge"]},
        "attribute_adding": "items",
    }

    last, _ = await press("attribute_answer", "other", slots)

    assert last["service_attributes"] == {"items": ["furniture", "fridge", "other"]}
    assert last["attribute_adding"] is None


async def test_a_topic_named_in_words_opens_it_from_the_matches(catalogue: FakeOpen311) -> None:
    slots = {"service_candidates": [["other_problem", "Other problem"]]}

    result, _ = await validate("service_code", "streets things", slots)

    assert result["service_browse"] == "group:streets"


@pytest.mark.parametrize(
    ("text", "browse"),
    [
        ("none of those, show me other ones", None),
        ("browse by topic", "topics"),
    ],
)
async def test_a_move_said_in_a_few_words_is_taken(
    catalogue: FakeOpen311, text: str, browse: str | None
) -> None:
    slots = {"service_candidates": [["other_problem", "Other problem"]]}

    result, _ = await validate("service_code", text, slots)

    assert result["service_browse"] == browse
    assert result.get("service_page", 0.0) == (1.0 if browse is None else 0.0)


async def test_a_sentence_with_a_moves_word_is_a_new_description(catalogue: FakeOpen311) -> None:
    slots = {"service_candidates": [["other_problem", "Other problem"]]}
    catalogue.search_results = [ServiceMatch("street_light", "Street light out", 3.0)]

    result, dispatcher = await validate(
        "service_code", "the lamp on my street is dark, can someone else come and look", slots
    )

    assert result.get("service_page", 0.0) == 0.0
    assert [code for code, _ in result["service_candidates"]][:1] == ["street_light"]
    assert responses(dispatcher) == ["utter_service_searched_again"]


LICENCES = [
    ("driving_licence_exchange", "Exchange a foreign driving licence"),
    ("driving_licence_replace", "Replace a lost driving licence"),
    ("driving_licence_renewal", "Renew a driving licence"),
]


@pytest.fixture
def licence_catalogue(catalogue: FakeOpen311) -> FakeOpen311:
    """Three licence services in one topic, and a search that knows the first one's keywords."""
    catalogue.with_extensions = True
    catalogue.services += [
        service(code, name, "licence", group="licences") for code, name in LICENCES
    ]
    catalogue.search_results = [
        ServiceMatch(code, name, 9.0 - i) for i, (code, name) in enumerate(LICENCES)
    ]
    return catalogue


@pytest.mark.parametrize("browse", [None, "group:licences"])
async def test_a_service_on_the_screen_described_in_other_words_is_chosen(
    licence_catalogue: FakeOpen311, browse: str | None
) -> None:
    # "licence" is on all three buttons; the search ranks the one the words describe first.
    slots = {"service_candidates": [list(pair) for pair in LICENCES], "service_browse": browse}

    result, _ = await validate("service_code", "the one for changing a licence from abroad", slots)

    assert result["service_code"] == "driving_licence_exchange"


async def test_a_description_that_turns_from_the_screen_searches_again(
    licence_catalogue: FakeOpen311,
) -> None:
    slots = {"service_candidates": [list(pair) for pair in LICENCES]}
    licence_catalogue.search_results = [ServiceMatch("pothole", "Pothole or road damage", 3.0)]

    result, dispatcher = await validate(
        "service_code", "not a licence, it is the hole in the road outside", slots
    )

    assert result["service_code"] is None
    assert result["service_candidates"][0] == ["pothole", "Pothole or road damage"]
    assert responses(dispatcher) == ["utter_service_searched_again"]


async def test_a_search_that_puts_another_service_first_picks_nothing_on_the_screen(
    licence_catalogue: FakeOpen311,
) -> None:
    slots = {"service_candidates": [list(pair) for pair in LICENCES[1:]]}

    result, _ = await validate("service_code", "the one for changing a licence from abroad", slots)

    assert result["service_code"] is None


async def test_other_ones_asked_for_inside_a_topic_open_the_topics(
    licence_catalogue: FakeOpen311,
) -> None:
    slots = {"service_candidates": [], "service_browse": "group:licences"}

    result, _ = await validate("service_code", "none of those, show me other ones", slots)

    assert result["service_browse"] == "topics"
    assert result["service_code"] is None


async def test_a_topics_whole_name_wins_over_a_service_sharing_a_word(
    catalogue: FakeOpen311,
) -> None:
    slots = {"service_candidates": [["street_light", "Street light out"]]}

    result, _ = await validate("service_code", "Streets", slots)

    assert result["service_browse"] == "group:streets"


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        ("Dear Sir or Madam, the steps on Elm Lane are icy", "Dear Sir or Madam", None),
        ("Every single Sunday he burns rubbish in a drum", "Every single Sunday", None),
        # A street word outweighs the time word.
        (
            "the Sunday market on Elm Lane is a mess",
            "Sunday market on Elm Lane",
            "Sunday market on Elm Lane",
        ),
        ("bins left out at Hawthorn Close every week", "Hawthorn Close", "Hawthorn Close"),
    ],
)
def test_a_greeting_or_a_time_is_not_a_place(text: str, span: str, expected: str | None) -> None:
    assert location_in(located(text, span)) == expected


async def test_a_typed_list_answer_understood_in_part_keeps_that_part() -> None:
    slots = {"service_questions": [ITEMS_QUESTION], "service_attributes": {}}

    result, dispatcher = await validate("attribute_answer", "a fridge and an old piano", slots)

    assert result["service_attributes"] == {"items": ["fridge"]}
    assert result["attribute_adding"] == "items", "the other options are offered again"
    assert responses(dispatcher) == ["utter_answer_partly_understood"]
    assert dispatcher.messages[0]["words"] == "an old piano"


async def test_options_the_description_names_are_chosen_and_the_rest_offered(
    catalogue: FakeOpen311,
) -> None:
    damage = ServiceAttribute(
        code="damage",
        datatype="multivaluelist",
        required=True,
        description="What is damaged? Choose all that apply.",
        order=1,
        values=(
            AttributeValue("glass", "Glass panels"),
            AttributeValue("seat", "The seat"),
            AttributeValue("roof", "The roof"),
        ),
    )
    catalogue.definitions["pothole"] = ServiceDefinition("pothole", (damage,))
    story = {"issue_description": "someone smashed it, glass all over and the seat is snapped"}

    result, _ = await press("service_code", "pothole", story)
    dispatcher = await ask(ActionAskAttributeAnswer(), {**story, **result})

    assert result["service_attributes"] == {"damage": ["glass", "seat"]}
    assert result["attribute_adding"] == "damage"
    [message] = dispatcher.messages
    assert message["response"] == "utter_ask_attribute_more"
    assert message["question"] == "What is damaged? Choose all that apply."
    assert [b["title"] for b in message["buttons"]] == ["The roof", "That's all"]


async def test_a_description_naming_no_option_leaves_the_list_question_open(
    catalogue: FakeOpen311,
) -> None:
    catalogue.definitions["pothole"] = ServiceDefinition("pothole", (POSITION,))

    result, _ = await press("service_code", "pothole", {"issue_description": "it is awful"})

    assert result["service_attributes"] == {}
    assert result["attribute_adding"] is None


@pytest.mark.parametrize(("said", "choice"), [("1", "anonymous"), ("the second one", "contact")])
async def test_the_contact_questions_options_are_numbered_as_its_buttons(
    catalogue: FakeOpen311, said: str, choice: str
) -> None:
    buttons = DOMAIN_FILE["responses"]["utter_ask_contact_choice"][0]["buttons"]
    assert f'"choice": "{choice}"' in buttons[int(said == "the second one")]["payload"]

    result, _ = await validate("contact_choice", said)

    assert result["contact_choice"] == choice
