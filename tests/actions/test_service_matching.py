"""Tests of the skeleton's catalogue ranking."""

from __future__ import annotations

from actions.open311_client import ServiceMatch
from actions.service_matching import above_floor, find_service, rank_services, words
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


def test_side_matches_far_below_the_best_are_not_offered() -> None:
    # The back office's scores for "the street lamp outside no. 12 Jiefang Road has been
    # dark for a week": "Road" in the address matched every road service.
    matches = [
        ServiceMatch("street_light", "Street light not working", 25.857),
        ServiceMatch("road_sign", "Damaged or missing road sign", 6.646),
        ServiceMatch("event_permit", "Permit for an event or street party", 6.242),
    ]

    assert [m.service_code for m in above_floor(matches)] == ["street_light"]


def test_close_matches_are_all_offered() -> None:
    matches = [
        ServiceMatch("a", "A", 10.0),
        ServiceMatch("b", "B", 8.0),
        ServiceMatch("c", "C", 3.6),
    ]

    assert [m.service_code for m in above_floor(matches)] == ["a", "b", "c"]
    assert above_floor([]) == []
