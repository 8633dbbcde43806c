"""The packaged catalogue as clients see it: loaded into the database, published over Open311,
and answerable by the bot."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from open311_schema import ServiceDefinition
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.app import create_app
from civicdesk_backoffice.attributes import check_attributes
from civicdesk_backoffice.catalogue import (
    Catalogue,
    CatalogueEntry,
    ServiceAttribute,
    load_catalogue,
    read_catalogue,
)
from civicdesk_backoffice.settings import DEFAULT_CATALOGUE_PATH, DatabaseSettings, Settings

Client = TestClient[Any, Any]

_SAMPLE_ANSWERS = {
    "string": "Near number 12",
    "number": "3",
    "datetime": "2026-11-30T08:15:00+01:00",
    "text": "It started last week.\nIt is getting worse.",
}


@pytest.fixture(scope="module")
def packaged() -> Catalogue:
    return read_catalogue(DEFAULT_CATALOGUE_PATH)


@pytest.fixture
async def full_client(
    aiohttp_client: Any,
    db_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    packaged: Catalogue,
) -> Client:
    report = await load_catalogue(sessionmaker, DEFAULT_CATALOGUE_PATH)
    assert report.version == packaged.version
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        db=DatabaseSettings(url=SecretStr(db_url)),
        catalogue_path=DEFAULT_CATALOGUE_PATH,
    )
    client: Client = await aiohttp_client(create_app(settings))
    return client


def _answer(attribute: ServiceAttribute) -> tuple[str, ...]:
    if attribute.datatype == "singlevaluelist":
        return (attribute.values[-1].key,)
    if attribute.datatype == "multivaluelist":
        return tuple(value.key for value in attribute.values[:2])
    return (_SAMPLE_ANSWERS[attribute.datatype],)


def _entries() -> list[CatalogueEntry]:
    return list(read_catalogue(DEFAULT_CATALOGUE_PATH).services)


@pytest.mark.parametrize("entry", _entries(), ids=lambda entry: entry.code)
def test_every_service_accepts_answers_to_all_its_questions(entry: CatalogueEntry) -> None:
    submitted = {attribute.code: _answer(attribute) for attribute in entry.attributes}

    answers = check_attributes(entry.attributes, submitted)

    assert set(answers) == set(submitted)


@pytest.mark.parametrize(
    "entry",
    [entry for entry in _entries() if any(attribute.required for attribute in entry.attributes)],
    ids=lambda entry: entry.code,
)
def test_every_required_question_is_refused_when_unanswered(entry: CatalogueEntry) -> None:
    required = [attribute.code for attribute in entry.attributes if attribute.required]

    with pytest.raises(ValueError, match=f"attribute\\[{required[0]}\\] is required"):
        check_attributes(entry.attributes, {})


async def test_service_list_publishes_every_entry_with_its_synonyms(
    full_client: Client, packaged: Catalogue
) -> None:
    response = await full_client.get("/open311/v2/services.json")

    assert response.status == 200
    listed = {service["service_code"]: service for service in await response.json()}
    assert set(listed) == {entry.code for entry in packaged.services}
    street_light = listed["street_light"]
    assert street_light["group"] == "streets"
    assert "lamp post" in street_light["keywords"]  # a keyword
    assert "lantern" in street_light["keywords"]  # a synonym
    assert all(service["metadata"] for service in listed.values())
    for entry in packaged.services:
        assert listed[entry.code]["needs_photo"] is entry.needs_photo, entry.code
        assert listed[entry.code]["needs_location"] is entry.needs_location, entry.code
        assert listed[entry.code]["location_question"] == entry.location_question, entry.code
        assert listed[entry.code]["photo_question"] == entry.photo_question, entry.code
    assert any(entry.needs_photo for entry in packaged.services)
    assert not all(entry.needs_photo for entry in packaged.services)
    event = listed["event_permit"]
    assert event["location_question"] == "Where will the event take place?"
    renewal = listed["driving_licence_renewal"]
    assert renewal["photo_question"] == "Please send a photo of your current licence."
    assert renewal["location_question"] is None


async def test_service_list_renders_as_xml(full_client: Client, packaged: Catalogue) -> None:
    response = await full_client.get("/open311/v2/services.xml")

    assert response.status == 200
    assert (await response.text()).count("<service>") == len(packaged.services)


async def test_every_service_definition_reads_back_in_the_bot_schema(
    full_client: Client, packaged: Catalogue
) -> None:
    for entry in packaged.services:
        response = await full_client.get(f"/open311/v2/services/{entry.code}.json")
        assert response.status == 200, entry.code

        definition = ServiceDefinition.from_json(await response.json())

        assert definition.service_code == entry.code
        assert [attribute.code for attribute in definition.attributes] == [
            attribute.code for attribute in sorted(entry.attributes, key=lambda a: a.order)
        ]
