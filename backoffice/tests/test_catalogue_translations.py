"""The catalogue's translations: complete for every packaged service, naming only what exists."""

# Chinese text is written with full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.catalogue import (
    Catalogue,
    CatalogueError,
    missing_translations,
    parse_catalogue,
    read_catalogue,
    sync_catalogue,
)
from civicdesk_backoffice.models import ServiceEntry
from civicdesk_backoffice.settings import DEFAULT_CATALOGUE_PATH
from tests.translated_catalogue import translated_catalogue, translated_raw


@pytest.fixture(scope="module")
def packaged() -> Catalogue:
    return read_catalogue(DEFAULT_CATALOGUE_PATH)


def _is_chinese(text: str) -> bool:
    """Whether most letters of ``text`` are CJK ideographs (so it was not left in English)."""
    letters = [char for char in text if char.isalpha()]
    cjk = [char for char in letters if "CJK" in unicodedata.name(char, "")]
    return bool(letters) and len(cjk) / len(letters) >= 0.6


def test_packaged_catalogue_is_translated_to_simplified_chinese_completely(
    packaged: Catalogue,
) -> None:
    assert "zh-Hans" in packaged.translations
    assert missing_translations(packaged, "zh-Hans") == []


def test_every_packaged_translation_is_written_in_chinese(packaged: Catalogue) -> None:
    overlay = packaged.translations["zh-Hans"]
    texts: list[tuple[str, str]] = [(f"group {g}", label) for g, label in overlay.groups.items()]
    texts += [(f"department {d}", name) for d, name in overlay.departments.items()]
    for code, words in overlay.services.items():
        texts += [(f"{code} name", words.name), (f"{code} description", words.description)]
        # Keywords may be Latin where citizens write it so ("KTV"); most must be Chinese.
        texts.append((f"{code} keywords", "".join(words.keywords)))
        texts += [
            (f"{code} question", q) for q in (words.location_question, words.photo_question) if q
        ]
        for attribute_code, attribute in words.attributes.items():
            texts.append((f"{code}.{attribute_code}", attribute.description))
            texts += [
                (f"{code}.{attribute_code}.{key}", name) for key, name in attribute.values.items()
            ]
    english = [f"{where}: {text!r}" for where, text in texts if not _is_chinese(text)]

    assert len(texts) > 1000
    assert english == []


def test_common_chinese_words_name_the_right_packaged_services(packaged: Catalogue) -> None:
    overlay = packaged.translations["zh-Hans"]

    def words(code: str) -> set[str]:
        service = overlay.services[code]
        return {*service.keywords, *service.synonyms}

    assert {"路灯", "街灯"} <= words("street_light")
    assert {"垃圾", "废物"} <= words("litter_bin")
    assert {"办身份证", "补办身份证"} <= words("id_card")
    assert {"挂号", "看医生"} <= words("doctor_appointment")


def test_a_missing_service_attribute_option_or_question_is_listed() -> None:
    raw = translated_raw()
    zh = raw["translations"]["zh-Hans"]
    del zh["services"]["graffiti"]
    del zh["services"]["street_light"]["attributes"]["fault"]["values"]["flickering"]
    del zh["services"]["street_light"]["attributes"]["details"]
    del zh["services"]["bulky_waste"]["location_question"]
    del zh["groups"]["transport"]
    del zh["departments"]["Licensing"]

    missing = missing_translations(parse_catalogue(raw), "zh-Hans")

    assert missing == [
        "group 'transport'",
        "department 'Licensing'",
        "service 'street_light', attribute 'fault': option 'flickering'",
        "service 'street_light', attribute 'details'",
        "service 'graffiti'",
        "service 'bulky_waste': location_question",
    ]
    assert missing_translations(translated_catalogue(), "zh-Hans") == []
    assert missing_translations(translated_catalogue(), "fr") == [
        "fr: no translation of the catalogue"
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda zh: zh["services"].update(
                no_such={"name": "无", "description": "无", "keywords": ["无"]}
            ),
            "service 'no_such' is not in the catalogue",
        ),
        (
            lambda zh: zh["services"]["street_light"]["attributes"].update(colour="什么颜色？"),
            "attribute 'colour' is not an attribute of that service",
        ),
        (
            lambda zh: zh["services"]["street_light"]["attributes"]["fault"]["values"].update(
                gone="没了"
            ),
            "option 'gone' is not one of its values",
        ),
        (lambda zh: zh["groups"].update(parks="公园"), "'parks' is not a group of any service"),
        (
            lambda zh: zh["departments"].update(Parks="园林局"),
            "departments: 'Parks' is not the department of any service",
        ),
        (
            lambda zh: zh["services"]["graffiti"].update(location_question="在哪里？"),
            "location_question has no English to translate",
        ),
    ],
)
def test_an_overlay_naming_what_does_not_exist_is_an_error(change: object, problem: str) -> None:
    raw = translated_raw()
    change(raw["translations"]["zh-Hans"])  # type: ignore[operator]

    with pytest.raises(CatalogueError, match=re.escape(problem)):
        parse_catalogue(raw)


