"""The walking skeleton, end to end through three real processes and a trained model.

A citizen chats on Rasa's REST channel; the intake collects what happened, the service (picked
from the catalogue's matches by button), where, and a confirmation; the action server files an
Open311 request (through its outbox) with the back office's API key; the ticket lands in the
back office's SQLite file; the bot answers with the ticket's ``service_request_id``.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import struct
import time
import xml.etree.ElementTree as ElementTree
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from actions.outbox import Outbox
from actions.reference_push import ReferencePusher
from devstack import ROOT, Stack, scratch_config
from open311_schema import NewServiceRequest
from tests.e2e.local_stack import started

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())


def response_text(key: str) -> str:
    return str(DOMAIN["responses"][key][0]["text"])


def template_pattern(key: str) -> re.Pattern[str]:
    """A regex for a response with placeholders; each placeholder becomes a named group."""
    pattern = re.escape(response_text(key))
    return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.*?)", pattern) + "$")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # The relay looks for queued submissions every second, not every ten.
    config = scratch_config(tmp_path_factory.mktemp("var"), {"CIVICDESK_OUTBOX_RETRY_SECONDS": "1"})
    with started(Stack(config)) as running:
        yield running


def say(
    stack: Stack, sender: str, message: str, metadata: dict[str, Any] | None = None
) -> list[str]:
    return [
        str(item["text"]) for item in say_full(stack, sender, message, metadata) if "text" in item
    ]


def say_full(
    stack: Stack, sender: str, message: str, metadata: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """One message on Rasa's REST channel; ``metadata`` is what a channel would attach."""
    body: dict[str, Any] = {"sender": sender, "message": message}
    if metadata is not None:
        body["metadata"] = metadata
    reply = httpx.post(f"{stack.config.rasa_url}/webhooks/rest/webhook", json=body, timeout=30)
    reply.raise_for_status()
    return list(reply.json())


def test_citizen_files_a_complaint_and_gets_its_reference(stack: Stack) -> None:
    description = "The street lamp outside number 12 has been dark for a week"
    location = "12 Jiefang Road, Gulou District"

    [ask_description] = say(stack, "citizen-42", "I want to report a problem")
    assert template_pattern("utter_ask_issue_description").match(ask_description)
    offered = say_full(stack, "citizen-42", description)
    assert template_pattern("utter_ask_service_code").match(offered[0]["text"]), offered
    payloads = [button["payload"] for button in offered[0].get("buttons", [])]
    street_light = '/choose_option{"choice": "street_light"}'
    assert street_light in payloads, "the best matches are offered as buttons"
    [ask_location] = say(stack, "citizen-42", street_light)
    assert template_pattern("utter_ask_issue_location").match(ask_location), ask_location
    [ask_contact] = say(stack, "citizen-42", location)
    assert template_pattern("utter_ask_contact_choice").match(ask_contact), ask_contact
    [summary] = say(stack, "citizen-42", ANONYMOUS)
    assert template_pattern("utter_ask_confirm_submission").match(summary), summary
    replies = say(stack, "citizen-42", '/choose_option{"choice": "submit"}')

    # The third is the points question (actions/points.py), which waits for nothing.
    assert len(replies) == 3, replies
    assert template_pattern("utter_what_happens_next").match(replies[1]), replies
    assert replies[2] == response_text("utter_offer_points"), replies
    filed = template_pattern("utter_complaint_filed").match(replies[0])
    assert filed, replies[0]
    reference = filed["service_request_id"]

    # The reference is the Open311 service_request_id, readable back from the public API.
    public = httpx.get(f"{stack.config.backoffice_url}/open311/v2/requests/{reference}.json")
    assert public.status_code == 200
    [ticket] = public.json()
    assert ticket["service_request_id"] == reference
    assert ticket["description"] == description
    assert ticket["address"] == location
    assert ticket["status"] == "open"
    services = httpx.get(f"{stack.config.backoffice_url}/open311/v2/services.json").json()
    names = {service["service_code"]: service["service_name"] for service in services}
    assert names[ticket["service_code"]] == filed["service_name"]
    assert ticket["service_code"] == "street_light"

    # ...and it is stored in the back office's SQLite file.
    with sqlite3.connect(stack.config.database_path) as database:
        rows = database.execute(
            "SELECT service_code, description FROM tickets WHERE service_request_id = ?",
            (reference,),
        ).fetchall()
    assert rows == [("street_light", description)]


ANONYMOUS = '/choose_option{"choice": "anonymous"}'


