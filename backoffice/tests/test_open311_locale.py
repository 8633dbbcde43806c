"""Languages: GET services and definitions by ?locale= or Accept-Language, tickets' locale."""

# Chinese text is written with full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.catalogue import sync_catalogue
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.locales import (
    from_accept_language,
    negotiate,
    parse_locale_parameter,
)
from civicdesk_backoffice.models import OutboxMessage, Ticket
from tests.conftest import (
    StaffFactory,
    file_request,
    parse_open311_xml,
    post_status,
    street_light_form,
)
from tests.translated_catalogue import translated_catalogue

Client = TestClient[Any, Any]


@pytest.fixture
async def translated(client: Client, sessionmaker: async_sessionmaker[AsyncSession]) -> Client:
    """The application with the test catalogue and its zh-Hans translation loaded."""
    async with sessionmaker.begin() as session:
        await sync_catalogue(session, translated_catalogue())
    return client


# --- choosing the language, without a request ------------------------------------------


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"),
        ("en-GB,en;q=0.9,zh-Hans;q=0.8", "en"),
        ("en;q=0.4, zh;q=0.7", "zh-Hans"),
        ("fr-FR, de;q=0.9", "en"),
        ("fr, zh-TW;q=0.5", "zh-Hans"),
        ("zh;q=0, en;q=0.1", "en"),
        ("zh;q=0, *", "en"),
        ("*", "en"),
        ("%%%, zh-Hans", "zh-Hans"),
        ("zh;q=2, en", "en"),
        ("zh;level=1", "en"),
    ],
)
def test_accept_language_is_ranked_by_quality(header: str, locale: str) -> None:
    assert from_accept_language(header) == locale


