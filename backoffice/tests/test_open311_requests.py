"""Open311 ``POST requests``, ``GET requests``, ``GET requests/{id}`` and ``GET tokens/{id}``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.models import Ticket
from tests.conftest import file_request, parse_open311_xml, street_light_form

Client = TestClient[Any, Any]

REFERENCE = re.compile(r"CD-[0-9ABCDEFGHJKMNPQRSTVWXYZ]{6}")
PERSONAL_FIELDS = ("email", "phone", "first_name", "last_name", "device_id", "account_id")
PERSONAL_VALUES = ("citizen@example.org", "Ada", "Lovelace", "1234567", "device-123", "12345")


# --- POST requests: API key -------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "cd_" + "x" * 32, "not-a-key"])
async def test_post_without_valid_api_key_is_403_json(client: Client, key: str | None) -> None:
    response = await client.post("/open311/v2/requests.json", data=street_light_form(key))
    assert response.status == 403
    (error,) = await response.json()
    assert error["code"] == 403
    assert "api_key" in error["description"]


async def test_post_with_bad_api_key_is_403_xml(client: Client) -> None:
    response = await client.post(
        "/open311/v2/requests.xml", data=street_light_form("cd_" + "y" * 32)
    )
    assert response.status == 403
    assert response.content_type == "text/xml"
    root = parse_open311_xml(await response.text())
    assert root.tag == "errors"
    assert root.findtext("error/code") == "403"
    assert "api_key" in (root.findtext("error/description") or "")


async def test_post_checks_the_key_before_the_body(client: Client) -> None:
    # Without a key, even a broken form is refused as unauthorised, not described.
    response = await client.post("/open311/v2/requests.json", data={"service_code": "x"})
    assert response.status == 403


# --- POST requests: body ----------------------------------------------------------------


async def test_post_files_a_ticket_and_returns_its_reference(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    response = await client.post("/open311/v2/requests.json", data=street_light_form(api_key))
    assert response.status == 201
    (created,) = await response.json()
    reference = created["service_request_id"]
    assert REFERENCE.fullmatch(reference)
    assert "Street Lighting" in created["service_notice"]
    assert "token" not in created
    assert response.headers["Location"] == f"/open311/v2/requests/{reference}.json"

    async with sessionmaker() as session:
        ticket = (
            await session.scalars(select(Ticket).where(Ticket.service_request_id == reference))
        ).one()
    assert ticket.status == "new"
    assert ticket.department == "Street Lighting"
    assert ticket.attributes == {"fault": "out"}
    assert ticket.email == "citizen@example.org"
    assert ticket.account_id == "telegram:12345"
    assert ticket.lat == pytest.approx(52.52)
    assert ticket.expected_at is not None
    assert ticket.expected_at - ticket.requested_at == timedelta(hours=120)


async def test_post_xml_returns_the_reference_in_xml(client: Client, api_key: str) -> None:
    response = await client.post("/open311/v2/requests.xml", data=street_light_form(api_key))
    assert response.status == 201
    root = parse_open311_xml(await response.text())
    assert root.tag == "service_requests"
    assert REFERENCE.fullmatch(root.findtext("request/service_request_id") or "")


async def test_post_accepts_an_address_instead_of_coordinates(client: Client, api_key: str) -> None:
    form = street_light_form(api_key, lat="", long="", address_string="8th Ave and Judah St")
    response = await client.post("/open311/v2/requests.json", data=form)
    assert response.status == 201


LOCATION_REQUIRED = (
    "a location is required for this service: lat and long, address_string or address_id"
)


async def test_post_without_location_is_400_where_the_service_needs_one(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    form = street_light_form(api_key, lat="", long="")
    response = await client.post("/open311/v2/requests.json", data=form)
    assert response.status == 400
    assert await response.json() == [{"code": 400, "description": LOCATION_REQUIRED}]
    async with sessionmaker() as session:
        assert (await session.scalars(select(Ticket))).all() == []


async def test_post_without_location_is_400_xml_where_the_service_needs_one(
    client: Client, api_key: str
) -> None:
    form = street_light_form(api_key, lat="", long="", address_string=" ")
    response = await client.post("/open311/v2/requests.xml", data=form)
    assert response.status == 400
    assert response.content_type == "text/xml"
    root = parse_open311_xml(await response.text())
    assert root.tag == "errors"
    assert root.findtext("error/code") == "400"
    assert root.findtext("error/description") == LOCATION_REQUIRED


async def test_post_without_location_tells_the_other_problems_too(
    client: Client, api_key: str
) -> None:
    form = street_light_form(api_key, lat="", long="", **{"attribute[fault]": "melted"})
    response = await client.post("/open311/v2/requests.json", data=form)
    assert response.status == 400
    descriptions = [error["description"] for error in await response.json()]
    assert LOCATION_REQUIRED in descriptions
    assert any("attribute[fault]" in text for text in descriptions)


async def test_post_without_location_is_filed_where_the_service_needs_none(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    form = {
        "api_key": api_key,
        "service_code": "licence_renewal",
        "attribute[licence_number]": "B-1234567",
        "account_id": "telegram:12345",
    }
    for fmt in ("json", "xml"):
        response = await client.post(f"/open311/v2/requests.{fmt}", data=form)
        assert response.status == 201, await response.text()

    async with sessionmaker() as session:
        stored = (await session.scalars(select(Ticket))).all()
    assert [ticket.service_code for ticket in stored] == ["licence_renewal"] * 2
    assert all(ticket.lat is None and ticket.address_string is None for ticket in stored)


async def test_post_without_service_code_is_400(client: Client, api_key: str) -> None:
    response = await client.post(
        "/open311/v2/requests.json", data=street_light_form(api_key, service_code="")
    )
    assert response.status == 400
    assert any("service_code" in e["description"] for e in await response.json())


async def test_post_unknown_service_is_404(client: Client, api_key: str) -> None:
    response = await client.post(
        "/open311/v2/requests.json", data=street_light_form(api_key, service_code="no_such")
    )
    assert response.status == 404
    (error,) = await response.json()
    assert error["code"] == 404
    assert "no_such" in error["description"]


async def test_post_to_another_jurisdiction_is_404(client: Client, api_key: str) -> None:
    response = await client.post(
        "/open311/v2/requests.json",
        data=street_light_form(api_key, jurisdiction_id="elsewhere.gov"),
    )
    assert response.status == 404


async def test_post_reports_every_problem_at_once(client: Client, api_key: str) -> None:
    form = street_light_form(api_key, lat="north", long="200", email="x" * 300, colour="red")
    response = await client.post("/open311/v2/requests.json", data=form)
    assert response.status == 400
    descriptions = " | ".join(error["description"] for error in await response.json())
    assert "lat must be a decimal number" in descriptions
    assert "long must be between" in descriptions
    assert "email is longer than 255" in descriptions
    assert "unknown field 'colour'" in descriptions


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"attribute[fault]": ""}, "attribute[fault] is required"),
        ({"attribute[fault]": "exploded"}, "attribute[fault] must be one of"),
        ({"attribute[lights_affected]": "three"}, "attribute[lights_affected] must be a number"),
        ({"attribute[lights_affected]": "nan"}, "attribute[lights_affected] must be a number"),
        ({"attribute[noticed_at]": "yesterday"}, "attribute[noticed_at] must be a date"),
        ({"attribute[noticed_at]": "2026-01-01T10:00:00"}, "attribute[noticed_at] must be a date"),
        ({"attribute[hazards]": "lava"}, "attribute[hazards] has values that are not offered"),
        ({"attribute[pole_number]": "a\nb"}, "attribute[pole_number] must be a single line"),
        ({"attribute[pole_number]": "x" * 256}, "attribute[pole_number] is longer than 255"),
        ({"attribute[colour]": "red"}, "attribute[colour] is not a question of this service"),
        ({"attribute[pole_number]": "a\x00b"}, "attribute[pole_number] contains control"),
    ],
)
async def test_post_validates_attributes(
    client: Client, api_key: str, fields: dict[str, str], expected: str
) -> None:
    response = await client.post(
        "/open311/v2/requests.json", data=street_light_form(api_key, **fields)
    )
    assert response.status == 400
    descriptions = [error["description"] for error in await response.json()]
    assert any(expected in text for text in descriptions), descriptions


async def test_post_stores_attribute_answers_normalised(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    form = [
        *street_light_form(api_key).items(),
        ("attribute[lights_affected]", "3"),
        ("attribute[noticed_at]", "2026-01-01T10:00:00+01:00"),
        ("attribute[hazards][]", "wires"),
        ("attribute[hazards][]", "dark"),
        ("attribute[hazards][]", "wires"),
    ]
    response = await client.post("/open311/v2/requests.json", data=form)
    assert response.status == 201, await response.text()
    reference = (await response.json())[0]["service_request_id"]
    async with sessionmaker() as session:
        ticket = (
            await session.scalars(select(Ticket).where(Ticket.service_request_id == reference))
        ).one()
    assert ticket.attributes == {
        "fault": "out",
        "lights_affected": "3",
        "noticed_at": "2026-01-01T10:00:00+01:00",
        "hazards": ["wires", "dark"],
    }


async def test_post_needs_a_form_body(client: Client, api_key: str) -> None:
    response = await client.post(
        "/open311/v2/requests.json", json={"api_key": api_key, "service_code": "graffiti"}
    )
    assert response.status == 415
    assert "x-www-form-urlencoded" in (await response.json())[0]["description"]


async def test_post_with_oversize_body_is_413(client: Client, api_key: str) -> None:
    form = street_light_form(api_key, description="x" * 70_000)
    response = await client.post("/open311/v2/requests.json", data=form)
    assert response.status == 413
    assert "larger than the limit" in (await response.json())[0]["description"]


# --- GET requests/{id} ------------------------------------------------------------------


async def test_get_one_request_json_and_xml(client: Client, api_key: str) -> None:
    reference = await file_request(client, api_key)

    response = await client.get(f"/open311/v2/requests/{reference}.json")
    assert response.status == 200
    (found,) = await response.json()
    assert found["service_request_id"] == reference
    assert found["status"] == "open"
    assert found["service_code"] == "street_light"
    assert found["service_name"] == "Street light not working"
    assert found["agency_responsible"] == "Street Lighting"
    assert found["requested_datetime"].endswith("Z")
    assert found["lat"] == pytest.approx(52.52)

    response = await client.get(f"/open311/v2/requests/{reference}.xml")
    assert response.status == 200
    root = parse_open311_xml(await response.text())
    assert root.findtext("request/service_request_id") == reference
    assert root.findtext("request/status") == "open"


async def test_get_one_request_accepts_loosely_typed_references(
    client: Client, api_key: str
) -> None:
    reference = await file_request(client, api_key)
    typed = reference.lower().replace("-", "")
    response = await client.get(f"/open311/v2/requests/{typed}.json")
    assert response.status == 200
    assert (await response.json())[0]["service_request_id"] == reference


@pytest.mark.parametrize("reference", ["CD-000000", "nonsense", "CD-UUUUUU"])
async def test_get_unknown_request_is_404(client: Client, reference: str) -> None:
    response = await client.get(f"/open311/v2/requests/{reference}.json")
    assert response.status == 404
    (error,) = await response.json()
    assert error["code"] == 404

    response = await client.get(f"/open311/v2/requests/{reference}.xml")
    assert response.status == 404
    assert parse_open311_xml(await response.text()).findtext("error/code") == "404"


async def test_public_reads_never_show_personal_fields(client: Client, api_key: str) -> None:
    reference = await file_request(client, api_key)
    for path in (
        f"/open311/v2/requests/{reference}.json",
        f"/open311/v2/requests/{reference}.xml",
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
    ):
        response = await client.get(path)
        assert response.status == 200
        text = await response.text()
        assert reference in text
        for field in PERSONAL_FIELDS:
            assert field not in text, (path, field)
        for value in PERSONAL_VALUES:
            assert value not in text, (path, value)


# --- GET requests -----------------------------------------------------------------------


async def test_search_filters_by_code_status_and_ids(
    client: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    light = await file_request(client, api_key)
    graffiti = await file_request(
        client, api_key, service_code="graffiti", **{"attribute[fault]": ""}
    )
    closed = await file_request(client, api_key)
    async with sessionmaker.begin() as session:
        await session.execute(
            update(Ticket).where(Ticket.service_request_id == closed).values(status="resolved")
        )

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/open311/v2/requests.json{query}")
        assert response.status == 200, await response.text()
        return [item["service_request_id"] for item in await response.json()]

    assert set(await ids("")) == {light, graffiti, closed}
    assert set(await ids("?service_code=street_light")) == {light, closed}
    assert set(await ids("?service_code=graffiti,street_light")) == {light, graffiti, closed}
    assert set(await ids("?status=open")) == {light, graffiti}
    assert await ids("?status=closed") == [closed]
    assert await ids(f"?service_request_id={graffiti}") == [graffiti]
    # service_request_id overrides every other filter, as the specification says.
    assert await ids(f"?service_request_id={graffiti}&service_code=street_light") == [graffiti]
    assert set(await ids(f"?service_request_id={light},{closed}")) == {light, closed}
    # Newest first.
    assert (await ids(""))[0] == closed


async def test_search_filters_by_date_range(client: Client, api_key: str) -> None:
    reference = await file_request(client, api_key)
    now = datetime.now(timezone.utc)
    past = (now - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    yesterday = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    soon = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")

    response = await client.get(
        "/open311/v2/requests.json", params={"start_date": past, "end_date": soon}
    )
    assert [r["service_request_id"] for r in await response.json()] == [reference]
    response = await client.get(
        "/open311/v2/requests.json", params={"start_date": past, "end_date": yesterday}
    )
    assert await response.json() == []


async def test_search_xml(client: Client, api_key: str) -> None:
    reference = await file_request(client, api_key)
    response = await client.get("/open311/v2/requests.xml?status=open")
    assert response.status == 200
    root = parse_open311_xml(await response.text())
    assert root.tag == "service_requests"
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [reference]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=pending", "status must be open or closed"),
        ("start_date=yesterday", "start_date must be a W3C date-time"),
        ("end_date=2026-01-01T00:00:00", "end_date must be a W3C date-time"),
        ("start_date=0001-01-01T00:00:00Z", "start_date must be between the years"),
        (
            "start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z",
            "end_date is before start_date",
        ),
        (
            "start_date=2025-01-01T00:00:00Z&end_date=2026-01-01T00:00:00Z",
            "more than 90 days apart",
        ),
        ("service_request_id=12345", "is not a ticket reference"),
        ("service_code=Not%20A%20Code", "is not a service code"),
    ],
)
async def test_search_rejects_bad_filters_with_400(
    client: Client, query: str, expected: str
) -> None:
    response = await client.get(f"/open311/v2/requests.json?{query}")
    assert response.status == 400
    descriptions = [error["description"] for error in await response.json()]
    assert any(expected in text for text in descriptions), descriptions


# --- tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_tokens_are_never_issued_so_lookups_are_404(client: Client, fmt: str) -> None:
    response = await client.get(f"/open311/v2/tokens/123456.{fmt}")
    assert response.status == 404
    text = await response.text()
    assert "no tokens" in text
