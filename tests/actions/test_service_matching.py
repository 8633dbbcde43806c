"""Tests of the skeleton's catalogue ranking."""

from __future__ import annotations

from actions.service_matching import find_service, rank_services, words
from tests.fakes import service

CATALOGUE = [
    service("street_light", "Street light out", "lamp, streetlight, dark, lamp post"),
    service("pothole", "Pothole or road damage", "pothole, road, hole, cracked tarmac"),
    service("litter", "Litter or overflowing bin", "rubbish, trash, bin, garbage", "waste"),
]


def test_words_fold_case_plurals_and_drop_filler() -> None:
    assert words("The Lights are DARK on my Streets") == {"light", "dark", "street"}


def test_best_match_comes_first() -> None:
    ranked = rank_services("the street lamp on my road has been dark for a week", CATALOGUE)

    assert [s.service_code for s in ranked][:2] == ["street_light", "pothole"]


def test_plural_and_case_do_not_matter() -> None:
    ranked = rank_services("BINS overflowing with Garbage", CATALOGUE)

    assert ranked[0].service_code == "litter"


def test_no_shared_words_means_no_match() -> None:
    assert rank_services("my cat is sad", CATALOGUE) == []


def test_find_service_by_code() -> None:
    found = find_service(CATALOGUE, "pothole")
    assert found is not None
    assert found.service_name == "Pothole or road damage"
    assert find_service(CATALOGUE, "nope") is None