def test_a_yes_key_read_as_a_boolean_is_refused() -> None:
    raw = translated_raw()
    raw["translations"]["zh-Hans"]["services"]["street_light"]["attributes"]["fault"]["values"] = {
        True: "是"
    }

    with pytest.raises(
        CatalogueError, match=r"attributes, fault, .*\[key\]: Input should be a valid string"
    ):
        parse_catalogue(raw)


def _copy_packaged(tmp_path: Path) -> Path:
    folder = tmp_path / "catalogue"
    shutil.copytree(DEFAULT_CATALOGUE_PATH.parent, folder)
    return folder


def test_an_overlay_file_without_an_english_file_is_an_error(tmp_path: Path) -> None:
    folder = _copy_packaged(tmp_path)
    (folder / "zh-Hans" / "complaints-misc.yml").write_text("services: {}\n", encoding="utf-8")

    with pytest.raises(CatalogueError, match=re.escape("zh-Hans/complaints-misc.yml: there is no")):
        read_catalogue(folder)


def test_a_service_translated_in_another_file_than_its_own_is_an_error(tmp_path: Path) -> None:
    folder = _copy_packaged(tmp_path)
    streets = folder / "zh-Hans" / "complaints-streets.yml"
    moved = "  graffiti_again_placeholder: {}\n"
    text = streets.read_text(encoding="utf-8")
    # The noise service lives in complaints-environment.yml; translate it in the streets file.
    text += "  noise:\n    name: 噪音\n    description: 太吵。\n    keywords: [噪音]\n"
    streets.write_text(text, encoding="utf-8")
    assert moved not in text

    with pytest.raises(
        CatalogueError, match=re.escape("'noise' belongs in zh-Hans/complaints-environment.yml")
    ):
        read_catalogue(folder)


def test_a_missing_translation_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = _copy_packaged(tmp_path)
    shutil.rmtree(folder / "zh-Hans")

    with pytest.raises(CatalogueError, match=re.escape("cannot read groups.yml")):
        read_catalogue(folder)


async def test_loading_stores_each_services_words_per_locale(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker.begin() as session:
        report = await sync_catalogue(session, translated_catalogue())
    async with sessionmaker() as session:
        light = await session.get(ServiceEntry, "street_light")
        bulky = await session.get(ServiceEntry, "bulky_waste")

    assert set(report.updated) == {"street_light", "graffiti", "bulky_waste", "licence_renewal"}
    assert light is not None
    assert bulky is not None
    zh = light.translations["zh-Hans"]
    assert (zh["name"], zh["group"]) == ("路灯不亮", "道路设施")
    assert zh["keywords"] == ["路灯", "街灯", "灯杆"]
    assert zh["attributes"]["fault"]["values"] == {"out": "晚上不亮", "flickering": "一闪一闪"}
    assert bulky.translations["zh-Hans"]["location_question"] == "我们去哪里收这些东西？"
