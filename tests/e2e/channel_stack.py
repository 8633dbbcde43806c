"""Shared pieces of the full-stack channel tests (``tests/e2e/test_channel_*.py``).

Each of those modules starts the three real processes (back office, action server, Rasa with
the trained model) once, with its channel added to Rasa's credentials, and talks to Rasa the
way the platform would (a fake platform on 127.0.0.1, a browser, or a signed HTTP client).

The conversation is driven by what the bot offers, never by its wording: the buttons of the
bot's last turn and the step it asks for (``requested_slot``) are read from Rasa's tracker
through its HTTP API, and the ticket is read back from the back office by the citizen's
identity (``<channel>:<sender id>``). Another engineer may add steps or options to the
dialogue; the driver presses what it recognises by payload and skips what it does not know.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Awaitable, Coroutine, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
from PIL import Image

from devstack import Stack, StackConfig, scratch_config
from tests.e2e.local_stack import started

SUBMIT = '/choose_option{"choice": "submit"}'
SHARE_LOCATION = "/share_location"
# Buttons the driver never presses while filling in a report: they leave or rewind the form.
_CONTROL_PAYLOADS = ("/cancel", "/go_back", "/request_human", "/restart")
_CONTROL_CHOICES = ("more", "none", "change", "submit")

T = TypeVar("T")


class ChannelStack(Stack):
    """The devstack processes with extra channels appended to Rasa's credentials file."""

    def __init__(self, config: StackConfig, channels_yaml: str) -> None:
        super().__init__(config)
        self._channels_yaml = channels_yaml

    def _write_rasa_credentials(self) -> Path:
        path = super()._write_rasa_credentials()
        path.write_text(
            path.read_text() + "\n# Added by the channel e2e test.\n" + self._channels_yaml
        )
        return path

    def webhook_url(self, channel: str) -> str:
        """Where the platform posts to Rasa's ``channel`` input (its ``name()``)."""
        return f"{self.config.rasa_url}/webhooks/{channel}/webhook"


@contextmanager
def channel_stack(
    var_dir: Path, channels_yaml: str, environment: Mapping[str, str] | None = None
) -> Iterator[ChannelStack]:
    """Start back office, action server and Rasa (with ``channels_yaml``) on free ports."""
    config = scratch_config(
        var_dir,
        {"CIVICDESK_OUTBOX_RETRY_SECONDS": "1", **(environment or {})},
        # Only the channel under test (and the stock web chat) speak to Rasa here.
        plain_rest=False,
    )
    with started(ChannelStack(config, channels_yaml)) as running:
        yield running


class BackgroundLoop:
    """An asyncio loop in a thread, for fake platforms that must answer Rasa between calls."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T] | Awaitable[T], timeout: float = 60) -> T:
        async def wrapper() -> T:
            return await coroutine

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


@contextmanager
def served_in_background(server: AbstractAsyncContextManager[T]) -> Iterator[T]:
    """Enter ``server`` (a fake platform on 127.0.0.1) on a loop of its own for the ``with``
    block: it must answer Rasa while the test waits on Rasa synchronously."""
    loop = BackgroundLoop()
    try:
        entered = loop.run(server.__aenter__())
        try:
            yield entered
        finally:
            loop.run(server.__aexit__(None, None, None))
    finally:
        loop.close()


# --- Rasa's view of the conversation -----------------------------------------------------


def tracker(stack: Stack, sender: str) -> dict[str, Any]:
    reply = httpx.get(
        f"{stack.config.rasa_url}/conversations/{sender}/tracker",
        # Every event: a filed report ends with a restart, and the test reads what came before.
        params={"token": stack.rasa_token, "include_events": "ALL"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def user_events(stack: Stack, sender: str) -> list[dict[str, Any]]:
    return [e for e in tracker(stack, sender)["events"] if e["event"] == "user"]


def bot_texts(stack: Stack, sender: str, after: float = 0.0) -> list[str]:
    """What the bot said in the events Rasa keeps (it trims old ones), newer than ``after``."""
    return [
        str(e.get("text") or "")
        for e in tracker(stack, sender)["events"]
        if e["event"] == "bot" and float(e["timestamp"]) > after
    ]


def latest_timestamp(stack: Stack, sender: str) -> float:
    events = tracker(stack, sender)["events"]
    return float(events[-1]["timestamp"]) if events else 0.0


def wait_for_turn(
    stack: Stack, sender: str, after: float, timeout: float = 60
) -> list[dict[str, Any]]:
    """Wait until Rasa holds a user message newer than ``after`` and has answered it; returns
    the user messages newer than ``after``.

    Some platforms (WeChat after 4 s) are answered before the turn ends, so the driver reads
    the tracker only once the bot listens again.
    """
    deadline = time.monotonic() + timeout
    while True:
        events = tracker(stack, sender)["events"]
        new = [e for e in events if e["event"] == "user" and float(e["timestamp"]) > after]
        if new and events[-1].get("name") == "action_listen":
            return new
        assert time.monotonic() < deadline, (
            f"no answered message after {after}; last events: {events[-3:]}"
        )
        time.sleep(0.2)


def last_turn(stack: Stack, sender: str) -> tuple[list[dict[str, Any]], str | None]:
    """The buttons of the bot's last turn and the step it asks for (``requested_slot``)."""
    state = tracker(stack, sender)
    buttons: list[dict[str, Any]] = []
    for event in reversed(state["events"]):
        if event["event"] == "user":
            break
        if event["event"] == "bot":
            # A question may come in several messages (best matches, then "Or:" more).
            buttons[:0] = list((event.get("data") or {}).get("buttons") or [])
    requested = state.get("slots", {}).get("requested_slot")
    return buttons, requested if isinstance(requested, str) else None


