"""Unit tests of the complaint form's validator, submission and cancellation."""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.report_issue import (
    ActionCancelComplaint,
    ActionSubmitComplaint,
    ValidateComplaintForm,
)
from open311_schema import MAX_DESCRIPTION_CHARS, ServiceDefinition
from tests.conftest import make_tracker
from tests.fakes import FakeOpen311, required_attribute

DOMAIN: dict[str, Any] = {}


def responses(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [message.get("response") for message in dispatcher.messages]


def texts(dispatcher: CollectingDispatcher) -> list[str | None]:
    return [message.get("text") for message in dispatcher.messages]


async def submit(slots: dict[str, Any]) -> tuple[list[Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitComplaint().run(dispatcher, make_tracker(slots), DOMAIN)
    return events, dispatcher


async def test_files_complaint_with_best_matching_service_and_replies_with_reference(
    catalogue: FakeOpen311,
) -> None:
    events, dispatcher = await submit(
        {
            "issue_description": "  The street lamp outside no. 12 has been dark for a week ",
            "issue_location": "12 Jiefang Road",
        }
    )

    assert len(catalogue.filed) == 1
    filed = catalogue.filed[0]
    assert filed.service_code == "street_light"
    assert filed.description == "The street lamp outside no. 12 has been dark for a week"
    assert filed.address_string == "12 Jiefang Road"
    assert dispatcher.messages[0]["response"] == "utter_complaint_filed"
    assert dispatcher.messages[0]["service_request_id"] == "CD-TEST01"
    assert dispatcher.messages[0]["service_name"] == "Street light out"
    assert SlotSet("service_request_id", "CD-TEST01") in events
    assert SlotSet("issue_description", None) in events
    assert SlotSet("issue_location", None) in events
    assert texts(dispatcher) == [None], "replies must be response keys, never literal text"


async def test_unmatched_description_goes_to_the_configured_fallback_service(
    catalogue: FakeOpen311,
) -> None:
    await submit({"issue_description": "Something odd is going on", "issue_location": "Market"})

    assert [request.service_code for request in catalogue.filed] == ["other_problem"]


async def test_service_with_required_attributes_is_passed_over_for_now(
    catalogue: FakeOpen311,
) -> None:
    catalogue.definitions["street_light"] = ServiceDefinition(
        "street_light", (required_attribute("pole_number"),)
    )

    await submit({"issue_description": "street lamp is dark", "issue_location": "Main St 1"})

    assert [request.service_code for request in catalogue.filed] == ["other_problem"]


async def test_back_office_outage_keeps_the_answers_and_says_so(catalogue: FakeOpen311) -> None:
    catalogue.unavailable = True

    events, dispatcher = await submit(
        {"issue_description": "pothole in the road", "issue_location": "Main St 1"}
    )

    assert responses(dispatcher) == ["utter_backoffice_unavailable"]
    assert events == [], "slots must stay filled so that a retry does not re-ask"


async def test_rejection_is_reported_plainly(catalogue: FakeOpen311) -> None:
    catalogue.reject_with = 403

    events, dispatcher = await submit(
        {"issue_description": "pothole in the road", "issue_location": "Main St 1"}
    )

    assert responses(dispatcher) == ["utter_complaint_rejected"]
    assert events == []


async def test_submission_revalidates_slots_set_around_the_form(catalogue: FakeOpen311) -> None:
    # A crafted `/report_issue{...}` message could set slots without the form's validation.
    events, dispatcher = await submit({"issue_description": "x", "issue_location": "12 Main St"})

    assert catalogue.filed == []
    assert responses(dispatcher) == ["utter_issue_description_too_short"]
    assert SlotSet("issue_description", None) in events
    assert FollowupAction("complaint_form") in events


async def test_submission_rejects_non_text_slot_values(catalogue: FakeOpen311) -> None:
    await submit({"issue_description": {"service_code": "X"}, "issue_location": ["a", "b"]})

    assert catalogue.filed == []


async def validate(slot: str, value: Any) -> tuple[dict[str, Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    method = getattr(ValidateComplaintForm(), f"validate_{slot}")
    tracker = make_tracker({slot: value}, text=str(value), active_loop="complaint_form")
    return await method(value, dispatcher, tracker, DOMAIN), dispatcher


async def test_description_is_cleaned_and_accepted() -> None:
    result, dispatcher = await validate("issue_description", " Bin\x00 overflowing  again ")

    assert result == {"issue_description": "Bin overflowing again"}
    assert dispatcher.messages == []


async def test_too_short_description_is_asked_again_plainly() -> None:
    result, dispatcher = await validate("issue_description", "  ok ")

    assert result == {"issue_description": None}
    assert responses(dispatcher) == ["utter_issue_description_too_short"]


async def test_too_long_description_names_the_limit() -> None:
    result, dispatcher = await validate("issue_description", "a" * (MAX_DESCRIPTION_CHARS + 1))

    assert result == {"issue_description": None}
    assert responses(dispatcher) == ["utter_issue_description_too_long"]
    assert dispatcher.messages[0]["max_chars"] == MAX_DESCRIPTION_CHARS


async def test_location_bounds() -> None:
    accepted, _ = await validate("issue_location", "No. 12 Jiefang Road")
    too_short, short_dispatcher = await validate("issue_location", "x")
    too_long, long_dispatcher = await validate("issue_location", "y" * 501)

    assert accepted == {"issue_location": "No. 12 Jiefang Road"}
    assert too_short == {"issue_location": None}
    assert responses(short_dispatcher) == ["utter_issue_location_too_short"]
    assert too_long == {"issue_location": None}
    assert responses(long_dispatcher) == ["utter_issue_location_too_long"]


async def test_cancel_forgets_the_answers_and_stops_the_form() -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(
        {"issue_description": "dark lamp", "issue_location": None},
        active_loop="complaint_form",
    )

    events = await ActionCancelComplaint().run(dispatcher, tracker, DOMAIN)

    assert responses(dispatcher) == ["utter_complaint_cancelled"]
    assert ActiveLoop(None) in events
    assert SlotSet("issue_description", None) in events
