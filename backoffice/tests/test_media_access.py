"""Who may fetch a stored photo (``/media/``) and when Open311 names it in ``media_url``.

The public sees a photo only once staff approved it, did not flag it, and published its
report; the API client that uploaded it and staff who may see its ticket see it always.
"""

from __future__ import annotations

import io
from typing import Any

from aiohttp import FormData
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from yarl import URL

from civicdesk_backoffice import api_keys
from civicdesk_backoffice.models import StaffRole
from civicdesk_backoffice.settings import Settings
from tests.conftest import ClientFactory, StaffFactory, audit_log, file_request, parse_open311_xml
from tests.console_helpers import Client, browser, csrf_of, post_form, signed_in


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 10), (10, 160, 60)).save(out, format="PNG")
    return out.getvalue()


async def _upload_then_file(client: Client, api_key: str) -> tuple[str, str, str]:
    """The bot's path: upload the photo, then file the request with its ``media_url``.

    Returns the reference, the photo's path under ``/media/`` and its media id.
    """
    form = FormData()
    form.add_field("file", _png(), filename="p.png", content_type="image/png")
    uploaded = await client.post("/api/v1/media", data=form, headers={"X-API-Key": api_key})
    assert uploaded.status == 201, await uploaded.text()
    body = await uploaded.json()
    reference = await file_request(client, api_key, media_url=body["media_url"])
    return reference, URL(body["media_url"]).path, str(body["media_id"])


async def _open311_media_url(client: Client, reference: str) -> Any:
    one = (await (await client.get(f"/open311/v2/requests/{reference}.json")).json())[0]
    listed = await (
        await client.get("/open311/v2/requests.json", params={"service_request_id": reference})
    ).json()
    assert [item["media_url"] for item in listed] == [one["media_url"]]
    as_xml = await client.get(f"/open311/v2/requests/{reference}.xml")
    xml = parse_open311_xml(await as_xml.text())
    assert (xml.findtext("request/media_url") or None) == one["media_url"]
    return one["media_url"]