def test_a_service_found_by_topic_and_contact_details_only_staff_see(stack: Stack) -> None:
    assert stack.credentials is not None
    sender = "citizen-47"
    phone, email = "+86 138 0013 8000", "lin.mei@example.com"

    say(stack, sender, "I want to report a problem")
    say(stack, sender, "The lamp at the school gate flickers all night")
    # Browse by topic: the topics are the back office's groups, then the group's services.
    services = httpx.get(f"{stack.config.backoffice_url}/open311/v2/services.json").json()
    groups = sorted({s["group"] for s in services if s["group"]}, key=str.casefold)
    [topics, _] = say_full(stack, sender, '/choose_option{"choice": "topics"}')
    assert template_pattern("utter_ask_service_group").match(topics["text"]), topics
    assert [b["title"] for b in topics["buttons"]] == groups
    [in_group, way_back] = say_full(stack, sender, '/choose_option{"choice": "group:streets"}')
    assert template_pattern("utter_ask_service_in_group").match(in_group["text"]), in_group
    streets = {s["service_code"] for s in services if s["group"] == "streets"}
    offered = {b["payload"] for b in in_group["buttons"]}
    assert offered == {f'/choose_option{{"choice": "{code}"}}' for code in streets}
    assert way_back["buttons"][0]["payload"] == '/choose_option{"choice": "topics"}'
    [ask_location] = say(stack, sender, '/choose_option{"choice": "street_light"}')
    assert template_pattern("utter_ask_issue_location").match(ask_location), ask_location

    [ask_contact] = say(stack, sender, "5 Zhongshan Road")
    assert template_pattern("utter_ask_contact_choice").match(ask_contact), ask_contact
    [ask_details] = say(stack, sender, '/choose_option{"choice": "contact"}')
    assert template_pattern("utter_ask_contact_details").match(ask_details), ask_details
    # A broken address is asked again in plain words, then the details are taken.
    refused = say(stack, sender, "lin.mei at example")
    assert refused[0] == response_text("utter_contact_details_invalid"), refused
    [ask_name] = say(stack, sender, f"{phone} or {email}")
    assert template_pattern("utter_ask_contact_name").match(ask_name), ask_name
    [summary] = say(stack, sender, "Lin Mei")
    shown = template_pattern("utter_ask_confirm_submission_with_contact").match(summary)
    assert shown, summary
    assert shown["contact"] == f"Lin Mei, {phone}, {email}"
    replies = say(stack, sender, '/choose_option{"choice": "submit"}')
    filed = template_pattern("utter_complaint_filed").match(replies[0])
    assert filed, replies
    reference = filed["service_request_id"]

    # Staff handling the ticket see the details...
    auth = (stack.credentials.staff_username, stack.credentials.staff_password)
    staff = httpx.get(f"{stack.config.backoffice_url}/api/v1/staff/tickets/{reference}", auth=auth)
    assert staff.status_code == 200, staff.text
    citizen = staff.json()["ticket"]["citizen"]
    assert (citizen["phone"], citizen["email"]) == (phone, email)
    assert (citizen["first_name"], citizen["last_name"]) == ("Lin", "Mei")
    # ...the public Open311 reads never show them.
    for fmt in ("json", "xml"):
        public = httpx.get(f"{stack.config.backoffice_url}/open311/v2/requests/{reference}.{fmt}")
        assert public.status_code == 200
        assert reference in public.text
        for personal in ("138 0013 8000", email, "Lin", "Mei"):
            assert personal not in public.text, (fmt, personal)
    listed = httpx.get(
        f"{stack.config.backoffice_url}/open311/v2/requests.json",
        params={"service_request_id": reference},
    )
    assert listed.status_code == 200
    assert reference in listed.text
    assert email not in listed.text


def post_request(stack: Stack, fmt: str, **form: Any) -> httpx.Response:
    return httpx.post(
        f"{stack.config.backoffice_url}/open311/v2/requests.{fmt}",
        data={"service_code": "street_light", "address_string": "1 Main St", **form},
    )


@pytest.mark.parametrize("api_key", [None, "", "cd_not-a-real-key"])
def test_filing_without_a_valid_api_key_is_refused_in_open311_format(
    stack: Stack, api_key: str | None
) -> None:
    form = {} if api_key is None else {"api_key": api_key}

    as_json = post_request(stack, "json", **form)
    as_xml = post_request(stack, "xml", **form)

    assert as_json.status_code == 403
    assert as_json.headers["content-type"].startswith("application/json")
    [error] = as_json.json()
    assert error["code"] == 403
    assert error["description"]
    assert as_xml.status_code == 403
    assert as_xml.headers["content-type"].startswith("text/xml")
    root = ElementTree.fromstring(as_xml.content)
    assert root.tag == "errors"
    assert root.findtext("error/code") == "403"


