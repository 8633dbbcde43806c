"""How well the catalogue search ranks real citizen phrasings (tests/data/search_cases.yml).

The figures are printed (run with ``-s`` or see the assertion message) so that a change in
the catalogue or the ranking shows its effect, not only whether it crossed the bar.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from civicdesk_backoffice.catalogue import Catalogue, read_catalogue
from civicdesk_backoffice.search import index_of_entries
from civicdesk_backoffice.settings import DEFAULT_CATALOGUE_PATH

CASES_FILE = Path(__file__).parent / "data" / "search_cases.yml"
TOP1_TARGET = 0.9
TOP3_TARGET = 0.97


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return read_catalogue(DEFAULT_CATALOGUE_PATH)


@pytest.fixture(scope="module")
def cases() -> list[dict[str, str]]:
    loaded = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
    return list(loaded["cases"])


def test_the_case_set_is_large_and_names_real_services(
    cases: list[dict[str, str]], catalogue: Catalogue
) -> None:
    codes = {entry.code for entry in catalogue.services}
    unknown = [case["code"] for case in cases if case["code"] not in codes]
    queries = [case["q"] for case in cases]

    assert len(cases) >= 60
    assert unknown == []
    assert len(set(queries)) == len(queries)
    # Every type of service is asked for somewhere.
    types = {entry.type for entry in catalogue.services if entry.code in {c["code"] for c in cases}}
    assert types == {"complaint", "application", "feedback"}


def test_top1_and_top3_accuracy_meet_the_targets(
    cases: list[dict[str, str]], catalogue: Catalogue
) -> None:
    index = index_of_entries(catalogue.services, catalogue.version)
    top1 = top3 = 0
    misses: list[str] = []
    for case in cases:
        ranked = [hit.document.code for hit in index.search(case["q"], 3)]
        top1 += ranked[:1] == [case["code"]]
        top3 += case["code"] in ranked
        if ranked[:1] != [case["code"]]:
            misses.append(f"{case['q']!r}: wanted {case['code']}, got {ranked}")
    report = (
        f"top-1 {top1}/{len(cases)} = {top1 / len(cases):.3f}, "
        f"top-3 {top3}/{len(cases)} = {top3 / len(cases):.3f}; misses: " + "; ".join(misses)
    )
    print(report)

    assert top1 / len(cases) >= TOP1_TARGET, report
    assert top3 / len(cases) >= TOP3_TARGET, report
