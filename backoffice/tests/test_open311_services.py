"""Open311 discovery, service list and service definitions, in JSON and XML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.catalogue import load_catalogue
from tests.conftest import TEST_CATALOGUE, parse_open311_xml

Client = TestClient[Any, Any]


async def test_discovery_json_lists_the_endpoint_and_both_formats(client: Client) -> None:
    response = await client.get("/open311/v2/discovery.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert response.charset == "utf-8"
    body = await response.json()
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}


async def test_discovery_xml_has_the_declaration_and_root(client: Client) -> None:
    response = await client.get("/open311/v2/discovery.xml")
    assert response.status == 200
    assert response.content_type == "text/xml"
    root = parse_open311_xml(await response.text())
    assert root.tag == "discovery"
    assert [f.text for f in root.iter("format")] == ["text/xml", "application/json"]


async def test_service_list_json_has_every_active_service(client: Client) -> None:
    response = await client.get("/open311/v2/services.json")
    assert response.status == 200
    services = {service["service_code"]: service for service in await response.json()}
    assert set(services) == {"street_light", "graffiti", "bulky_waste", "licence_renewal"}
    light = services["street_light"]
    assert light["service_name"] == "Street light not working"
    assert light["metadata"] is True
    assert light["type"] == "realtime"
    assert light["group"] == "streets"
    assert "lamp" in light["keywords"]
    assert services["graffiti"]["metadata"] is False


async def test_service_list_publishes_the_place_and_photo_extensions(client: Client) -> None:
    response = await client.get("/open311/v2/services.json")
    services = {service["service_code"]: service for service in await response.json()}
    light, bulky, renewal = (
        services[code] for code in ("street_light", "bulky_waste", "licence_renewal")
    )
    assert (light["needs_location"], light["needs_photo"]) == (True, False)
    assert (renewal["needs_location"], renewal["needs_photo"]) == (False, True)
    # No wording of its own: null, and the bot asks its generic question.
    assert light["location_question"] is None
    assert light["photo_question"] is None
    assert bulky["location_question"] == "Where should we collect the items from?"
    assert bulky["photo_question"] is None
    assert renewal["location_question"] is None
    assert renewal["photo_question"] == "Please send a photo of your current licence."


async def test_service_list_xml_carries_the_question_wording(client: Client) -> None:
    response = await client.get("/open311/v2/services.xml")
    root = parse_open311_xml(await response.text())
    by_code = {service.findtext("service_code"): service for service in root.findall("service")}
    assert by_code["licence_renewal"].findtext("needs_location") == "false"
    assert by_code["licence_renewal"].findtext("photo_question") == (
        "Please send a photo of your current licence."
    )
    assert by_code["street_light"].findtext("location_question") in ("", None)


async def test_service_list_xml_mirrors_the_json(client: Client) -> None:
    response = await client.get("/open311/v2/services.xml")
    assert response.status == 200
    assert response.content_type == "text/xml"
    root = parse_open311_xml(await response.text())
    assert root.tag == "services"
    codes = {service.findtext("service_code") for service in root.findall("service")}
    assert codes == {"street_light", "graffiti", "bulky_waste", "licence_renewal"}
    light = next(s for s in root.findall("service") if s.findtext("service_code") == "street_light")
    assert light.findtext("metadata") == "true"


async def test_service_list_refuses_another_jurisdiction_with_404(client: Client) -> None:
    response = await client.get("/open311/v2/services.json?jurisdiction_id=elsewhere.gov")
    assert response.status == 404
    (error,) = await response.json()
    assert error["code"] == 404
    assert "elsewhere.gov" in error["description"]
    same = await client.get("/open311/v2/services.json?jurisdiction_id=civicdesk.local")
    assert same.status == 200


async def test_service_definition_json_lists_attributes_in_order(client: Client) -> None:
    response = await client.get("/open311/v2/services/street_light.json")
    assert response.status == 200
    body = await response.json()
    assert body["service_code"] == "street_light"
    attributes = body["attributes"]
    assert [a["code"] for a in attributes] == [
        "fault",
        "pole_number",
        "lights_affected",
        "noticed_at",
        "hazards",
        "details",
    ]
    fault = attributes[0]
    assert fault["datatype"] == "singlevaluelist"
    assert fault["required"] is True
    assert fault["variable"] is True
    assert {"key": "out", "name": "It is off at night"} in fault["values"]


async def test_service_definition_xml(client: Client) -> None:
    response = await client.get("/open311/v2/services/street_light.xml")
    assert response.status == 200
    root = parse_open311_xml(await response.text())
    assert root.tag == "service_definition"
    attributes = root.find("attributes")
    assert attributes is not None
    first = attributes.findall("attribute")[0]
    assert first.findtext("code") == "fault"
    values = first.find("values")
    assert values is not None
    assert [v.findtext("key") for v in values.findall("value")] == ["out", "flickering"]


async def test_unknown_service_definition_is_404_in_both_formats(client: Client) -> None:
    response = await client.get("/open311/v2/services/no_such_thing.json")
    assert response.status == 404
    (error,) = await response.json()
    assert error["code"] == 404
    assert "no_such_thing" in error["description"]

    response = await client.get("/open311/v2/services/no_such_thing.xml")
    assert response.status == 404
    root = parse_open311_xml(await response.text())
    assert root.tag == "errors"
    assert root.findtext("error/code") == "404"


async def test_unknown_format_and_path_answer_open311_errors(client: Client) -> None:
    response = await client.get("/open311/v2/services.yaml")
    assert response.status == 404
    (error,) = await response.json()
    assert ".json or .xml" in error["description"]

    response = await client.get("/open311/v2/nothing-here")
    assert response.status == 404
    assert (await response.json())[0]["code"] == 404


async def test_wrong_method_is_405_with_allow_header(client: Client) -> None:
    response = await client.delete("/open311/v2/services.json")
    assert response.status == 405
    assert "GET" in response.headers["Allow"]
    (error,) = await response.json()
    assert error["code"] == 405


async def test_healthz_answers_ok(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


CATALOGUE_RESOURCES = (
    "/open311/v2/services.json",
    "/open311/v2/services.xml",
    "/open311/v2/services/street_light.json",
)


@pytest.mark.parametrize("path", CATALOGUE_RESOURCES)
async def test_a_catalogue_resource_held_by_the_client_answers_304_without_a_body(
    client: Client, path: str
) -> None:
    first = await client.get(path)
    etag = first.headers["ETag"]
    assert etag.startswith('"')
    assert etag.endswith('"')

    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status == 304
    assert await again.read() == b""
    assert again.headers["ETag"] == etag
    # Weak comparison, a list of tags, and "*" (any version) are understood as well.
    for header in (f"W/{etag}", f'"old", {etag}', "*"):
        assert (await client.get(path, headers={"If-None-Match": header})).status == 304


async def test_another_tag_gets_the_whole_resource(client: Client) -> None:
    response = await client.get(
        "/open311/v2/services.json", headers={"If-None-Match": '"not-this-one"'}
    )
    assert response.status == 200
    assert {s["service_code"] for s in await response.json()} >= {"street_light"}


async def test_the_tag_changes_when_the_catalogue_does(
    client: Client, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    before = {path: (await client.get(path)).headers["ETag"] for path in CATALOGUE_RESOURCES}
    text = TEST_CATALOGUE.read_text(encoding="utf-8")
    changed = tmp_path / "catalogue.yml"
    changed.write_text(
        text.replace("Street light not working", "Street lamp not working", 1).replace(
            "version: 1", "version: 2", 1
        ),
        encoding="utf-8",
    )
    await load_catalogue(sessionmaker, changed)

    for path in CATALOGUE_RESOURCES[:2]:
        response = await client.get(path, headers={"If-None-Match": before[path]})
        assert response.status == 200
        assert response.headers["ETag"] != before[path]
        assert "Street lamp not working" in await response.text()
