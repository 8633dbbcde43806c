"""Photo uploads: judged by content, size- and pixel-capped, re-encoded, stored by random name.

Only JPEG, PNG and WebP are accepted, decided by Pillow reading the bytes (never by the
file name or the declared content type). Images larger than ``max_media_pixels`` are refused
before their pixels are decoded, so a small file cannot expand into gigabytes. Every accepted
image is decoded and written again without its metadata, which drops EXIF (GPS position,
camera serial numbers) and text chunks; the EXIF orientation is applied to the pixels first
so the photo still shows the right way up. Files get a random 128-bit name in
``media_dir``; that name is the only way to fetch them, and knowing it is not enough: who
may fetch which photo is decided in ``media_views.py``.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import secrets
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from civicdesk_backoffice.app_keys import SESSIONMAKER, SETTINGS
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import MediaFile, ServiceEntry, ServiceType, Ticket, utcnow

MEDIA_ROUTE_PREFIX = "/media/"
_FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
}
_CONTENT_TYPES = dict(_FORMATS.values())
_MEDIA_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_FILE_NAME = re.compile(r"([A-Za-z0-9_-]{22})\.(jpg|png|webp)")
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Encoded:
    """A re-encoded image, ready to store."""

    data: bytes
    extension: str
    content_type: str
    width: int
    height: int


def reencode(data: bytes, max_pixels: int) -> Encoded:
    """Check that ``data`` is a JPEG, PNG or WebP image and write it again without metadata.

    Runs Pillow's decoders, so call it in a worker thread.

    Raises:
        ApiError: 415 for anything else or an undecodable image, 413 for too many pixels.
    """
    with warnings.catch_warnings():
        # Pillow's own bomb check only warns below twice its limit; make it refuse.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=list(_FORMATS)) as image:
                if image.width * image.height > max_pixels:
                    raise ApiError(
                        413,
                        f"The image is {image.width}x{image.height} pixels; "
                        f"at most {max_pixels} pixels are accepted.",
                    )
                source_format = str(image.format)
                image.load()
                upright = ImageOps.exif_transpose(image)
        except ApiError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ApiError(413, "The image has too many pixels to be accepted.") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
            raise ApiError(
                415, "Send a photo as a JPEG, PNG or WebP image; this file is not one."
            ) from None
    extension, content_type = _FORMATS[source_format]
    pixels = _with_plain_mode(upright, source_format)
    out = io.BytesIO()
    if source_format == "JPEG":
        pixels.save(out, format="JPEG", quality=85, optimize=True)
    elif source_format == "WEBP":
        pixels.save(out, format="WEBP", quality=85)
    else:
        pixels.save(out, format="PNG", optimize=True)
    return Encoded(out.getvalue(), extension, content_type, pixels.width, pixels.height)


def _with_plain_mode(image: Image.Image, source_format: str) -> Image.Image:
    """The image in a mode its format can store (palette and odd modes converted)."""
    if source_format == "JPEG":
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if image.mode in ("RGB", "RGBA", "L"):
        return image
    has_alpha = image.mode in ("LA", "PA", "RGBa", "La") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


async def read_upload(request: web.Request) -> tuple[bytes, dict[str, str]]:
    """The ``file`` part of a multipart upload and its short text fields.

    Raises:
        ApiError: 415 when the body is not multipart, 413 past ``max_media_bytes``, 400
            when the file part is missing or a text field is malformed.
    """
    if request.content_type != "multipart/form-data":
        raise ApiError(415, "Upload the photo as multipart/form-data with a part named file.")
    limit = request.app[SETTINGS].max_media_bytes
    try:
        reader = await request.multipart()
        data: bytes | None = None
        fields: dict[str, str] = {}
        for _ in range(10):  # a handful of parts at most
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "Nested multipart bodies are not accepted.")
            if part.name == "file":
                if data is not None:
                    raise ApiError(400, "Send one file per upload.")
                data = await _read_capped(part, limit)
            elif part.name in ("service_request_id", "account_id"):
                raw = await _read_capped(part, 1024)
                fields[part.name] = raw.decode("utf-8").strip()
            else:
                raise ApiError(400, f"Unknown part {str(part.name)[:40]!r} in the upload.")
    except (ValueError, UnicodeDecodeError, AssertionError):
        raise ApiError(400, "The multipart body is malformed.") from None
    if data is None or not data:
        raise ApiError(400, "The upload has no part named file (or it is empty).")
    return data, fields


async def _read_capped(part: BodyPartReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"The file is larger than the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def new_media_id() -> str:
    """A random, unguessable name (128 bits)."""
    return secrets.token_urlsafe(16)


def write_file(folder: Path, name: str, data: bytes) -> None:
    """Write a new file readable by the back office only; never overwrite one."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o750)
    descriptor = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def media_url(request: web.Request, item: MediaFile) -> str:
    """The absolute URL a photo is fetched from."""
    base = request.app[SETTINGS].public_url.rstrip("/") or str(request.url.origin())
    return f"{base}{MEDIA_ROUTE_PREFIX}{item.id}.{item.extension}"