@pytest.mark.parametrize(
    ("raw", "locale"),
    [
        ("zh-Hans", "zh-Hans"),
        ("ZH-hans", "zh-Hans"),
        ("zh-CN", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("en", "en"),
        ("en-US", "en"),
        ("fr", "en"),
        ("pt-BR", "en"),
        (" zh-Hans ", "zh-Hans"),
    ],
)
def test_a_well_formed_locale_is_served_or_falls_back_to_english(raw: str, locale: str) -> None:
    assert parse_locale_parameter(raw) == locale


@pytest.mark.parametrize("raw", ["", "zh_CN", "中文", "zh--Hans", "-zh", "x" * 40, "en;q=1", "e"])
def test_a_malformed_locale_is_a_400(raw: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_locale_parameter(raw)
    assert caught.value.status == 400


def test_the_locale_parameter_wins_over_accept_language() -> None:
    assert negotiate({"locale": "en"}, {"Accept-Language": "zh-CN"}) == "en"
    assert negotiate({}, {"Accept-Language": "zh-CN"}) == "zh-Hans"


# --- GET services ----------------------------------------------------------------------


async def test_services_in_chinese_by_locale_parameter(translated: Client) -> None:
    response = await translated.get("/open311/v2/services.json?locale=zh-Hans")

    assert response.status == 200
    assert response.headers["Content-Language"] == "zh-Hans"
    assert "Accept-Language" in response.headers["Vary"]
    services = {service["service_code"]: service for service in await response.json()}
    light, bulky = services["street_light"], services["bulky_waste"]
    assert light["service_name"] == "路灯不亮"
    assert light["description"] == "路灯晚上不亮或一闪一闪。"
    assert light["group"] == "道路设施"
    assert light["keywords"] == "路灯, 街灯, 灯杆"
    assert bulky["location_question"] == "我们去哪里收这些东西？"
    assert services["licence_renewal"]["photo_question"] == "请拍一张您现在的驾驶证。"
    assert (light["needs_location"], light["needs_photo"]) == (True, False)


async def test_services_by_accept_language_and_english_by_default(translated: Client) -> None:
    chinese = await translated.get(
        "/open311/v2/services.json", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
    )
    english = await translated.get("/open311/v2/services.json")
    french = await translated.get("/open311/v2/services.json?locale=fr")

    assert chinese.headers["Content-Language"] == "zh-Hans"
    assert english.headers["Content-Language"] == "en"
    assert french.headers["Content-Language"] == "en"
    names = {s["service_code"]: s["service_name"] for s in await english.json()}
    assert names["street_light"] == "Street light not working"
    assert await french.json() == await english.json()
    assert {s["service_name"] for s in await chinese.json()} >= {"路灯不亮", "乱涂乱画"}


async def test_services_xml_in_chinese(translated: Client) -> None:
    response = await translated.get("/open311/v2/services.xml?locale=zh-Hans")

    assert response.headers["Content-Language"] == "zh-Hans"
    root = parse_open311_xml(await response.text())
    names = {s.findtext("service_code"): s.findtext("service_name") for s in root}
    assert names["graffiti"] == "乱涂乱画"


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("path", ["services", "services/street_light"])
async def test_a_malformed_locale_is_an_open311_error(
    translated: Client, path: str, fmt: str
) -> None:
    response = await translated.get(f"/open311/v2/{path}.{fmt}?locale=zh_CN")

    assert response.status == 400
    if fmt == "json":
        (error,) = await response.json()
        description = error["description"]
    else:
        root = parse_open311_xml(await response.text())
        assert root.tag == "errors"
        description = root.findtext("error/description") or ""
    assert "locale" in description


async def test_each_language_has_its_own_etag(translated: Client) -> None:
    english = await translated.get("/open311/v2/services.json")
    chinese = await translated.get("/open311/v2/services.json?locale=zh-Hans")
    zh_tag = chinese.headers["ETag"]

    assert english.headers["ETag"] != zh_tag
    again = await translated.get(
        "/open311/v2/services.json?locale=zh-Hans", headers={"If-None-Match": zh_tag}
    )
    assert again.status == 304
    assert again.headers["Content-Language"] == "zh-Hans"
    assert "Accept-Language" in again.headers["Vary"]
    other = await translated.get("/open311/v2/services.json", headers={"If-None-Match": zh_tag})
    assert other.status == 200
    assert other.headers["Content-Language"] == "en"


async def test_a_service_without_words_in_a_language_keeps_the_same_body_but_not_the_etag(
    client: Client,
) -> None:
    # The plain test catalogue has no translation: Chinese falls back to English words.
    english = await client.get("/open311/v2/services.json")
    chinese = await client.get("/open311/v2/services.json?locale=zh-Hans")

    assert await chinese.json() == await english.json()
    assert chinese.headers["ETag"] != english.headers["ETag"]


# --- GET services/{code} ---------------------------------------------------------------


async def test_definition_in_chinese_keeps_codes_and_keys(translated: Client) -> None:
    english = await (await translated.get("/open311/v2/services/street_light.json")).json()
    response = await translated.get(
        "/open311/v2/services/street_light.json", headers={"Accept-Language": "zh-Hans"}
    )
    chinese = await response.json()

    assert response.headers["Content-Language"] == "zh-Hans"
    by_code = {attribute["code"]: attribute for attribute in chinese["attributes"]}
    assert [a["code"] for a in chinese["attributes"]] == [a["code"] for a in english["attributes"]]
    assert by_code["fault"]["description"] == "路灯出了什么问题？"
    assert by_code["fault"]["values"] == [
        {"key": "out", "name": "晚上不亮"},
        {"key": "flickering", "name": "一闪一闪"},
    ]
    assert by_code["pole_number"]["description"] == "灯杆上的编号（如果有）。"
    assert by_code["fault"]["datatype"] == "singlevaluelist"
    assert by_code["fault"]["required"] is True


async def test_definition_xml_in_chinese(translated: Client) -> None:
    response = await translated.get("/open311/v2/services/licence_renewal.xml?locale=zh-Hans")

    root = parse_open311_xml(await response.text())
    assert root.findtext("attributes/attribute/description") == "您的驾驶证号码是多少？"
    assert response.headers["Content-Language"] == "zh-Hans"


# --- tickets keep the language they were filed in -------------------------------------


async def test_a_ticket_filed_in_chinese_keeps_its_locale_in_every_view(
    translated: Client,
    api_key: str,
    make_staff: StaffFactory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    chinese = await file_request(translated, api_key, locale="zh-Hans")
    english = await file_request(translated, api_key)
    ann = await make_staff("ann", "Street Lighting")

    async with sessionmaker() as session:
        stored = dict(
            (await session.execute(select(Ticket.service_request_id, Ticket.locale))).tuples().all()
        )
    assert stored == {chinese: "zh-Hans", english: "en"}
    staff_view = await translated.get(f"/api/v1/staff/tickets/{chinese}", headers=ann.headers)
    assert (await staff_view.json())["ticket"]["locale"] == "zh-Hans"
    citizen_view = await translated.get(
        f"/api/v1/citizens/telegram:12345/tickets/{chinese}", headers={"X-API-Key": api_key}
    )
    assert (await citizen_view.json())["ticket"]["locale"] == "zh-Hans"
    listing = await translated.get(
        "/api/v1/citizens/telegram:12345/tickets", headers={"X-API-Key": api_key}
    )
    locales = {t["service_request_id"]: t["locale"] for t in (await listing.json())["tickets"]}
    assert locales == {chinese: "zh-Hans", english: "en"}

    response = await post_status(translated, ann, chinese, "acknowledged", note="已收到。")
    assert response.status == 200
    async with sessionmaker() as session:
        (push,) = (await session.scalars(select(OutboxMessage))).all()
    assert push.entities["locale"] == "zh-Hans"
    assert push.entities["service_request_id"] == chinese


async def test_a_chinese_tag_is_stored_as_the_served_locale(
    translated: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    reference = await file_request(translated, api_key, locale="zh-CN")
    other = await file_request(translated, api_key, locale="fr")

    async with sessionmaker() as session:
        stored = dict(
            (await session.execute(select(Ticket.service_request_id, Ticket.locale))).tuples().all()
        )
    assert stored == {reference: "zh-Hans", other: "en"}


@pytest.mark.parametrize("locale", ["zh_CN", "中文", "x" * 40])
async def test_filing_with_a_malformed_locale_is_a_400_and_files_nothing(
    translated: Client, api_key: str, sessionmaker: async_sessionmaker[AsyncSession], locale: str
) -> None:
    response = await translated.post(
        "/open311/v2/requests.json",
        data={
            "api_key": api_key,
            "service_code": "street_light",
            "lat": "52.52",
            "long": "13.40",
            "attribute[fault]": "out",
            "locale": locale,
        },
    )

    assert response.status == 400
    (error,) = await response.json()
    assert "locale" in error["description"]
    async with sessionmaker() as session:
        assert (await session.scalars(select(Ticket))).all() == []


# --- the filing notice and the handoff reply name the department in the citizen's language


async def test_the_filing_notice_is_in_the_language_the_request_was_filed_in(
    translated: Client, api_key: str
) -> None:
    answers = {}
    for locale in ("zh-Hans", "en"):
        response = await translated.post(
            "/open311/v2/requests.json",
            data=street_light_form(api_key, locale=locale),
        )
        assert response.status == 201, await response.text()
        answers[locale] = (await response.json())[0]["service_notice"]

    assert answers["zh-Hans"].startswith("已转交路灯管理所处理，预计")
    assert "日前办结" in answers["zh-Hans"]
    assert "Sent" not in answers["zh-Hans"]
    assert answers["en"].startswith("Sent to Street Lighting; expected to be resolved by ")


async def test_a_replayed_chinese_filing_gives_the_chinese_notice_again(
    translated: Client, api_key: str
) -> None:
    form = street_light_form(api_key, locale="zh-Hans")
    sent = {"Idempotency-Key": "zh-notice-1"}
    first = await translated.post("/open311/v2/requests.json", data=form, headers=sent)
    again = await translated.post("/open311/v2/requests.json", data=form, headers=sent)

    assert (first.status, again.status) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    notice = (await again.json())[0]["service_notice"]
    assert notice == (await first.json())[0]["service_notice"]
    assert notice.startswith("已转交路灯管理所处理")


async def test_a_handoff_names_the_department_in_the_locale_asked_for(
    translated: Client, api_key: str
) -> None:
    reference = await file_request(translated, api_key, account_id="telegram:12345")
    path = "/api/v1/citizens/telegram:12345/handoffs"
    sent = {"X-API-Key": api_key}
    body = {"message": "请找人联系我。", "service_request_id": reference}

    chinese = await translated.post(path, json={**body, "locale": "zh-CN"}, headers=sent)
    english = await translated.post(path, json=body, headers=sent)
    bad = await translated.post(path, json={**body, "locale": 7}, headers=sent)

    assert (chinese.status, english.status, bad.status) == (201, 201, 400)
    zh = await chinese.json()
    assert (zh["department"], zh["department_name"]) == ("Street Lighting", "路灯管理所")
    assert (await english.json())["department_name"] == "Street Lighting"