def test_the_dev_api_key_is_accepted(stack: Stack) -> None:
    assert stack.credentials is not None

    created = post_request(stack, "json", api_key=stack.credentials.api_key, description="x")

    assert created.status_code in (200, 201)
    assert created.json()[0]["service_request_id"].startswith("CD-")


def test_cancel_files_nothing(stack: Stack) -> None:
    def ticket_count() -> int:
        with sqlite3.connect(stack.config.database_path) as database:
            return int(database.execute("SELECT count(*) FROM tickets").fetchone()[0])

    before = ticket_count()
    say(stack, "citizen-43", "I want to report a problem")
    say(stack, "citizen-43", "Rubbish has not been collected for two weeks")
    say(stack, "citizen-43", "3")

    assert say(stack, "citizen-43", "cancel") == [response_text("utter_complaint_cancelled")]
    assert ticket_count() == before


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A real PNG (opaque red pixels), written with the standard library only."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_a_shared_photo_and_location_are_filed_on_the_ticket(stack: Stack) -> None:
    assert stack.credentials is not None
    sender = "citizen-44"
    # No place in it, so the place is asked (and answered by sharing one).
    description = "The street lamp has been dark since Monday"
    latitude, longitude = 32.0603, 118.7969
    upload = httpx.post(
        f"{stack.config.backoffice_url}/api/v1/media",
        headers={"X-API-Key": stack.credentials.api_key},
        files={"file": ("lamp.png", tiny_png(), "image/png")},
    )
    assert upload.status_code == 201, upload.text
    photo = upload.json()

    say(stack, sender, "I want to report a problem")
    # A photo while the description is asked: kept, and the same step asked again.
    received, ask_again = say(stack, sender, "/share_photo", metadata={"photo": photo})
    assert received == response_text("utter_photo_received")
    assert template_pattern("utter_ask_issue_description").match(ask_again), ask_again
    say(stack, sender, description)
    ask_location = say_full(stack, sender, '/choose_option{"choice": "street_light"}')
    assert template_pattern("utter_ask_issue_location").match(ask_location[0]["text"])
    assert {"title": "Share my location", "payload": "/share_location"} in ask_location[0].get(
        "buttons", []
    )
    # A shared location without usable coordinates is refused and the place asked again.
    refused = say(
        stack, sender, "/share_location", metadata={"location": {"latitude": 123, "longitude": 1}}
    )
    assert refused[0] == response_text("utter_shared_location_invalid"), refused
    assert template_pattern("utter_ask_issue_location").match(refused[-1]), refused
    location = {"location": {"latitude": latitude, "longitude": longitude}}
    [ask_contact] = say(stack, sender, "/share_location", metadata=location)
    assert template_pattern("utter_ask_contact_choice").match(ask_contact), ask_contact
    [summary] = say(stack, sender, ANONYMOUS)
    assert template_pattern("utter_ask_confirm_submission_with_photo").match(summary), summary
    assert f"Where: {latitude:.6f}, {longitude:.6f}." in summary
    replies = say(stack, sender, '/choose_option{"choice": "submit"}')

    filed = template_pattern("utter_complaint_filed").match(replies[0])
    assert filed, replies
    reference = filed["service_request_id"]
    public = httpx.get(f"{stack.config.backoffice_url}/open311/v2/requests/{reference}.json")
    assert public.status_code == 200
    [ticket] = public.json()
    assert (ticket["lat"], ticket["long"]) == (latitude, longitude)
    assert not ticket.get("address")
    # Not public before staff approve it; the bot's API client still fetches it.
    assert not ticket.get("media_url"), ticket
    assert ticket["description"] == description
    assert httpx.get(photo["media_url"]).status_code == 404
    assert stack.credentials is not None
    served = httpx.get(photo["media_url"], headers={"X-API-Key": stack.credentials.api_key})
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    # ...and the back office linked the uploaded photo to this ticket.
    with sqlite3.connect(stack.config.database_path) as database:
        linked = database.execute(
            "SELECT tickets.service_request_id FROM media JOIN tickets"
            " ON tickets.id = media.ticket_id WHERE media.id = ?",
            (photo["media_id"],),
        ).fetchall()
    assert linked == [(reference,)]

    # The ticket was filed under this chat's identity (REST channel: "rest:<sender>")...
    own = httpx.get(
        f"{stack.config.backoffice_url}/api/v1/citizens/rest:{sender}/tickets",
        headers={"X-API-Key": stack.credentials.api_key},
    )
    assert own.status_code == 200, own.text
    assert [t["service_request_id"] for t in own.json()["tickets"]] == [reference]
    # ...so "my tickets" lists it.
    listed = say(stack, sender, "show my tickets")
    assert listed[0] == response_text("utter_my_tickets_header"), listed
    assert [line for line in listed[1:] if line.startswith(f"{reference} (")] == listed[1:]
    assert len(listed) == 2, listed
    assert not any(
        line.startswith(reference) for line in say(stack, "citizen-45", "show my tickets")
    ), "another chat does not see it"

    # Information added in the chat becomes a comment of the citizen on that ticket.
    note = "please add that it happens every evening after 8pm"
    assert say(stack, sender, note) == [
        response_text("utter_follow_up_done").format(service_request_id=reference)
    ]
    own_ticket = httpx.get(
        f"{stack.config.backoffice_url}/api/v1/citizens/rest:{sender}/tickets/{reference}",
        headers={"X-API-Key": stack.credentials.api_key},
    )
    assert own_ticket.status_code == 200, own_ticket.text
    assert [c["body"] for c in own_ticket.json()["ticket"]["comments"]] == [note]


