"""Tests of the catalogue search index itself (no database, no HTTP)."""

from __future__ import annotations

import time

import pytest

from civicdesk_backoffice.catalogue import read_catalogue
from civicdesk_backoffice.search import (
    CatalogueIndex,
    SearchDocument,
    index_of_entries,
    stem,
    terms,
    tokens,
)
from civicdesk_backoffice.settings import DEFAULT_CATALOGUE_PATH


@pytest.fixture(scope="module")
def index() -> CatalogueIndex:
    catalogue = read_catalogue(DEFAULT_CATALOGUE_PATH)
    return index_of_entries(catalogue.services, catalogue.version)


def _document(code: str, name: str, *keywords: str, description: str = "") -> SearchDocument:
    return SearchDocument(
        code=code,
        name=name,
        group="streets",
        type="complaint",
        description=description or f"About {name.lower()}.",
        keywords=keywords,
        department="Highways",
    )


def _top(index: CatalogueIndex, query: str, limit: int = 3) -> list[str]:
    return [hit.document.code for hit in index.search(query, limit)]


@pytest.mark.parametrize(
    "forms",
    [
        ("light", "lights", "lighting"),
        ("park", "parked", "parking", "parks"),
        ("cancel", "cancelled", "cancels"),
        ("damage", "damaged", "damages"),
        ("bus", "buses"),
        ("lorry", "lorries"),
        ("noise", "noises"),
    ],
)
def test_word_forms_share_one_stem(forms: tuple[str, ...]) -> None:
    assert len({stem(form) for form in forms}) == 1, {form: stem(form) for form in forms}


@pytest.mark.parametrize(("first", "second"), [("rating", "rat"), ("pass", "pas"), ("bus", "bu")])
def test_stemming_keeps_different_words_apart(first: str, second: str) -> None:
    assert stem(first) != stem(second)


def test_phrases_keep_verb_endings_so_car_parked_is_not_car_park() -> None:
    assert "car park" in terms("car park machine")
    assert "car park" not in terms("a car parked on the pavement")
    assert "street light" in terms("Street lights out")


def test_the_walking_skeleton_example_finds_the_street_light_first(index: CatalogueIndex) -> None:
    assert _top(index, "my street lamp has been dark for a week")[0] == "street_light"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("stret lamp", "street_light"),
        ("pothoel", "road_damage"),
        ("big pothloe in the road", "road_damage"),
        ("grafitti on the wall", "graffiti"),
        ("overflowing rubish bin", "litter_bin"),
        ("renew my pasport", "passport"),
        ("streetlihgts not working", "street_light"),
    ],
)
def test_typos_are_forgiven(index: CatalogueIndex, query: str, code: str) -> None:
    assert _top(index, query, 1) == [code]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("lighting broken on our road", "street_light"),
        ("the lights are out", "street_light"),
        ("a van parked on the pavement", "illegal_parking"),
        ("drivers license", "driving_licence_new"),
        ("the neighbors dog keeps barking", "noise"),
    ],
)
def test_word_forms_and_spellings_are_matched(index: CatalogueIndex, query: str, code: str) -> None:
    assert _top(index, query, 1) == [code]


def test_a_corrected_word_counts_less_than_an_exact_one(index: CatalogueIndex) -> None:
    (exact,) = index.search("pothole", 1)
    (corrected,) = index.search("pothoel", 1)

    assert exact.document.code == corrected.document.code == "road_damage"
    assert 0 < corrected.score < exact.score


def test_hits_name_the_query_words_that_matched(index: CatalogueIndex) -> None:
    hit = index.search("Stret LAMP flickering at night", 1)[0]

    assert hit.document.code == "street_light"
    assert hit.matched[:3] == ("stret", "lamp", "flickering")
    body = hit.to_json()
    assert set(body) == {
        "service_code",
        "service_name",
        "group",
        "type",
        "department",
        "score",
        "matched",
    }
    assert body["service_name"] == "Street light not working"


@pytest.mark.parametrize("query", ["asdfgh", "qwertyuiop zxcv", "the and of", "!!!", "12345"])
def test_text_without_catalogue_words_finds_nothing(index: CatalogueIndex, query: str) -> None:
    assert index.search(query) == []


def test_unrelated_text_scores_far_below_a_real_request(index: CatalogueIndex) -> None:
    real = index.search("broken street light", 1)[0].score
    unrelated = index.search("my cat looks sad today", 1)

    assert all(hit.score < real / 3 for hit in unrelated)


def test_results_are_sorted_limited_and_deterministic(index: CatalogueIndex) -> None:
    hits = index.search("bus", 50)

    assert len(hits) > 5
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert [hit.document.code for hit in index.search("bus", 4)] == [
        hit.document.code for hit in hits[:4]
    ]


def test_a_phrase_outranks_the_same_words_apart() -> None:
    index = CatalogueIndex(
        [
            _document("scattered", "Lights in a street", "street", "light"),
            _document("phrase", "Street light", "street light", "light"),
        ]
    )

    assert _top(index, "street light") == ["phrase", "scattered"]


def test_the_name_weighs_more_than_the_description() -> None:
    index = CatalogueIndex(
        [
            _document("in_name", "Bench repair", "seat", description="Fix public seats."),
            _document("in_description", "Seat repair", "seat", description="Fix a bench."),
        ]
    )

    assert _top(index, "bench") == ["in_name", "in_description"]


def test_short_unknown_words_are_not_guessed() -> None:
    index = CatalogueIndex([_document("bin", "Full bin", "bin")])

    assert index.search("bim") == []
    assert _top(index, "bin") == ["bin"]


def test_text_speak_is_read_as_the_word_it_stands_for() -> None:
    # "lite" is too short for typo correction and three edits from "light".
    assert tokens("brokn lite thru the nite") == ["brokn", "light", "through", "night"]
    index = CatalogueIndex([_document("lamp", "Street light out", "street light")])

    assert _top(index, "street lite") == ["lamp"]


def test_out_keeps_its_sense_and_filler_adverbs_are_dropped() -> None:
    assert "out work" in terms("out of work")
    # Filler would otherwise be "corrected" to a catalogue word (nearly -> yearly).
    assert tokens("it nearly always almost broke") == ["broke"]


def test_an_empty_index_finds_nothing() -> None:
    assert CatalogueIndex([]).search("street light") == []


def test_long_junk_is_cheap(index: CatalogueIndex) -> None:
    # A 500-character "word" once cost seconds: deletion variants grow with its length.
    junk_word = "".join(chr(ord("a") + (i * 7) % 26) + str(i % 10) for i in range(250))
    junk_words = " ".join(f"zq{i:02d}xkvwpty" for i in range(40))

    for query in (junk_word, junk_words):
        start = time.perf_counter()
        assert index.search(query) == []
        assert time.perf_counter() - start < 0.25


def test_types_keep_only_services_of_those_types(index: CatalogueIndex) -> None:
    everything = index.search("my driving licence expired, bad service", 50)
    applications = index.search(
        "my driving licence expired, bad service", 50, types={"application"}
    )

    assert {hit.document.type for hit in everything} > {"application"}
    assert applications
    assert {hit.document.type for hit in applications} == {"application"}
    assert [hit.document.code for hit in applications] == [
        hit.document.code for hit in everything if hit.document.type == "application"
    ]
