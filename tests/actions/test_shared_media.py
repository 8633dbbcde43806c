"""Shared locations and photos from message metadata: nothing is used before it is re-checked."""

from __future__ import annotations

import math
from typing import Any

import pytest

from actions.shared_media import (
    check_coordinates,
    check_media_url,
    coordinates_slot,
    display_coordinates,
    shared_location,
    shared_photo,
)
from tests.conftest import make_tracker

BASE = "http://127.0.0.1:8000"
PUBLIC = "https://civicdesk.example.org/bo"
MEDIA_ID = "AbCdEfGhIjKlMnOpQrStUv"
PHOTO_URL = f"{BASE}/media/{MEDIA_ID}.png"


@pytest.mark.parametrize(
    ("latitude", "longitude", "expected"),
    [
        (32.0603, 118.7969, (32.0603, 118.7969)),
        (-90, 180, (-90.0, 180.0)),
        (90.0, -180.0, (90.0, -180.0)),
        (90.0001, 0, None),
        (0, -180.5, None),
        ("32.06", 118.79, None),
        (True, 118.79, None),
        (math.nan, 0, None),
        (0, math.inf, None),
        (None, 0, None),
    ],
)
def test_coordinates_must_be_numbers_in_range(
    latitude: Any, longitude: Any, expected: tuple[float, float] | None
) -> None:
    assert check_coordinates(latitude, longitude) == expected


def test_the_coordinates_slot_is_rechecked() -> None:
    assert coordinates_slot([32.06, 118.79]) == (32.06, 118.79)
    assert coordinates_slot([32.06, 190]) is None
    assert coordinates_slot({"latitude": 32.06, "longitude": 118.79}) is None
    assert coordinates_slot([1, 2, 3]) is None
    assert display_coordinates((32.0603, 118.7969)) == "32.060300, 118.796900"


def location_message(metadata: dict[str, Any] | None, intent: str = "share_location") -> Any:
    return make_tracker({}, text="/share_location", intent=intent, metadata=metadata)


def test_a_shared_location_is_read_from_the_metadata() -> None:
    tracker = location_message({"location": {"latitude": 32.0603, "longitude": 118.7969}})

    assert shared_location(tracker) == ((32.0603, 118.7969), None)


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        {},
        {"location": {"latitude": 132.0, "longitude": 118.7}},
        {"location": {"latitude": "32", "longitude": "118"}},
        {"location": [32.06, 118.79]},
    ],
)
def test_an_announced_but_unusable_location_is_a_problem(metadata: Any) -> None:
    assert shared_location(location_message(metadata)) == (None, "utter_shared_location_invalid")


def test_a_message_without_a_location_is_no_problem() -> None:
    assert shared_location(location_message(None, intent="inform")) == (None, None)


@pytest.mark.parametrize(
    "url",
    [
        PHOTO_URL,
        f"{BASE}/media/{MEDIA_ID}.jpg",
        f"{PUBLIC}/media/{MEDIA_ID}.webp",
    ],
)
def test_photos_on_the_configured_back_office_are_accepted(url: str) -> None:
    assert check_media_url(url, (BASE, PUBLIC)) == url


@pytest.mark.parametrize(
    "url",
    [
        f"http://evil.example/media/{MEDIA_ID}.png",
        f"https://127.0.0.1:8000/media/{MEDIA_ID}.png",
        f"http://127.0.0.1:8001/media/{MEDIA_ID}.png",
        f"http://127.0.0.1:8000@evil.example/media/{MEDIA_ID}.png",
        f"{BASE}/media/{MEDIA_ID}.png?x=1",
        f"{BASE}/media/{MEDIA_ID}.png#top",
        f"{BASE}/media/../secrets/{MEDIA_ID}.png",
        f"{BASE}/media/{MEDIA_ID}.svg",
        f"{BASE}/other/{MEDIA_ID}.png",
        f"{BASE}/media/{MEDIA_ID}.png/extra",
        f"{BASE}/media/" + "a" * 300 + ".png",
        "javascript:alert(1)",
        "",
        None,
        42,
    ],
)
def test_any_other_photo_reference_is_refused(url: Any) -> None:
    assert check_media_url(url, (BASE, "")) is None


def photo_message(photo: Any, intent: str = "share_photo") -> Any:
    return make_tracker({}, text="/share_photo", intent=intent, metadata={"photo": photo})


def test_a_photo_is_its_media_url() -> None:
    tracker = photo_message({"media_id": MEDIA_ID, "media_url": PHOTO_URL})

    assert shared_photo(tracker, (BASE,)) == (PHOTO_URL, None)


@pytest.mark.parametrize(
    "photo",
    [
        {"media_id": "OtherOtherOtherOther12", "media_url": PHOTO_URL},
        {"media_id": "../../etc/passwd", "media_url": PHOTO_URL},
        {"media_id": 12345678, "media_url": PHOTO_URL},
        {"media_id": MEDIA_ID},
        {"media_url": f"http://evil.example/media/{MEDIA_ID}.png"},
        "http://127.0.0.1:8000/media/x.png",
    ],
)
def test_an_unusable_photo_is_a_problem(photo: Any) -> None:
    assert shared_photo(photo_message(photo), (BASE,)) == (None, "utter_photo_not_usable")


def test_share_photo_without_metadata_is_a_problem_and_plain_text_is_not() -> None:
    bare = make_tracker({}, text="/share_photo", intent="share_photo")
    typed = make_tracker({}, text="12 Main St", intent="inform")

    assert shared_photo(bare, (BASE,)) == (None, "utter_photo_not_usable")
    assert shared_photo(typed, (BASE,)) == (None, None)