async def test_an_unreviewed_photo_is_hidden_from_the_public_and_served_to_staff(
    aiohttp_client: ClientFactory,
    settings: Settings,
    make_staff: StaffFactory,
    api_key: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    bot = await browser(aiohttp_client, settings)
    reference, path, media_id = await _upload_then_file(bot, api_key)
    stored = (settings.media_dir / path.rpartition("/")[2]).read_bytes()
    public = await browser(aiohttp_client, settings)

    assert (await public.get(path)).status == 404
    assert await _open311_media_url(public, reference) is None

    # The bot, which uploaded it, may fetch it; another API client may not.
    mine = await bot.get(path, headers={"X-API-Key": api_key})
    assert mine.status == 200
    assert await mine.read() == stored
    async with sessionmaker.begin() as session:
        other_key = await api_keys.create_api_key(session, "other-integrator")
    assert (await public.get(path, headers={"X-API-Key": other_key})).status == 404

    ann = await make_staff("ann", "Street Lighting")
    bob = await make_staff("bob", "Licensing")
    root = await make_staff("root", "Licensing", StaffRole.ADMIN)
    # The staff API's HTTP Basic sign-in: own department and admins yes, others no.
    assert (await public.get(path, headers=ann.headers)).status == 200
    assert (await public.get(path, headers=root.headers)).status == 200
    assert (await public.get(path, headers=bob.headers)).status == 404
    wrong = {"Authorization": ann.headers["Authorization"][:-2] + "xx"}
    assert (await public.get(path, headers=wrong)).status == 404

    # The console's thumbnails load with the session cookie.
    console = await browser(aiohttp_client, settings)
    await signed_in(console, ann)
    page = await (await console.get(f"/staff/tickets/{reference}")).text()
    assert f'src="{path}"' in page
    shown = await console.get(path)
    assert shown.status == 200
    assert shown.headers["Cache-Control"] == "private, no-cache"
    assert await shown.read() == stored
    reads = [e for e in await audit_log(sessionmaker) if e.action == "media.read"]
    assert {entry.detail["media_id"] for entry in reads} == {media_id}
    assert len(reads) == 3  # ann and root by HTTP Basic, ann in the console


async def test_approval_makes_a_photo_public_and_flagging_removes_it(
    aiohttp_client: ClientFactory, settings: Settings, make_staff: StaffFactory, api_key: str
) -> None:
    bot = await browser(aiohttp_client, settings)
    reference, path, media_id = await _upload_then_file(bot, api_key)
    public = await browser(aiohttp_client, settings)
    console = await browser(aiohttp_client, settings)
    await signed_in(console, await make_staff("ann", "Street Lighting"))
    base = f"/staff/tickets/{reference}"
    csrf = csrf_of(await (await console.get(base)).text())

    # Approved but the report not published: still private.
    await post_form(console, f"{base}/photos/{media_id}", csrf, decision="approve")
    assert (await public.get(path)).status == 404
    assert await _open311_media_url(public, reference) is None

    await post_form(console, f"{base}/publish", csrf, publish="1")
    shown = await public.get(path)
    assert shown.status == 200
    assert shown.headers["Content-Type"] == "image/png"
    assert shown.headers["Cache-Control"] == "public, max-age=300"
    url = await _open311_media_url(public, reference)
    assert url is not None
    assert URL(url).path == path
    assert f"/reports/photos/{media_id}" in await (await public.get(f"/reports/{reference}")).text()

    # A face or a plate: flagged, gone everywhere public, at once.
    await post_form(console, f"{base}/photos/{media_id}", csrf, decision="flag")
    assert (await public.get(path)).status == 404
    assert await _open311_media_url(public, reference) is None
    assert (await public.get(f"/reports/photos/{media_id}")).status == 404
    # Staff and the uploading bot still see it.
    assert (await console.get(path)).status == 200
    assert (await bot.get(path, headers={"X-API-Key": api_key})).status == 200


async def test_unpublishing_hides_an_approved_photo_again(
    aiohttp_client: ClientFactory, settings: Settings, make_staff: StaffFactory, api_key: str
) -> None:
    bot = await browser(aiohttp_client, settings)
    reference, path, media_id = await _upload_then_file(bot, api_key)
    public = await browser(aiohttp_client, settings)
    console = await browser(aiohttp_client, settings)
    await signed_in(console, await make_staff("ann", "Street Lighting"))
    base = f"/staff/tickets/{reference}"
    csrf = csrf_of(await (await console.get(base)).text())
    await post_form(console, f"{base}/publish", csrf, publish="1")
    await post_form(console, f"{base}/photos/{media_id}", csrf, decision="approve")
    assert (await public.get(path)).status == 200
    await post_form(console, f"{base}/publish", csrf, publish="0")
    assert (await public.get(path)).status == 404
    assert await _open311_media_url(public, reference) is None


async def test_a_photo_url_elsewhere_is_given_only_once_the_report_is_published(
    aiohttp_client: ClientFactory, settings: Settings, make_staff: StaffFactory, api_key: str
) -> None:
    elsewhere = "https://photos.example.org/requests/638344.jpg"
    client = await browser(aiohttp_client, settings)
    reference = await file_request(client, api_key, media_url=elsewhere)
    assert await _open311_media_url(client, reference) is None
    await signed_in(client, await make_staff("ann", "Street Lighting"))
    base = f"/staff/tickets/{reference}"
    csrf = csrf_of(await (await client.get(base)).text())
    await post_form(client, f"{base}/publish", csrf, publish="1")
    assert await _open311_media_url(client, reference) == elsewhere


async def test_a_photo_not_yet_on_a_ticket_is_for_its_uploader_and_admins_only(
    aiohttp_client: ClientFactory, settings: Settings, make_staff: StaffFactory, api_key: str
) -> None:
    client = await browser(aiohttp_client, settings)
    form = FormData()
    form.add_field("file", _png(), filename="p.png", content_type="image/png")
    body = await (
        await client.post("/api/v1/media", data=form, headers={"X-API-Key": api_key})
    ).json()
    path = URL(body["media_url"]).path
    ann = await make_staff("ann", "Street Lighting")
    root = await make_staff("root", "Licensing", StaffRole.ADMIN)
    assert (await client.get(path)).status == 404
    assert (await client.get(path, headers=ann.headers)).status == 404
    assert (await client.get(path, headers=root.headers)).status == 200
    assert (await client.get(path, headers={"X-API-Key": api_key})).status == 200
    # The right name with another extension is no photo.
    other = path.rsplit(".", 1)[0] + ".jpg"
    assert (await client.get(other, headers={"X-API-Key": api_key})).status == 404