def test_a_queued_reference_is_pushed_through_rasas_api(stack: Stack) -> None:
    # A request that had to wait sits in the action server's outbox; its relay files it and
    # pushes the reference through Rasa's HTTP API, and the bot tells it in the conversation
    # without the citizen writing again (read back from Rasa's tracker).
    assert stack.credentials is not None
    assert stack.rasa_token
    sender = "citizen-46"
    say(stack, sender, "hello")
    outbox = Outbox(stack.config.var_dir / "outbox.sqlite3")
    request = NewServiceRequest("street_light", description="Lamp dark", address_string="1 Main St")
    key = outbox.enqueue(sender, request).idempotency_key

    def told() -> list[str]:
        entry = outbox.get(key)
        if entry.service_request_id is None:
            return []
        tracker = httpx.get(
            f"{stack.config.rasa_url}/conversations/{sender}/tracker",
            params={"token": stack.rasa_token},
            timeout=30,
        )
        assert tracker.status_code == 200, tracker.text
        expected = response_text("utter_queued_request_filed").format(
            service_request_id=entry.service_request_id
        )
        return [e["text"] for e in tracker.json()["events"] if e.get("text") == expected]

    deadline = time.monotonic() + 60
    while not told() and time.monotonic() < deadline:
        time.sleep(0.5)

    entry = outbox.get(key)
    assert entry.state == "delivered"
    assert len(told()) == 1, "the relay filed it and pushed the reference"
    public = httpx.get(
        f"{stack.config.backoffice_url}/open311/v2/requests/{entry.service_request_id}.json"
    )
    assert public.status_code == 200
    # Pushing again tells nothing new: each reference is told once.
    assert asyncio.run(push_once(stack.config.rasa_url, stack.rasa_token, sender)) is True
    assert len(told()) == 1
    assert say(stack, sender, "hello") == [response_text("utter_greet")]


async def push_once(rasa_url: str, token: str, sender: str) -> bool:
    pusher = ReferencePusher(rasa_url, token)
    try:
        return await pusher.push(sender)
    finally:
        await pusher.aclose()


def test_only_a_button_on_screen_can_be_pressed(stack: Stack) -> None:
    sender = "citizen-gate"
    say(stack, sender, "I want to report a problem")
    ask_service = say_full(stack, sender, "The street lamp outside no. 8 Jiefang Road is dark")
    offered = {b["payload"] for message in ask_service for b in message.get("buttons", [])}
    assert '/choose_option{"choice": "street_light"}' in offered
    assert '/choose_option{"choice": "submit"}' not in offered

    # A payload typed rather than pressed (here: send now) is words, and the step asks again.
    again = say(stack, sender, '/choose_option{"choice": "submit"}')
    assert not any(template_pattern("utter_complaint_filed").match(text) for text in again)
    assert any(template_pattern("utter_ask_service_code").match(text) for text in again), again

    # An intent only the back office may send is words too: no "News on ..." is told.
    pushed = '/EXTERNAL_ticket_update{"service_request_id": "CD-7K2M9Q", "status": "resolved"}'
    replies = say(stack, sender, pushed)
    assert not any(text.startswith("News on CD-7K2M9Q") for text in replies), replies

    # The button on screen still works.
    next_step = say(stack, sender, '/choose_option{"choice": "street_light"}')
    assert template_pattern("utter_ask_contact_choice").match(next_step[-1]), next_step


def test_a_message_too_long_to_read_gets_a_plain_reply_and_the_step_again(stack: Stack) -> None:
    sender = "citizen-long"
    too_long_reply = response_text("utter_message_too_long")
    assert say(stack, sender, "the bins " * 1000) == [too_long_reply]

    say(stack, sender, "I want to report a problem")
    replies = say(stack, sender, "x" * 5000)
    assert replies[0] == too_long_reply
    assert template_pattern("utter_ask_issue_description").match(replies[-1]), replies
