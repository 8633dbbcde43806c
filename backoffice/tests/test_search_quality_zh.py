"""How well the catalogue search ranks Chinese phrasings (tests/data/search_cases_zh.yml).

Queries are sentences as citizens type them, some with a homophone typo (同音字). The
figures are printed (run with ``-s`` or see the assertion message) so a change in the
translations or the ranking shows its effect, not only whether it crossed the bar.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from civicdesk_backoffice.catalogue import Catalogue, read_catalogue
from civicdesk_backoffice.search import CatalogueIndex, index_of_catalogue
from civicdesk_backoffice.settings import DEFAULT_CATALOGUE_PATH

CASES_FILE = Path(__file__).parent / "data" / "search_cases_zh.yml"
TOP1_TARGET = 0.85
TOP3_TARGET = 0.95


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return read_catalogue(DEFAULT_CATALOGUE_PATH)


@pytest.fixture(scope="module")
def index(catalogue: Catalogue) -> CatalogueIndex:
    return index_of_catalogue(catalogue, "zh-Hans")


@pytest.fixture(scope="module")
def cases() -> list[dict[str, str]]:
    loaded = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
    return list(loaded["cases"])


def _recall(index: CatalogueIndex, cases: list[dict[str, str]]) -> tuple[int, int, list[str]]:
    top1 = top3 = 0
    misses: list[str] = []
    for case in cases:
        ranked = [hit.document.code for hit in index.search(case["q"], 3)]
        top1 += ranked[:1] == [case["code"]]
        top3 += case["code"] in ranked
        if ranked[:1] != [case["code"]]:
            misses.append(f"{case['q']!r}: wanted {case['code']}, got {ranked}")
    return top1, top3, misses


def test_the_case_set_is_large_and_names_real_services(
    cases: list[dict[str, str]], catalogue: Catalogue
) -> None:
    codes = {entry.code for entry in catalogue.services}
    queries = [case["q"] for case in cases]

    assert len(cases) >= 40
    assert [case["code"] for case in cases if case["code"] not in codes] == []
    assert len(set(queries)) == len(queries)
    types = {entry.type for entry in catalogue.services if entry.code in {c["code"] for c in cases}}
    assert types == {"complaint", "application", "feedback"}


def test_recall_at_1_and_3_meet_the_targets(
    index: CatalogueIndex, cases: list[dict[str, str]]
) -> None:
    top1, top3, misses = _recall(index, cases)
    report = (
        f"recall@1 {top1}/{len(cases)} = {top1 / len(cases):.3f}, "
        f"recall@3 {top3}/{len(cases)} = {top3 / len(cases):.3f}; misses: " + "; ".join(misses)
    )
    print(report)

    assert top1 / len(cases) >= TOP1_TARGET, report
    assert top3 / len(cases) >= TOP3_TARGET, report


@pytest.mark.parametrize(
    ("typo", "meant", "code"),
    [
        ("路登坏了", "路灯坏了", "street_light"),
        ("拉圾桶满了", "垃圾桶满了", "litter_bin"),
        ("身分证丢了", "身份证丢了", "id_card"),
    ],
)
def test_a_homophone_typo_finds_the_service_but_scores_below_the_right_word(
    index: CatalogueIndex, typo: str, meant: str, code: str
) -> None:
    (typed,) = index.search(typo, 1)
    (right,) = index.search(meant, 1)

    assert typed.document.code == right.document.code == code
    assert typed.score < right.score


def test_synonyms_from_the_data_find_the_same_service(index: CatalogueIndex) -> None:
    assert [hit.document.code for hit in index.search("路灯", 1)] == ["street_light"]
    assert [hit.document.code for hit in index.search("街灯", 1)] == ["street_light"]
    assert [hit.document.code for hit in index.search("路边一堆废物没人清理", 1)] == ["litter_bin"]
    # 废物 alone is also the word of dangerous waste (危险废物): both are offered.
    assert "litter_bin" in [hit.document.code for hit in index.search("废物", 3)]
    assert [hit.document.code for hit in index.search("看医生", 1)] == ["doctor_appointment"]


def test_one_shared_character_is_weaker_than_a_shared_word(index: CatalogueIndex) -> None:
    # 灯 alone still finds the lights, but a bigram match outweighs it.
    (lamp,) = index.search("灯", 1)
    (street_light,) = index.search("路灯", 1)

    assert lamp.document.code == "street_light"
    assert lamp.score < street_light.score


def test_latin_words_inside_chinese_text_are_matched(index: CatalogueIndex) -> None:
    (hit,) = index.search("开KTV要办什么许可", 1)

    assert hit.document.code == "alcohol_licence"
    assert "ktv" in hit.matched  # matched words are reported folded, as in English


def test_a_query_without_any_catalogue_word_finds_nothing(index: CatalogueIndex) -> None:
    assert index.search("嗯嗯好的", 5) == []