def media_id_from_url(url: str | None) -> str | None:
    """The media id inside one of our own ``media_url``s, or None."""
    if not url:
        return None
    _, marker, name = url.rpartition(MEDIA_ROUTE_PREFIX)
    match = _FILE_NAME.fullmatch(name) if marker else None
    return None if match is None else match.group(1)


async def store(
    request: web.Request, encoded: Encoded, api_key_id: int, ticket: Ticket | None
) -> MediaFile:
    """Write the file, then record it (linked to ``ticket`` when given)."""
    settings = request.app[SETTINGS]
    item = MediaFile(
        id=new_media_id(),
        ticket_id=None if ticket is None else ticket.id,
        api_key_id=api_key_id,
        extension=encoded.extension,
        content_type=encoded.content_type,
        byte_size=len(encoded.data),
        width=encoded.width,
        height=encoded.height,
        created_at=utcnow(),
    )
    name = f"{item.id}.{item.extension}"
    await asyncio.to_thread(write_file, Path(settings.media_dir), name, encoded.data)
    try:
        async with request.app[SESSIONMAKER].begin() as session:
            session.add(item)
    except BaseException:
        (Path(settings.media_dir) / name).unlink(missing_ok=True)
        raise
    return item


async def attach_unclaimed(session: AsyncSession, media_id: str, ticket_id: int) -> None:
    """Link an uploaded, not yet linked photo to a newly filed ticket."""
    item = await session.get(MediaFile, media_id)
    if item is not None and item.ticket_id is None:
        item.ticket_id = ticket_id


def media_id_field(value: object) -> str | None:
    """A ``media_id`` given in a JSON body, checked for form (None when absent).

    Raises:
        ApiError: 400 when it is not a media id as ``POST /api/v1/media`` hands them out.
    """
    if value is None:
        return None
    if not isinstance(value, str) or _MEDIA_ID.fullmatch(value) is None:
        raise ApiError(400, "media_id must be the media_id POST /api/v1/media answered.")
    return value


async def attach_to_ticket(session: AsyncSession, media_id: str, ticket: Ticket) -> MediaFile:
    """Link an uploaded photo to ``ticket`` (again to the same ticket: no change).

    Raises:
        ApiError: 422 when there is no such photo or it is already on another ticket.
    """
    query = select(MediaFile).where(MediaFile.id == media_id).with_for_update()
    item = (await session.scalars(query)).first()
    if item is None:
        raise ApiError(422, "There is no uploaded photo with that media_id.")
    if item.ticket_id is not None and item.ticket_id != ticket.id:
        raise ApiError(422, "That photo is already on another ticket.")
    item.ticket_id = ticket.id
    return item


async def media_of(session: AsyncSession, ticket: Ticket) -> list[MediaFile]:
    """The ticket's photos, oldest first."""
    query = (
        select(MediaFile)
        .where(MediaFile.ticket_id == ticket.id)
        .order_by(MediaFile.created_at, MediaFile.id)
    )
    return list((await session.scalars(query)).all())


def public_view(item: MediaFile, url: str | None = None) -> dict[str, Any]:
    """What API answers say about a photo."""
    return {
        "media_id": item.id,
        "media_url": url if url is not None else f"{MEDIA_ROUTE_PREFIX}{item.id}.{item.extension}",
        "content_type": item.content_type,
        "width": item.width,
        "height": item.height,
    }


def is_public_condition() -> ColumnElement[bool]:
    """SQL: the photo (``media`` joined to its ticket and service) may be shown to anyone.

    Approved by staff, not flagged, on a published complaint (the public page shows nothing
    of an application's or feedback's place, photos included).
    """
    return and_(
        MediaFile.approved_at.is_not(None),
        MediaFile.flagged.is_(False),
        Ticket.published_at.is_not(None),
        ServiceEntry.type == ServiceType.COMPLAINT.value,
    )


def _public_media() -> Select[tuple[str]]:
    return (
        select(MediaFile.id)
        .join(Ticket, Ticket.id == MediaFile.ticket_id)
        .join(ServiceEntry, ServiceEntry.code == Ticket.service_code)
        .where(is_public_condition())
    )


async def public_media_ids(
    executor: AsyncConnection | AsyncSession, media_ids: Collection[str]
) -> set[str]:
    """Which of ``media_ids`` the public may see (see :func:`is_public_condition`)."""
    if not media_ids:
        return set()
    query = _public_media().where(MediaFile.id.in_(sorted(media_ids)))
    return {str(media_id) for media_id in (await executor.execute(query)).scalars()}


def parse_file_name(name: str) -> tuple[str, str] | None:
    """``(media_id, extension)`` of a stored photo's file name, or None if it is not one."""
    match = _FILE_NAME.fullmatch(name)
    return None if match is None else (match.group(1), match.group(2))


def file_response(folder: Path, item: MediaFile, *, cache_control: str) -> web.FileResponse:
    """The stored file of ``item`` with its content type; the caller checked it exists."""
    return web.FileResponse(
        folder / f"{item.id}.{item.extension}",
        headers={
            "Content-Type": _CONTENT_TYPES.get(item.extension, "application/octet-stream"),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": cache_control,
        },
    )
