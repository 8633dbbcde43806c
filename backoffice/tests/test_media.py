"""Photo uploads: content checks, caps, EXIF/GPS removal, storage, linking to tickets."""

from __future__ import annotations

import io
import stat
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from yarl import URL

from civicdesk_backoffice.models import MediaFile
from civicdesk_backoffice.settings import Settings
from tests.conftest import StaffFactory, file_request

Client = TestClient[Any, Any]
ME = "telegram:12345"
GPS_IFD = 0x8825
ORIENTATION = 0x0112


def _image_bytes(fmt: str, size: tuple[int, int] = (40, 20), *, with_gps: bool = False) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    if with_gps:
        exif = Image.Exif()
        exif[0x010F] = "SpyCam"  # camera make
        exif[ORIENTATION] = 6  # rotate 90 degrees when shown
        exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 1.0)})
        image.save(out, format=fmt, exif=exif)
    else:
        image.save(out, format=fmt)
    return out.getvalue()


def _form(
    data: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg", **fields: str
) -> FormData:
    form = FormData()
    form.add_field("file", data, filename=filename, content_type=content_type)
    for name, value in fields.items():
        form.add_field(name, value)
    return form


async def _upload(client: Client, api_key: str, form: FormData) -> Any:
    return await client.post("/api/v1/media", data=form, headers={"X-API-Key": api_key})


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
async def test_upload_reencodes_and_strips_exif_and_gps(
    client: Client, api_key: str, settings: Settings, fmt: str
) -> None:
    original = _image_bytes(fmt, with_gps=True)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the test photo has GPS

    response = await _upload(client, api_key, _form(original))
    assert response.status == 201, await response.text()
    body = await response.json()
    assert set(body) == {"media_id", "media_url"}
    extension = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[fmt]
    assert body["media_url"].endswith(f"/media/{body['media_id']}.{extension}")

    stored_path = Path(settings.media_dir) / f"{body['media_id']}.{extension}"
    assert stat.S_IMODE(stored_path.stat().st_mode) == 0o640
    stored = stored_path.read_bytes()
    assert stored != original
    assert b"SpyCam" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == fmt
        assert dict(image.getexif()) == {}
        assert "exif" not in image.info
        # The orientation was applied to the pixels before EXIF went away.
        assert image.size == (20, 40)

    # The client that uploaded it may fetch it back; the public may not yet (test_media_access).
    fetched = await client.get(URL(body["media_url"]).path, headers={"X-API-Key": api_key})
    assert fetched.status == 200
    assert fetched.headers["Content-Type"] == f"image/{'jpeg' if fmt == 'JPEG' else fmt.lower()}"
    assert fetched.headers["X-Content-Type-Options"] == "nosniff"
    assert await fetched.read() == stored


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (b"GIF89a" + b"\x00" * 100, "photo.jpg", "image/jpeg"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "photo.png", "image/png"),
        (b"%PDF-1.4 hello", "photo.webp", "image/webp"),
        (b"just text", "photo.jpg", "image/jpeg"),
    ],
)
async def test_non_images_and_other_formats_are_415(
    client: Client, api_key: str, data: bytes, filename: str, content_type: str
) -> None:
    response = await _upload(client, api_key, _form(data, filename, content_type))
    assert response.status == 415
    assert "JPEG, PNG or WebP" in (await response.json())["error"]["message"]


async def test_gif_is_refused_even_when_valid(client: Client, api_key: str) -> None:
    response = await _upload(client, api_key, _form(_image_bytes("GIF"), "a.gif", "image/gif"))
    assert response.status == 415


async def test_truncated_jpeg_is_refused(client: Client, api_key: str) -> None:
    data = _image_bytes("JPEG", (200, 200))
    response = await _upload(client, api_key, _form(data[: len(data) // 2]))
    assert response.status == 415


def _png_bomb(width: int, height: int) -> bytes:
    """A valid PNG of ``width`` x ``height`` black pixels: tiny on disk, huge decoded."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def test_decompression_bomb_is_refused_before_decoding(client: Client, api_key: str) -> None:
    bomb = _png_bomb(5000, 5000)  # 25 megapixels, the test limit is 4
    assert len(bomb) < 100_000
    response = await _upload(client, api_key, _form(bomb, "bomb.png", "image/png"))
    assert response.status == 413
    assert "pixels" in (await response.json())["error"]["message"]


async def test_oversize_file_is_413(client: Client, api_key: str) -> None:
    big = b"\xff\xd8" + b"\x00" * (2 * 1024 * 1024 + 10)
    response = await _upload(client, api_key, _form(big))
    assert response.status == 413


@pytest.mark.parametrize(("headers", "status"), [({}, 403), ({"X-API-Key": "cd_" + "q" * 32}, 403)])
async def test_upload_needs_an_api_key(
    client: Client, headers: dict[str, str], status: int
) -> None:
    response = await client.post("/api/v1/media", data=_form(_image_bytes("PNG")), headers=headers)
    assert response.status == status


async def test_malformed_uploads_are_4xx(client: Client, api_key: str) -> None:
    key = {"X-API-Key": api_key}
    response = await client.post("/api/v1/media", data=b"xx", headers=key)
    assert response.status == 415
    form = FormData()
    form.add_field("other", b"123", filename="x.bin")
    response = await client.post("/api/v1/media", data=form, headers=key)
    assert response.status == 400
    response = await client.post(
        "/api/v1/media",
        data=b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
        headers={**key, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert 400 <= response.status < 500


async def test_several_photos_on_one_ticket_and_linking_on_filing(
    client: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first = await (await _upload(client, api_key, _form(_image_bytes("JPEG")))).json()
    reference = await file_request(client, api_key, media_url=first["media_url"])
    second = await _upload(
        client,
        api_key,
        _form(_image_bytes("PNG"), service_request_id=reference, account_id=ME),
    )
    assert second.status == 201

    # Another citizen's ticket (or one that does not exist) takes no photos.
    for identity, target in (("wechat:someone", reference), (ME, "CD-000000")):
        response = await _upload(
            client,
            api_key,
            _form(_image_bytes("PNG"), service_request_id=target, account_id=identity),
        )
        assert response.status == 404

    citizen = await client.get(
        f"/api/v1/citizens/{ME}/tickets/{reference}", headers={"X-API-Key": api_key}
    )
    photos = (await citizen.json())["ticket"]["media"]
    assert [p["media_id"] for p in photos] == [first["media_id"], (await second.json())["media_id"]]

    ann = await make_staff("ann", "Street Lighting")
    staff_view = await (
        await client.get(f"/api/v1/staff/tickets/{reference}", headers=ann.headers)
    ).json()
    assert len(staff_view["ticket"]["media"]) == 2
    async with sessionmaker() as session:
        assert len((await session.scalars(select(MediaFile))).all()) == 2


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "x.jpg", "AAAAAAAAAAAAAAAAAAAAAA.gif", "AAAAAAAAAAAAAAAAAAAAAA.jpg"],
)
async def test_unknown_or_crafted_media_names_are_404(client: Client, name: str) -> None:
    response = await client.get(f"/media/{name}")
    assert response.status == 404
