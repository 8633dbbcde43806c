"""Tests of ``GET /api/v1/services/search`` on the real app, SQLite and PostgreSQL.

``db_url`` (from conftest) holds the small test catalogue; these tests load the packaged
catalogue over it, as ``serve`` does at start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.app import create_app
from civicdesk_backoffice.catalogue import Catalogue, load_catalogue, read_catalogue
from civicdesk_backoffice.search import SearchIndexCache
from civicdesk_backoffice.settings import DEFAULT_CATALOGUE_PATH, DatabaseSettings, Settings

SEARCH = "/api/v1/services/search"
TEST_CATALOGUE = Path(__file__).parent / "data" / "catalogue.yml"

Client = TestClient[Any, Any]


@pytest.fixture(scope="module")
def packaged() -> Catalogue:
    return read_catalogue(DEFAULT_CATALOGUE_PATH)


@pytest.fixture
async def search_client(
    aiohttp_client: Any, db_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> Client:
    await load_catalogue(sessionmaker, DEFAULT_CATALOGUE_PATH)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        db=DatabaseSettings(url=SecretStr(db_url)),
        catalogue_path=DEFAULT_CATALOGUE_PATH,
    )
    client: Client = await aiohttp_client(create_app(settings))
    return client


async def test_search_ranks_the_street_light_first(
    search_client: Client, packaged: Catalogue
) -> None:
    response = await search_client.get(
        SEARCH, params={"q": "my street lamp has been dark for a week"}
    )

    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["query"] == "my street lamp has been dark for a week"
    assert body["catalogue_version"] == packaged.version
    first = body["results"][0]
    assert first["service_code"] == "street_light"
    assert first["service_name"] == "Street light not working"
    assert first["group"] == "streets"
    assert first["type"] == "complaint"
    assert first["score"] > 0
    assert {"street", "lamp", "dark"} <= set(first["matched"])
    assert len(body["results"]) <= 5


async def test_search_tolerates_typos_and_honours_limit(search_client: Client) -> None:
    response = await search_client.get(SEARCH, params={"q": "pothoel on my stret", "limit": "2"})

    body = await response.json()
    assert [hit["service_code"] for hit in body["results"]][:1] == ["road_damage"]
    assert len(body["results"]) == 2


async def test_search_finds_applications_and_feedback(search_client: Client) -> None:
    renew = await (await search_client.get(SEARCH, params={"q": "renew my passport"})).json()
    thanks = await (await search_client.get(SEARCH, params={"q": "thank you driver"})).json()

    assert renew["results"][0]["service_code"] == "passport"
    assert renew["results"][0]["type"] == "application"
    assert thanks["results"][0]["type"] == "feedback"


async def test_type_narrows_the_results(search_client: Client) -> None:
    params = {"q": "bus driver", "limit": "10", "type": "application,feedback"}
    body = await (await search_client.get(SEARCH, params=params)).json()

    assert body["results"]
    assert {hit["type"] for hit in body["results"]} <= {"application", "feedback"}


async def test_nonsense_finds_nothing(search_client: Client) -> None:
    response = await search_client.get(SEARCH, params={"q": "asdfgh"})

    assert response.status == 200
    assert (await response.json())["results"] == []


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        ({}, "q is required"),
        ({"q": ""}, "q is required"),
        ({"q": "   "}, "q is required"),
        ({"q": "lamp " * 101}, "longer than 500 characters"),
        ({"q": "lamp", "limit": "0"}, "limit must be a whole number from 1 to 50"),
        ({"q": "lamp", "limit": "51"}, "limit must be a whole number from 1 to 50"),
        ({"q": "lamp", "limit": "ten"}, "limit must be a whole number"),
        ({"q": "lamp", "limit": "-1"}, "limit must be a whole number"),
        ({"q": "lamp", "limit": "1e3"}, "limit must be a whole number"),
        ({"q": "lamp", "type": "complaints"}, "type must be complaint, application or feedback"),
        ({"q": "lamp", "type": ""}, "type must be complaint, application or feedback"),
    ],
)
async def test_bad_input_is_a_400_json_error(
    search_client: Client, params: dict[str, str], complaint: str
) -> None:
    response = await search_client.get(SEARCH, params=params)

    assert response.status == 400
    assert response.content_type == "application/json"
    (error,) = await response.json()
    assert error["code"] == 400
    assert complaint in error["description"]


async def test_post_is_refused_with_405(search_client: Client) -> None:
    response = await search_client.post(SEARCH, data={"q": "lamp"})

    assert response.status == 405


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_index_follows_catalogue_version_changes(
    sessionmaker: async_sessionmaker[AsyncSession], packaged: Catalogue
) -> None:
    clock = _Clock()
    cache = SearchIndexCache(recheck_seconds=5.0, clock=clock)
    small = await cache.index(sessionmaker)  # the test catalogue from conftest
    assert small.version == read_catalogue(TEST_CATALOGUE).version
    assert [hit.document.code for hit in small.search("passport")] == []

    await load_catalogue(sessionmaker, DEFAULT_CATALOGUE_PATH)
    # Within the recheck delay the cache does not even ask the database.
    assert await cache.index(sessionmaker) is small

    clock.now += 5.0
    full = await cache.index(sessionmaker)
    assert full is not small
    assert full.version == packaged.version
    assert full.search("passport", 1)[0].document.code == "passport"
    # Entries that left the catalogue are no longer offered.
    codes = {document.code for document in full.documents}
    assert codes == {entry.code for entry in packaged.services}

    clock.now += 5.0
    assert await cache.index(sessionmaker) is full  # unchanged version: no rebuild
