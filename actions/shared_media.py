"""Locations and photos a channel attached to a message, re-validated before any use.

Channels deliver a shared location as the text ``/share_location`` with message metadata
``{"location": {"latitude": .., "longitude": ..}}`` and a photo as ``/share_photo`` (or a
caption) with ``{"photo": {"media_id": .., "media_url": ..}}``, already uploaded to the back
office (docs/channels.md, "Message metadata"). Metadata comes from outside the bot like any
slot value, so nothing here is trusted as given: coordinates must be finite numbers in range,
and a photo must be a ``media_url`` served by the configured back office.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from rasa_sdk import Tracker

SHARE_LOCATION = "share_location"
SHARE_PHOTO = "share_photo"
MAX_MEDIA_URL_CHARS = 255  # Open311 media_url column of the back office
# A media id is a random, URL-safe name; the stored file adds the image format's extension.
_MEDIA_ID = re.compile(r"[A-Za-z0-9_-]{8,128}")
_MEDIA_NAME = re.compile(r"([A-Za-z0-9_-]{8,128})\.(?:jpg|jpeg|png|webp)")


def _metadata(tracker: Tracker) -> Mapping[str, Any]:
    metadata = tracker.latest_message.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _intent(tracker: Tracker) -> str | None:
    intent = tracker.latest_message.get("intent") or {}
    name = intent.get("name") if isinstance(intent, Mapping) else None
    return name if isinstance(name, str) else None


def _number(value: Any) -> float | None:
    # bool is an int subclass; "true" is not a latitude.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def check_coordinates(latitude: Any, longitude: Any) -> tuple[float, float] | None:
    """``(lat, long)`` when both are finite numbers in range, else None."""
    lat, long = _number(latitude), _number(longitude)
    if lat is None or long is None or not -90 <= lat <= 90 or not -180 <= long <= 180:
        return None
    return lat, long


def coordinates_slot(value: Any) -> tuple[float, float] | None:
    """The ``issue_coordinates`` slot (``[lat, long]``) re-validated, or None."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    return check_coordinates(value[0], value[1])


def display_coordinates(coordinates: tuple[float, float]) -> str:
    """How a shared place is shown in the summary (numbers only, the same in any language)."""
    return f"{coordinates[0]:.6f}, {coordinates[1]:.6f}"


def shared_location(tracker: Tracker) -> tuple[tuple[float, float] | None, str | None]:
    """The location attached to the latest message.

    Returns:
        ``(coordinates, None)`` for a valid location; ``(None, response key)`` when one was
        announced (metadata or the ``share_location`` intent) but is unusable; ``(None, None)``
        when the message carries none.
    """
    raw = _metadata(tracker).get("location")
    if raw is None:
        return None, (
            "utter_shared_location_invalid" if _intent(tracker) == SHARE_LOCATION else None
        )
    if isinstance(raw, Mapping):
        coordinates = check_coordinates(raw.get("latitude"), raw.get("longitude"))
        if coordinates is not None:
            return coordinates, None
    return None, "utter_shared_location_invalid"


def check_media_url(value: Any, allowed_bases: Iterable[str]) -> str | None:
    """``value`` if it names one stored photo on one of ``allowed_bases``, else None.

    Only ``{base}/media/{id}.{jpg|jpeg|png|webp}`` passes: same scheme, host and port as a
    configured base, no credentials, query or fragment, nothing after the file name.
    """
    if not isinstance(value, str) or not 0 < len(value) <= MAX_MEDIA_URL_CHARS:
        return None
    try:
        url = urlsplit(value)
        port = url.port
    except ValueError:
        return None
    if url.query or url.fragment or url.username or url.password or not url.hostname:
        return None
    for base in allowed_bases:
        if not base:
            continue
        try:
            root = urlsplit(base.rstrip("/"))
            root_port = root.port
        except ValueError:
            continue
        same_origin = (url.scheme, url.hostname, port) == (
            root.scheme,
            root.hostname,
            root_port,
        )
        prefix = f"{root.path}/media/"
        name = url.path[len(prefix) :]
        if same_origin and url.path.startswith(prefix) and _MEDIA_NAME.fullmatch(name):
            return value
    return None


def media_id_of(media_url: str) -> str | None:
    """The media id inside a photo URL that :func:`check_media_url` accepted."""
    found = _MEDIA_NAME.fullmatch(media_url.rpartition("/")[2])
    return found.group(1) if found else None


def shared_photo(tracker: Tracker, allowed_bases: Iterable[str]) -> tuple[str | None, str | None]:
    """The photo attached to the latest message, as the ``media_url`` to file.

    The ``media_url`` must be on the configured back office; a ``media_id`` given with it
    must be of sane form and name the same file. A ``media_id`` alone is not enough: the back
    office links a photo to a ticket only through the ``media_url`` filed with it.

    Returns:
        ``(media_url, None)``; ``(None, response key)`` when a photo was announced but is
        unusable; ``(None, None)`` when the message carries none.
    """
    raw = _metadata(tracker).get("photo")
    if raw is None:
        return None, ("utter_photo_not_usable" if _intent(tracker) == SHARE_PHOTO else None)
    if not isinstance(raw, Mapping):
        return None, "utter_photo_not_usable"
    url = check_media_url(raw.get("media_url"), allowed_bases)
    media_id = raw.get("media_id")
    if url is None:
        return None, "utter_photo_not_usable"
    if media_id is not None and (
        not isinstance(media_id, str)
        or not _MEDIA_ID.fullmatch(media_id)
        or media_id != media_id_of(url)
    ):
        return None, "utter_photo_not_usable"
    return url, None
