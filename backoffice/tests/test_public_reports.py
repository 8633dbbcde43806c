"""The public reports page: published reports only, reviewed photos only, no personal data."""

from __future__ import annotations

import io
import re
import secrets
from typing import Any

from aiohttp import FormData
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.models import (
    ApiKey,
    CommentAuthor,
    CommentVisibility,
    Handoff,
    MediaFile,
    StaffRole,
    StaffUser,
    Ticket,
    TicketComment,
    utcnow,
)
from civicdesk_backoffice.settings import Settings
from civicdesk_backoffice.tickets import new_reference
from tests.conftest import ClientFactory, StaffFactory, file_request
from tests.console_helpers import Client, browser, post_form, signed_in


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (30, 90, 200)).save(out, format="JPEG")
    return out.getvalue()


async def _photo(client: Client, api_key: str, reference: str) -> str:
    form = FormData()
    form.add_field("file", _jpeg(), filename="p.jpg", content_type="image/jpeg")
    form.add_field("service_request_id", reference)
    form.add_field("account_id", "telegram:12345")
    answer = await client.post("/api/v1/media", data=form, headers={"X-API-Key": api_key})
    assert answer.status == 201, await answer.text()
    return str((await answer.json())["media_id"])


async def _staff_csrf(client: Client, reference: str) -> str:
    page = await (await client.get(f"/staff/tickets/{reference}")).text()
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def test_only_published_reports_are_listed_and_shown(
    aiohttp_client: ClientFactory, settings: Settings, make_staff: StaffFactory, api_key: str
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    staff_browser = await browser(aiohttp_client, settings)
    public = await browser(aiohttp_client, settings)
    reference = await file_request(staff_browser, api_key)
    hidden = await file_request(staff_browser, api_key)
    assert (await public.get(f"/reports/{reference}")).status == 404
    assert reference not in await (await public.get("/reports/")).text()
    await signed_in(staff_browser, ann)
    csrf = await _staff_csrf(staff_browser, reference)
    base = f"/staff/tickets/{reference}"
    assert (await post_form(staff_browser, f"{base}/publish", csrf, publish="1")).status == 303
    listing = await (await public.get("/reports/")).text()
    assert f'href="/reports/{reference}"' in listing
    assert f'href="/reports/{hidden}"' not in listing
    assert "<svg" in listing  # the sketch map, drawn without tiles
    page = await public.get(f"/reports/{reference}")
    assert page.status == 200
    assert (await public.get(f"/reports/{hidden}")).status == 404
    assert (await post_form(staff_browser, f"{base}/publish", csrf, publish="0")).status == 303
    assert (await public.get(f"/reports/{reference}")).status == 404


async def test_the_report_page_agrees_with_open311_and_shows_the_status_history(
    aiohttp_client: ClientFactory, settings: Settings, make_staff: StaffFactory, api_key: str
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    client = await browser(aiohttp_client, settings)
    reference = await file_request(client, api_key)
    await signed_in(client, ann)
    csrf = await _staff_csrf(client, reference)
    base = f"/staff/tickets/{reference}"
    await post_form(client, f"{base}/status", csrf, status="in_progress")
    await post_form(client, f"{base}/status", csrf, status="resolved", note="Fixed & tested.")
    await post_form(client, f"{base}/publish", csrf, publish="1")
    page = await (await client.get(f"/reports/{reference}")).text()
    fields = dict(re.findall(r'data-field="([a-z_]+)">([^<]*)<', page))
    open311 = (await (await client.get(f"/open311/v2/requests/{reference}.json")).json())[0]
    assert fields["status"].startswith("Closed")
    assert open311["status"] == "closed"
    assert (
        fields["status_notes"]
        == "Fixed &amp; tested."
        == open311["status_notes"].replace("&", "&amp;")
    )
    assert fields["agency_responsible"] == open311["agency_responsible"]
    assert fields["coordinates"] == f"{open311['lat']:.5f}, {open311['long']:.5f}"
    assert fields["description"] == open311["description"]
    assert fields["requested_datetime"].startswith(open311["requested_datetime"][:10])
    assert open311["service_name"] in page
    history = re.findall(r"</time>: ([A-Za-z ]+)</li>", page)
    assert history == ["New", "In progress", "Resolved"]


async def test_photos_appear_only_once_approved_and_never_when_flagged(
    aiohttp_client: ClientFactory, settings: Settings, make_staff: StaffFactory, api_key: str
) -> None:
    ann = await make_staff("ann", "Street Lighting")
    client = await browser(aiohttp_client, settings)
    public = await browser(aiohttp_client, settings)
    reference = await file_request(client, api_key)
    first = await _photo(client, api_key, reference)
    second = await _photo(client, api_key, reference)
    await signed_in(client, ann)
    csrf = await _staff_csrf(client, reference)
    base = f"/staff/tickets/{reference}"
    await post_form(client, f"{base}/publish", csrf, publish="1")
    page = await (await public.get(f"/reports/{reference}")).text()
    assert first not in page
    assert second not in page
    assert (await public.get(f"/reports/photos/{first}")).status == 404
    approved = await post_form(client, f"{base}/photos/{first}", csrf, decision="approve")
    assert approved.status == 303
    await post_form(client, f"{base}/photos/{second}", csrf, decision="approve")
    await post_form(client, f"{base}/photos/{second}", csrf, decision="flag")
    # A flag is final: approving again does not bring the photo back.
    await post_form(client, f"{base}/photos/{second}", csrf, decision="approve")
    page = await (await public.get(f"/reports/{reference}")).text()
    assert f"/reports/photos/{first}" in page
    assert second not in page
    shown = await public.get(f"/reports/photos/{first}")
    assert shown.status == 200
    assert shown.headers["Content-Type"] == "image/jpeg"
    assert (await public.get(f"/reports/photos/{second}")).status == 404
    await post_form(client, f"{base}/publish", csrf, publish="0")
    assert (await public.get(f"/reports/photos/{first}")).status == 404


async def test_a_published_application_shows_neither_description_nor_place(
    aiohttp_client: ClientFactory, settings: Settings, make_staff: StaffFactory, api_key: str
) -> None:
    clerk = await make_staff("cleo", "Street Cleaning")
    client = await browser(aiohttp_client, settings)
    reference = await file_request(
        client,
        api_key,
        service_code="bulky_waste",
        address_string="12 Private Lane",
        description="Collect my sofa from my flat.",
        lat=None,  # type: ignore[arg-type]
        long=None,  # type: ignore[arg-type]
        **{"attribute[fault]": None},  # type: ignore[arg-type]
    )
    await signed_in(client, clerk)
    csrf = await _staff_csrf(client, reference)
    await post_form(client, f"/staff/tickets/{reference}/publish", csrf, publish="1")
    answer = await client.get(f"/reports/{reference}")
    assert answer.status == 200
    page = await answer.text()
    assert "Private Lane" not in page
    assert "sofa" not in page


async def test_bad_filters_and_links_are_clear_html_errors(
    aiohttp_client: ClientFactory, settings: Settings
) -> None:
    client = await browser(aiohttp_client, settings)
    for path in ("/reports/?status=maybe", "/reports/?before=yesterday", "/reports/x/y"):
        answer = await client.get(path)
        assert answer.status in (400, 404), path
        assert "text/html" in answer.headers["Content-Type"], path


# ---- the property: nothing private ever reaches the public page ---------------------

_SECRET = st.text(alphabet="nopqrstuvwxyz", min_size=10, max_size=16).map(lambda s: "zz" + s)
"""Private values are made of letters the public texts below never use (and start 'zz')."""
_PUBLIC_TEXT = st.text(alphabet="abcdefghijklm <>&\"'", max_size=120)
PROPERTY = settings(
    max_examples=25,
    # No shrinking: each example is a whole app and ticket, and a leak shows in any example.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@PROPERTY
@given(
    first=_SECRET,
    last=_SECRET,
    email=_SECRET,
    phone=_SECRET,
    device=_SECRET,
    sender=_SECRET,
    internal=_SECRET,
    public_comment=_SECRET,
    handoff=_SECRET,
    description=_PUBLIC_TEXT,
    notes=_PUBLIC_TEXT,
    service=st.sampled_from(["street_light", "graffiti", "bulky_waste", "licence_renewal"]),
    status=st.sampled_from(["new", "in_progress", "resolved", "rejected", "closed"]),
    photo_state=st.sampled_from(["pending", "approved", "flagged"]),
)
async def test_the_public_page_never_shows_a_private_field(
    sessionmaker: async_sessionmaker[AsyncSession],
    aiohttp_client: ClientFactory,
    settings: Settings,
    api_key: str,
    first: str,
    last: str,
    email: str,
    phone: str,
    device: str,
    sender: str,
    internal: str,
    public_comment: str,
    handoff: str,
    description: str,
    notes: str,
    service: str,
    status: str,
    photo_state: str,
) -> None:
    client = await browser(aiohttp_client, settings)
    secrets_ = [first, last, email, phone, device, sender, internal, public_comment, handoff]
    reference, photo_id = await _published_ticket(sessionmaker, locals())
    pages = [
        await (await client.get("/reports/")).text(),
        await (await client.get(f"/reports/{reference}")).text(),
        await (await client.get(f"/reports/?service={service}")).text(),
    ]
    listing, report, filtered = pages
    for page in pages:
        for value in secrets_:
            assert value not in page
        assert "staffer" not in page  # the assigned staff member
    shown = photo_state == "approved" and service in ("street_light", "graffiti")
    assert (photo_id in report) == shown
    assert photo_id not in listing
    assert photo_id not in filtered


async def _published_ticket(
    sessionmaker: async_sessionmaker[AsyncSession], values: dict[str, Any]
) -> tuple[str, str]:
    """A published ticket full of private values, with comments, a handoff and one photo."""
    now = utcnow()
    reference = new_reference()
    async with sessionmaker.begin() as session:
        person = await session.scalar(select(StaffUser).where(StaffUser.username == "staffer"))
        if person is None:
            person = StaffUser(
                username="staffer",
                password_hash="x",
                department="Street Lighting",
                role=StaffRole.AGENT.value,
                created_at=now,
            )
            session.add(person)
            await session.flush()
        ticket = Ticket(
            service_request_id=reference,
            service_code=values["service"],
            status=values["status"],
            status_notes=values["notes"] or None,
            description=values["description"] or None,
            address_string="1 Example Road",
            lat=52.52,
            long=13.405,
            attributes={"details": values["first"]},
            email=values["email"],
            phone=values["phone"],
            first_name=values["first"],
            last_name=values["last"],
            device_id=values["device"],
            account_id=f"telegram:{values['sender']}",
            department="Street Lighting",
            requested_at=now,
            updated_at=now,
            expected_at=now,
            assignee_id=person.id,
            published_at=now,
        )
        session.add(ticket)
        await session.flush()
        for body, visibility in (
            (values["internal"], CommentVisibility.INTERNAL),
            (values["public_comment"], CommentVisibility.PUBLIC),
        ):
            session.add(
                TicketComment(
                    ticket_id=ticket.id,
                    author=CommentAuthor.STAFF.value,
                    staff_user_id=person.id,
                    visibility=visibility.value,
                    body=body,
                    created_at=now,
                )
            )
        session.add(
            Handoff(
                id="h_" + secrets.token_hex(12),
                identity=f"telegram:{values['sender']}",
                ticket_id=ticket.id,
                department="Street Lighting",
                message=values["handoff"],
                status="waiting",
                created_at=now,
                expected_response_at=now,
            )
        )
        photo_id = secrets.token_urlsafe(32)[:43]
        api_key_id = await session.scalar(select(ApiKey.id).limit(1))
        session.add(
            MediaFile(
                id=photo_id,
                ticket_id=ticket.id,
                api_key_id=api_key_id,
                extension="jpg",
                content_type="image/jpeg",
                byte_size=10,
                width=4,
                height=4,
                created_at=now,
                approved_at=None if values["photo_state"] == "pending" else now,
                flagged=values["photo_state"] == "flagged",
            )
        )
    return reference, photo_id