# --- the back office's view ----------------------------------------------------------------


def citizen_tickets(stack: Stack, identity: str, timeout: float = 30) -> list[dict[str, Any]]:
    """The citizen's tickets, waiting for one to appear (the action server files through an
    outbox, so a ticket may land a moment after the bot answers)."""
    assert stack.credentials is not None
    deadline = time.monotonic() + timeout
    while True:
        reply = httpx.get(
            f"{stack.config.backoffice_url}/api/v1/citizens/{identity}/tickets",
            headers={"X-API-Key": stack.credentials.api_key},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text
        tickets = list(reply.json()["tickets"])
        if tickets or time.monotonic() > deadline:
            return tickets
        time.sleep(0.5)


def public_ticket(stack: Stack, reference: str) -> dict[str, Any]:
    reply = httpx.get(f"{stack.config.backoffice_url}/open311/v2/requests/{reference}.json")
    assert reply.status_code == 200, reply.text
    [ticket] = reply.json()
    return dict(ticket)


def assert_photo_stored_reencoded(
    stack: Stack, identity: str, public: dict[str, Any], sent: bytes
) -> None:
    """The ticket's photo downloads for the bot's API client, is an image of the sent size, and
    is not the sent bytes (re-encoded: the EXIF block with its GPS position is gone); the
    public Open311 view shows no photo staff have not approved yet."""
    assert stack.credentials is not None
    assert not public.get("media_url"), f"an unreviewed photo is public: {public}"
    headers = {"X-API-Key": stack.credentials.api_key}
    reply = httpx.get(
        f"{stack.config.backoffice_url}/api/v1/citizens/{identity}/tickets/"
        f"{public['service_request_id']}",
        headers=headers,
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    photos = reply.json()["ticket"].get("media") or []
    assert photos, f"no photo on the ticket: {reply.json()}"
    media_url = str(photos[0]["media_url"])
    assert httpx.get(media_url, timeout=30).status_code == 404, "served to anyone"
    served = httpx.get(media_url, headers=headers, timeout=30)
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("image/")
    assert served.content != sent
    with Image.open(io.BytesIO(sent)) as original, Image.open(io.BytesIO(served.content)) as image:
        assert image.size == original.size
        assert len(original.getexif()) > 0, "the test photo carries EXIF"
        assert len(image.getexif()) == 0, "EXIF (and GPS) stripped"


def photo_with_exif() -> bytes:
    """A small JPEG whose EXIF holds a camera name and a GPS position, as phones write them."""
    image = Image.new("RGB", (64, 48), (200, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "CivicDeskTestCamera"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (32.0, 3.0, 37.0)
    gps[3] = "E"
    gps[4] = (118.0, 47.0, 49.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


# --- driving a report ------------------------------------------------------------------------


class Citizen(Protocol):
    """A citizen on one channel; each call returns once the message was delivered."""

    @property
    def sender_id(self) -> str: ...

    def say(self, text: str) -> None: ...

    def press(self, button: dict[str, Any]) -> None: ...

    def share_location(self, latitude: float, longitude: float) -> None: ...

    def send_photo(self, data: bytes) -> None: ...


def _choice(payload: str) -> str | None:
    marker = '{"choice": "'
    if not payload.startswith("/choose_option") or marker not in payload:
        return None
    return payload.split(marker, 1)[1].split('"', 1)[0]


def file_report(
    stack: Stack,
    citizen: Citizen,
    *,
    description: str,
    service_code: str,
    photo: bytes,
    latitude: float,
    longitude: float,
    max_steps: int = 20,
) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Report a problem in free text, then answer each step the bot asks by what it offers.

    The photo is sent when the bot asks for it (or before submitting if it never does), the
    location shared when asked, the service and the first choice of each question pressed by
    payload, optional steps skipped; returns each button pressed with the user messages Rasa
    received for the press (Rasa trims old events, so they are read right after each press).
    """
    pressed: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    photo_sent = location_sent = False

    def press(button: dict[str, Any]) -> None:
        citizen.press(button)
        pressed.append((button, wait_for_turn(stack, citizen.sender_id, mark)))

    mark = latest_timestamp(stack, citizen.sender_id)
    citizen.say(description)
    wait_for_turn(stack, citizen.sender_id, mark)
    for _ in range(max_steps):
        mark = latest_timestamp(stack, citizen.sender_id)
        buttons, requested = last_turn(stack, citizen.sender_id)
        by_payload = {str(b["payload"]): b for b in buttons}
        choices = [
            b for b in buttons if _choice(str(b["payload"])) not in (None, *_CONTROL_CHOICES)
        ]
        service = next((b for b in choices if _choice(str(b["payload"])) == service_code), None)
        if requested == "issue_photo" and not photo_sent:
            citizen.send_photo(photo)
            photo_sent = True
        elif (requested == "issue_location" or SHARE_LOCATION in by_payload) and not location_sent:
            citizen.share_location(latitude, longitude)
            location_sent = True
        elif SUBMIT in by_payload and not photo_sent:
            citizen.send_photo(photo)  # taken at any step
            photo_sent = True
        elif SUBMIT in by_payload:
            press(by_payload[SUBMIT])
            return pressed
        elif service is not None:
            press(service)
        elif requested == "service_code":
            more = by_payload.get('/choose_option{"choice": "more"}')
            offered = f"{service_code} was not offered: {list(by_payload)}"
            assert more is not None, offered
            assert all(b["payload"] != more["payload"] for b, _ in pressed), offered
            press(more)
        elif choices:
            press(choices[0])
        elif "/skip" in by_payload:
            press(by_payload["/skip"])
        elif requested == "attribute_answer":
            citizen.say("5")  # a free-text question (a number, a date...) with no skip offered
        else:
            raise AssertionError(
                f"the driver does not know what to answer to step {requested!r}"
                f" with buttons {list(by_payload)}; last bot texts: "
                f"{bot_texts(stack, citizen.sender_id)[-3:]}"
            )
        wait_for_turn(stack, citizen.sender_id, mark)
        assert not any(str(b["payload"]) in _CONTROL_PAYLOADS for b, _ in pressed), (
            "never leaves the form"
        )
    raise AssertionError(
        f"no submit offered after {max_steps} steps: {bot_texts(stack, citizen.sender_id)[-5:]}"
    )


def assert_buttons_arrived_as_payloads(
    pressed: list[tuple[dict[str, Any], list[dict[str, Any]]]], channel: str
) -> None:
    """Each pressed button reached Rasa as one message: its payload, through this channel."""
    assert pressed
    for button, arrived in pressed:
        assert [(e.get("text"), e.get("input_channel")) for e in arrived] == [
            (button["payload"], channel)
        ], (button, arrived)


def assert_report_lands_on_the_ticket(
    stack: Stack, citizen: Citizen, channel: str
) -> tuple[dict[str, Any], int]:
    """Report a pothole with a photo and a shared location on ``channel``, then prove from the
    back office that the ticket has the photo (re-encoded), the coordinates and the service
    pressed by payload; returns the ticket as the public Open311 API shows it, and how many
    buttons were pressed."""
    photo = photo_with_exif()
    latitude, longitude = 32.0603, 118.7969

    pressed = file_report(
        stack,
        citizen,
        description="There is a deep pothole in the road outside the primary school",
        service_code="road_damage",
        photo=photo,
        latitude=latitude,
        longitude=longitude,
    )

    [ticket] = citizen_tickets(stack, f"{channel}:{citizen.sender_id}")
    public = public_ticket(stack, ticket["service_request_id"])
    assert public["service_code"] == "road_damage"
    assert (public["lat"], public["long"]) == (latitude, longitude)
    assert_photo_stored_reencoded(stack, f"{channel}:{citizen.sender_id}", public, photo)
    assert_buttons_arrived_as_payloads(pressed, channel)
    assert any(b["payload"] == '/choose_option{"choice": "road_damage"}' for b, _ in pressed)
    return public, len(pressed)


def trigger_intent(stack: Stack, sender: str, intent: str, output_channel: str) -> httpx.Response:
    """What the back office's relay does: Rasa's proactive ``trigger_intent``."""
    return httpx.post(
        f"{stack.config.rasa_url}/conversations/{sender}/trigger_intent",
        params={"token": stack.rasa_token, "output_channel": output_channel},
        json={"name": intent, "entities": {}},
        timeout=60,
    )
