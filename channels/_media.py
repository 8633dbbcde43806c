"""Photos and locations as structured message metadata, and the back-office media upload.

Every adapter puts what the citizen shared under the same keys of ``UserMessage.metadata``,
so actions read one shape whatever the platform::

    {"channel": "telegram",
     "location": {"latitude": 32.06, "longitude": 118.79},
     "photo": {"media_id": "...", "media_url": "..."}}
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

logger = logging.getLogger(__name__)

DEFAULT_MAX_PHOTO_BYTES = 10 * 1024 * 1024
BACKOFFICE_URL_ENV = "CIVICDESK_BACKOFFICE_URL"
BACKOFFICE_API_KEY_ENV = "CIVICDESK_BACKOFFICE_API_KEY"

# What the bot receives as the message text when a citizen shares something without words;
# the bot's NLU maps these intents and reads the metadata.
PHOTO_INTENT_TEXT = "/share_photo"
LOCATION_INTENT_TEXT = "/share_location"


class InvalidLocation(ValueError):
    """Coordinates outside the valid range or not numbers."""


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float

    @classmethod
    def parse(cls, latitude: Any, longitude: Any) -> Location:
        """Validate coordinates from a platform payload.

        Raises:
            InvalidLocation: not finite numbers within [-90, 90] and [-180, 180].
        """
        try:
            lat, lon = float(latitude), float(longitude)
        except (TypeError, ValueError) as error:
            raise InvalidLocation("coordinates must be numbers") from error
        if isinstance(latitude, bool) or isinstance(longitude, bool):
            raise InvalidLocation("coordinates must be numbers")
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise InvalidLocation("coordinates must be finite")
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise InvalidLocation("coordinates out of range")
        return cls(lat, lon)


@dataclass(frozen=True)
class UploadedMedia:
    media_id: str
    media_url: str


def message_metadata(
    channel: str,
    *,
    location: Location | None = None,
    photo: UploadedMedia | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The metadata dict every adapter attaches to its ``UserMessage``."""
    metadata: dict[str, Any] = {"channel": channel, **(extra or {})}
    if location is not None:
        metadata["location"] = {"latitude": location.latitude, "longitude": location.longitude}
    if photo is not None:
        metadata["photo"] = {"media_id": photo.media_id, "media_url": photo.media_url}
    return metadata


class MediaUploadFailed(RuntimeError):
    """The back office did not take the photo (down, refused, or answered nonsense)."""


class InvalidPhoto(ValueError):
    """The photo cannot be taken: empty, or over the configured size cap."""


class PhotoTooLarge(InvalidPhoto):
    """The photo is over the configured size cap."""


class MediaUploader(Protocol):
    """Stores a photo somewhere staff can see it and returns its id and URL."""

    async def upload(self, data: bytes, *, filename: str, content_type: str) -> UploadedMedia:
        """Upload ``data``.

        Raises:
            MediaUploadFailed: the photo was not stored.
        """


class BackOfficeMediaUploader:
    """``POST {backoffice}/api/v1/media`` (multipart field ``file``, ``X-API-Key`` header).

    The back office re-encodes the image (EXIF and GPS stripped) and answers
    ``{"media_id": ..., "media_url": ...}``.
    """

    def __init__(self, base_url: str, api_key: str, *, timeout_seconds: float = 10.0) -> None:
        self._url = base_url.rstrip("/") + "/api/v1/media"
        self._api_key = api_key
        self._timeout = timeout_seconds

    @classmethod
    def from_env(cls) -> BackOfficeMediaUploader:
        return cls(
            os.environ.get(BACKOFFICE_URL_ENV, "http://127.0.0.1:8000"),
            os.environ.get(BACKOFFICE_API_KEY_ENV, ""),
        )

    async def upload(self, data: bytes, *, filename: str, content_type: str) -> UploadedMedia:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(
                    self._url,
                    headers={"X-API-Key": self._api_key},
                    files={"file": (filename, data, content_type)},
                )
        except httpx.HTTPError as error:
            raise MediaUploadFailed("back office unreachable") from error
        if not response.is_success:
            raise MediaUploadFailed(f"back office answered {response.status_code}")
        try:
            body = response.json()
            return UploadedMedia(media_id=str(body["media_id"]), media_url=str(body["media_url"]))
        except (ValueError, KeyError, TypeError) as error:
            raise MediaUploadFailed("back office answer has no media_id/media_url") from error


def check_photo_size(data: bytes | bytearray, max_bytes: int) -> None:
    """Raise ``PhotoTooLarge`` when ``data`` is over ``max_bytes``, ``InvalidPhoto`` if empty."""
    if len(data) > max_bytes:
        raise PhotoTooLarge(f"photo is {len(data)} bytes; the limit is {max_bytes}")
    if not data:
        raise InvalidPhoto("photo is empty")
