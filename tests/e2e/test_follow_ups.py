"""Follow-ups end to end: withdraw, reopen, rate, a person, and staff news pushed to the chat.

Three real processes and the trained model (devstack), the back office on its SQLite file:
the citizen chats on Rasa's REST channel (identity ``rest:<sender>``), staff act through the
back office's staff API with the dev credentials, and the back office's outbox relay pushes
their changes into the conversation through Rasa's ``trigger_intent``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from devstack import Stack, scratch_config
from tests.e2e.local_stack import started
from tests.e2e.test_walking_skeleton import (
    response_text,
    say,
    say_full,
    template_pattern,
    tiny_png,
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with started(Stack(scratch_config(tmp_path_factory.mktemp("var")))) as running:
        yield running


def file_complaint(stack: Stack, sender: str) -> str:
    """Files a street light complaint through the chat; returns its reference."""
    say(stack, sender, "The street lamp outside number 12 has been dark for a week")
    say(stack, sender, '/choose_option{"choice": "street_light"}')
    say(stack, sender, "12 Jiefang Road")
    say(stack, sender, '/choose_option{"choice": "anonymous"}')  # replies in this chat only
    replies = say(stack, sender, '/choose_option{"choice": "submit"}')
    filed = template_pattern("utter_complaint_filed").match(replies[0])
    assert filed, replies
    return filed["service_request_id"]


def citizen_ticket(stack: Stack, sender: str, reference: str) -> dict[str, Any]:
    assert stack.credentials is not None
    reply = httpx.get(
        f"{stack.config.backoffice_url}/api/v1/citizens/rest:{sender}/tickets/{reference}",
        headers={"X-API-Key": stack.credentials.api_key},
    )
    assert reply.status_code == 200, reply.text
    return dict(reply.json()["ticket"])


def staff(stack: Stack, method: str, path: str, **kwargs: Any) -> httpx.Response:
    assert stack.credentials is not None
    auth = (stack.credentials.staff_username, stack.credentials.staff_password)
    return httpx.request(
        method, f"{stack.config.backoffice_url}/api/v1/staff{path}", auth=auth, **kwargs
    )


def bot_texts(stack: Stack, sender: str) -> list[str]:
    """Everything the bot said in the conversation, pushes included (Rasa's tracker)."""
    tracker = httpx.get(
        f"{stack.config.rasa_url}/conversations/{sender}/tracker",
        params={"token": stack.rasa_token},
        timeout=30,
    )
    assert tracker.status_code == 200, tracker.text
    return [str(e["text"]) for e in tracker.json()["events"] if e.get("event") == "bot"]


def wait_for(check: Callable[[], bool], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def test_withdraw_asks_first_and_closes_the_ticket(stack: Stack) -> None:
    sender = "citizen-60"
    reference = file_complaint(stack, sender)

    asked = say_full(stack, sender, f"i want to withdraw {reference}")
    assert template_pattern("utter_ask_follow_up_confirm").match(asked[-1]["text"]), asked
    assert [b["title"] for b in asked[-1]["buttons"]] == ["Yes, withdraw it", "No, keep it"]
    assert citizen_ticket(stack, sender, reference)["status"] == "new", "nothing before yes"

    done = say(stack, sender, '/choose_option{"choice": "yes"}')

    assert done == [response_text("utter_ticket_withdrawn").format(service_request_id=reference)]
    ticket = citizen_ticket(stack, sender, reference)
    assert ticket["status"] == "closed"
    assert "withdrawn" in (ticket["status_notes"] or "").lower()


def test_staff_news_reopen_with_a_reason_and_a_rating(stack: Stack) -> None:
    sender = "citizen-61"
    reference = file_complaint(stack, sender)

    moved = staff(
        stack,
        "POST",
        f"/tickets/{reference}/status",
        json={"status": "resolved", "note": "New lamp"},
    )
    assert moved.status_code == 200, moved.text
    resolved = response_text("utter_ticket_update_resolved").format(service_request_id=reference)
    note = response_text("utter_ticket_update_note").format(message="New lamp")
    assert wait_for(lambda: resolved in bot_texts(stack, sender)), "the relay pushed the news"
    assert note in bot_texts(stack, sender)

    # Reopening without a reason asks for one; the ticket is the one the news was about.
    asked = say(stack, sender, f"reopen {reference}")
    assert asked == [
        response_text("utter_ask_follow_up_reason").format(
            step=2, total=2, service_request_id=reference
        )
    ]
    # A stray "no" or an old button is no reason: asked again, not a dead end.
    assert say(stack, sender, "no") == [response_text("utter_reopen_reason_too_short"), *asked]
    # The second failed answer in a row: the ways out, then the question asked another way.
    assert say(stack, sender, '/choose_option{"choice": "4"}') == [
        response_text("utter_reopen_reason_too_short"),
        response_text("utter_ask_simpler_follow_up"),
        response_text("utter_ask_follow_up_reason_again").format(
            step=2, total=2, service_request_id=reference
        ),
    ]
    done = say(stack, sender, "the lamp went dark again after two days")
    assert done == [response_text("utter_ticket_reopened").format(service_request_id=reference)]
    assert citizen_ticket(stack, sender, reference)["status"] == "reopened"

    assert (
        staff(
            stack, "POST", f"/tickets/{reference}/status", json={"status": "resolved"}
        ).status_code
        == 200
    )
    # The tracker store keeps only the latest events of a long conversation, so the news is
    # recognised as the conversation's last words, not by counting.
    offer = response_text("utter_offer_rating")
    assert wait_for(lambda: bot_texts(stack, sender)[-2:] == [resolved, offer])

    # The "Rate it" button of the news, then a number button.
    offered = say_full(stack, sender, "/rate_resolution")
    assert template_pattern("utter_ask_follow_up_rating").match(offered[-1]["text"]), offered
    rated = say(stack, sender, '/choose_option{"choice": "4"}')
    assert rated == [response_text("utter_rated").format(service_request_id=reference)]
    assert citizen_ticket(stack, sender, reference)["rating"] == 4


def test_rating_an_open_ticket_is_refused_before_asking(stack: Stack) -> None:
    sender = "citizen-62"
    reference = file_complaint(stack, sender)

    replies = say(stack, sender, f"5 stars for {reference}")

    assert replies == [
        response_text("utter_rating_not_allowed").format(service_request_id=reference)
    ]
    assert citizen_ticket(stack, sender, reference).get("rating") is None


def test_a_person_answers_in_the_chat(stack: Stack) -> None:
    sender = "citizen-63"
    reference = file_complaint(stack, sender)
    say(stack, sender, f"status of {reference}")

    replies = say(stack, sender, "talk to a person")

    filed = template_pattern("utter_handoff_filed").match(replies[0])
    assert filed, replies
    assert filed["department"] == "Street Lighting"
    queue = staff(stack, "GET", "/handoffs")
    assert queue.status_code == 200, queue.text
    [handoff] = [h for h in queue.json()["handoffs"] if h.get("service_request_id") == reference]
    assert "talk to a person" in handoff["message"]
    assert f"status of {reference}" in handoff["message"]

    answer = "We will replace the lamp on Monday."
    sent = staff(stack, "POST", f"/handoffs/{handoff['handoff_id']}/reply", json={"text": answer})
    assert sent.status_code in (200, 201), sent.text
    expected = response_text("utter_handoff_reply").format(message=answer)
    assert wait_for(lambda: expected in bot_texts(stack, sender)), "the reply was pushed"


def test_a_person_during_a_complaint_keeps_its_answers(stack: Stack) -> None:
    sender = "citizen-64"
    say(stack, sender, "The street lamp outside number 12 has been dark for a week")
    say(stack, sender, '/choose_option{"choice": "street_light"}')

    replies = say(stack, sender, "/request_human")

    assert template_pattern("utter_handoff_filed").match(replies[0]), replies
    assert replies[1] == response_text("utter_handoff_answers_kept")
    assert template_pattern("utter_ask_issue_location").match(replies[2]), replies
    # An old button pressed at the place step is asked again, not a dead end.
    again = say(stack, sender, '/choose_option{"choice": "yes"}')
    assert again[0] == response_text("utter_issue_location_too_short"), again
    assert template_pattern("utter_ask_issue_location").match(again[-1]), again
    ask_contact = say(stack, sender, "12 Jiefang Road")
    assert template_pattern("utter_ask_contact_choice").match(ask_contact[0]), ask_contact


def test_the_ticket_is_picked_from_this_chats_tickets(stack: Stack) -> None:
    sender = "citizen-65"
    reference = file_complaint(stack, sender)
    say(stack, sender, "restart")  # forget the remembered ticket: only the buttons say it

    asked = say_full(stack, sender, "withdraw my complaint")

    assert template_pattern("utter_ask_follow_up_reference_pick").match(asked[-1]["text"]), asked
    payloads = [button["payload"] for button in asked[-1]["buttons"]]
    assert payloads == [f'/choose_option{{"choice": "{reference}"}}']
    confirm = say(stack, sender, payloads[0])
    assert template_pattern("utter_ask_follow_up_confirm").match(confirm[-1]), confirm
    assert say(stack, sender, "no") == [
        response_text("utter_withdraw_kept").format(service_request_id=reference)
    ]
    assert citizen_ticket(stack, sender, reference)["status"] == "new"


def test_the_first_message_keeps_the_house_number_and_offers_only_close_matches(
    stack: Stack,
) -> None:
    sender = "citizen-66"
    offered = say_full(
        stack, sender, "the street lamp outside no. 12 Jiefang Road has been dark for a week"
    )

    assert template_pattern("utter_ask_service_code").match(offered[0]["text"]), offered
    payloads = [button["payload"] for button in offered[0]["buttons"]]
    assert payloads == ['/choose_option{"choice": "street_light"}'], "no road or event services"
    say(stack, sender, payloads[0])  # the contact question follows
    [summary] = say(stack, sender, '/choose_option{"choice": "anonymous"}')
    assert template_pattern("utter_ask_confirm_submission").match(summary), summary
    # (The template's "Where: {issue_location}." cannot be split at a dot inside the place.)
    assert "Where: no. 12 Jiefang Road." in summary, summary


def upload_photo(stack: Stack) -> dict[str, Any]:
    """What a channel does with a photo a citizen sends: upload it, keep id and URL."""
    assert stack.credentials is not None
    upload = httpx.post(
        f"{stack.config.backoffice_url}/api/v1/media",
        headers={"X-API-Key": stack.credentials.api_key},
        files={"file": ("lamp.png", tiny_png(), "image/png")},
    )
    assert upload.status_code == 201, upload.text
    return dict(upload.json())


def test_photos_go_on_the_ticket_being_talked_about(stack: Stack) -> None:
    sender = "citizen-67"
    reference = file_complaint(stack, sender)
    first, second = upload_photo(stack), upload_photo(stack)

    # Right after a status answer, a photo goes on that ticket.
    say(stack, sender, f"status of {reference}")
    added = say(stack, sender, "/share_photo", metadata={"photo": first})

    expected = response_text("utter_photo_added").format(service_request_id=reference)
    assert added == [expected]
    assert [m["media_id"] for m in citizen_ticket(stack, sender, reference)["media"]] == [
        first["media_id"]
    ]

    # With no ticket in focus, the citizen picks it from this chat's tickets.
    say(stack, sender, "restart")
    say(stack, sender, "i want to add something to my report")
    asked = say_full(stack, sender, "/share_photo", metadata={"photo": second})
    assert asked[-1]["text"] == response_text("utter_ask_photo_ticket_pick"), asked
    payloads = [button["payload"] for button in asked[-1]["buttons"]]
    assert payloads == [f'/choose_option{{"choice": "{reference}"}}']
    assert say(stack, sender, payloads[0]) == [expected]

    # Or the reference typed, as the question says.
    third = upload_photo(stack)
    say(stack, sender, "restart")
    say(stack, sender, "i want to add something to my report")
    say(stack, sender, "/share_photo", metadata={"photo": third})
    assert say(stack, sender, reference.lower()) == [expected]

    photos = [first["media_id"], second["media_id"], third["media_id"]]
    assert [m["media_id"] for m in citizen_ticket(stack, sender, reference)["media"]] == photos
    shown = staff(stack, "GET", f"/tickets/{reference}")
    assert shown.status_code == 200, shown.text
    assert [m["media_id"] for m in shown.json()["ticket"]["media"]] == photos


def test_information_given_before_the_ticket_is_named_goes_on_it(stack: Stack) -> None:
    sender = "citizen-68"
    reference = file_complaint(stack, sender)
    say(stack, sender, "restart")  # forget the remembered ticket: the citizen has to name it

    information = "I forgot to mention that the lamp post is also leaning"
    asked = say_full(stack, sender, information)
    assert asked[-1]["text"] == response_text("utter_ask_comment_ticket_pick"), asked
    assert [b["payload"] for b in asked[-1]["buttons"]] == [
        f'/choose_option{{"choice": "{reference}"}}'
    ]
    assert citizen_ticket(stack, sender, reference)["comments"] == [], "nothing before the ticket"

    # The reference typed, as the question says, instead of the button.
    done = say(stack, sender, reference)

    assert done == [response_text("utter_follow_up_done").format(service_request_id=reference)]
    comments = citizen_ticket(stack, sender, reference)["comments"]
    assert [(c["author"], c["body"]) for c in comments] == [("citizen", information)]
