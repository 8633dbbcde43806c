"""``GET /api/v1/services/search`` in Chinese and English, on the real app (SQLite, PostgreSQL).

The packaged catalogue (with its zh-Hans translation) is loaded over the test catalogue,
as ``serve`` does at start.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.app import create_app
from civicdesk_backoffice.catalogue import load_catalogue, parse_catalogue, sync_catalogue
from civicdesk_backoffice.search import SearchIndexCache
from civicdesk_backoffice.settings import DEFAULT_CATALOGUE_PATH, DatabaseSettings, Settings
from tests.translated_catalogue import translated_catalogue, translated_raw

SEARCH = "/api/v1/services/search"

Client = TestClient[Any, Any]


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


async def test_a_chinese_query_in_chinese(search_client: Client) -> None:
    response = await search_client.get(
        SEARCH, params={"q": "我家楼下的路灯坏了一个星期了", "locale": "zh-Hans"}
    )

    assert response.status == 200
    assert response.headers["Content-Language"] == "zh-Hans"
    assert "Accept-Language" in response.headers["Vary"]
    body = await response.json()
    assert (body["locale"], body["query_language"]) == ("zh-Hans", "zh-Hans")
    first = body["results"][0]
    assert first["service_code"] == "street_light"
    assert first["service_name"] == "路灯不亮"
    assert first["group"] == "道路设施"
    assert "路灯" in first["matched"]


async def test_a_chinese_query_with_a_homophone_typo(search_client: Client) -> None:
    response = await search_client.get(SEARCH, params={"q": "路登坏了", "locale": "zh-Hans"})

    assert (await response.json())["results"][0]["service_code"] == "street_light"


async def test_a_chinese_query_answered_in_english(search_client: Client) -> None:
    # No locale and no Accept-Language: English names, found through the Chinese index.
    response = await search_client.get(SEARCH, params={"q": "想给孩子办护照"})

    assert response.headers["Content-Language"] == "en"
    body = await response.json()
    assert (body["locale"], body["query_language"]) == ("en", "zh-Hans")
    assert body["results"][0]["service_code"] == "passport"
    assert body["results"][0]["service_name"] == "Apply for a passport"


async def test_an_english_query_answered_in_chinese_by_accept_language(
    search_client: Client,
) -> None:
    response = await search_client.get(
        SEARCH,
        params={"q": "my street lamp has been dark for a week"},
        headers={"Accept-Language": "zh-CN,zh;q=0.9"},
    )

    body = await response.json()
    assert response.headers["Content-Language"] == "zh-Hans"
    assert (body["locale"], body["query_language"]) == ("zh-Hans", "en")
    assert body["results"][0]["service_name"] == "路灯不亮"


async def test_english_search_is_unchanged_by_default(search_client: Client) -> None:
    response = await search_client.get(SEARCH, params={"q": "pothole on the high street"})

    body = await response.json()
    assert response.headers["Content-Language"] == "en"
    assert body["results"][0]["service_code"] == "road_damage"
    assert body["results"][0]["service_name"] == "Pothole or damaged road"


async def test_type_filter_and_limit_work_in_chinese(search_client: Client) -> None:
    response = await search_client.get(
        SEARCH, params={"q": "垃圾", "type": "application", "limit": "2", "locale": "zh-Hans"}
    )

    results = (await response.json())["results"]
    assert 1 <= len(results) <= 2
    assert {result["type"] for result in results} == {"application"}


@pytest.mark.parametrize("locale", ["zh_CN", "中文", "x" * 40])
async def test_a_malformed_locale_is_a_400_json_error(search_client: Client, locale: str) -> None:
    response = await search_client.get(SEARCH, params={"q": "路灯", "locale": locale})

    assert response.status == 400
    (error,) = await response.json()
    assert "locale" in error["description"]


async def test_the_chinese_index_follows_catalogue_changes(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker.begin() as session:
        await sync_catalogue(session, translated_catalogue(version=2))
    clock_now = [0.0]
    cache = SearchIndexCache(recheck_seconds=5.0, clock=lambda: clock_now[0])
    first = await cache.index(sessionmaker, "zh-Hans")
    assert [hit.document.code for hit in first.search("涂鸦", 1)] == ["graffiti"]
    assert first.search("喷漆") == []

    raw = translated_raw(version=3)
    raw["translations"]["zh-Hans"]["services"]["graffiti"]["keywords"].append("喷漆")
    async with sessionmaker.begin() as session:
        await sync_catalogue(session, parse_catalogue(raw))
    assert await cache.index(sessionmaker, "zh-Hans") is first  # within the recheck delay

    clock_now[0] += 5.0
    rebuilt = await cache.index(sessionmaker, "zh-Hans")
    assert rebuilt.version == 3
    assert [hit.document.code for hit in rebuilt.search("喷漆", 1)] == ["graffiti"]
    english = await cache.index(sessionmaker, "en")
    assert english.language == "en"
    assert english.search("喷漆") == []
