"""Tests of the packaged catalogue and of reading a catalogue split over several files."""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from pathlib import Path
from typing import get_args

import pytest

from civicdesk_backoffice.catalogue import (
    Catalogue,
    CatalogueError,
    Datatype,
    read_catalogue,
)
from civicdesk_backoffice.settings import DEFAULT_CATALOGUE_PATH

WALKING_SKELETON_CODES = {
    "street_light",
    "road_damage",
    "litter_bin",
    "noise",
    "water_leak",
    "park_tree",
    "illegal_parking",
    "other_problem",
}


SLOT_BOOKING_CODES = {
    "doctor_appointment",
    "vaccination",
    "driving_test",
    "vehicle_inspection",
    "document_collection",
    "sports_facility_booking",
}
"""Services that book an appointment or a slot, so ask when it would suit the citizen."""


def _entry(code: str, datatype: str = "string", *, omit: str | None = None) -> str:
    """One catalogue entry as YAML, optionally without one of its fields."""
    fields = {
        "code": code,
        "name": f"Name of {code}",
        "description": f"What {code} is for.",
        "group": "streets",
        "type": "complaint",
        "keywords": f"[{code} word]",
        "department": "Highways",
        "needs_location": "true",
        "needs_photo": "false",
        "sla_hours": "48",
    }
    if omit is not None:
        del fields[omit]
    lines = [f"{name}: {value}" for name, value in fields.items()]
    lines += [
        "attributes:",
        "  - code: detail",
        f"    datatype: {datatype}",
        "    required: false",
        "    order: 1",
        "    description: Anything to add?",
    ]
    return "  - " + "\n    ".join(lines) + "\n"


def _write_split(folder: Path, parts: dict[str, str], version: int = 3) -> Path:
    index = folder / "services.yml"
    index.write_text(f"version: {version}\ninclude: '*.yml'\n", encoding="utf-8")
    for name, entries in parts.items():
        (folder / name).write_text("services:\n" + entries, encoding="utf-8")
    return index


@pytest.fixture(scope="module")
def packaged() -> Catalogue:
    return read_catalogue(DEFAULT_CATALOGUE_PATH)


def test_packaged_catalogue_has_at_least_100_entries_of_every_type(packaged: Catalogue) -> None:
    types = Counter(entry.type for entry in packaged.services)

    assert len(packaged.services) >= 100
    assert set(types) == {"complaint", "application", "feedback"}


def test_packaged_catalogue_uses_every_attribute_datatype(packaged: Catalogue) -> None:
    used = {attribute.datatype for entry in packaged.services for attribute in entry.attributes}

    assert used == set(get_args(Datatype))


def test_packaged_catalogue_keeps_the_walking_skeleton_services(packaged: Catalogue) -> None:
    by_code = {entry.code: entry for entry in packaged.services}

    assert set(by_code) >= WALKING_SKELETON_CODES
    # The walking-skeleton bot files these two without asking the question.
    fault = next(a for a in by_code["street_light"].attributes if a.code == "fault")
    topic = next(a for a in by_code["other_problem"].attributes if a.code == "topic")
    assert not fault.required
    assert not topic.required


def test_packaged_catalogue_is_split_into_theme_files() -> None:
    files = {path.name for path in DEFAULT_CATALOGUE_PATH.parent.glob("*.yml")}

    assert len(files - {DEFAULT_CATALOGUE_PATH.name}) >= 5


def test_every_packaged_entry_has_several_keywords_and_answers_a_question(
    packaged: Catalogue,
) -> None:
    thin = [entry.code for entry in packaged.services if len(entry.keywords) < 5]
    unasked = [entry.code for entry in packaged.services if not entry.attributes]

    assert thin == []
    assert unasked == []


def test_every_application_asking_for_a_place_or_photo_words_the_question(
    packaged: Catalogue,
) -> None:
    applications = [entry for entry in packaged.services if entry.type == "application"]
    unworded_place = [e.code for e in applications if e.needs_location and not e.location_question]
    unworded_photo = [e.code for e in applications if e.needs_photo and not e.photo_question]

    assert unworded_place == []
    assert unworded_photo == []
    # Complaints may keep the bot's generic "Where is it?"; some read better in their words.
    assert any(e.location_question for e in packaged.services if e.type == "complaint")


def test_question_wording_is_published_with_the_other_columns(tmp_path: Path) -> None:
    entry = _entry("alpha") + "    location_question: Where will the event take place?\n"
    _write_split(tmp_path, {"part.yml": entry})

    (parsed,) = read_catalogue(tmp_path).services

    values = parsed.column_values()
    assert values["location_question"] == "Where will the event take place?"
    assert values["photo_question"] is None


@pytest.mark.parametrize("field", ["location_question", "photo_question"])
def test_wording_for_a_question_never_asked_is_an_error(tmp_path: Path, field: str) -> None:
    entry = _entry("alpha").replace("needs_location: true", "needs_location: false")
    _write_split(tmp_path, {"part.yml": entry + f"    {field}: Where?\n"})

    with pytest.raises(CatalogueError) as caught:
        read_catalogue(tmp_path)

    (problem,) = caught.value.problems
    assert problem.startswith("part.yml: service #1 (alpha)")
    assert f"{field} is set but needs_" in problem


def test_services_that_book_a_slot_ask_for_a_preferred_time_second(packaged: Catalogue) -> None:
    by_code = {entry.code: entry for entry in packaged.services}
    for code in sorted(SLOT_BOOKING_CODES):
        ordered = sorted(by_code[code].attributes, key=lambda attribute: attribute.order)
        asked = ordered[1]
        assert asked.code == "preferred_time", code
        assert asked.required, code
        # Free text: "next Tuesday morning" is an answer, not a datatype error.
        assert asked.datatype == "string", code
        assert asked.description == "When would suit you best?", code
        assert (asked.datatype_description or "").startswith("A day and time, e.g."), code
    elsewhere = [
        entry.code
        for entry in packaged.services
        if entry.code not in SLOT_BOOKING_CODES
        and any(attribute.code == "preferred_time" for attribute in entry.attributes)
    ]
    assert elsewhere == []


def test_train_tickets_ask_for_the_journey_and_the_day_and_no_place(packaged: Catalogue) -> None:
    (train,) = [entry for entry in packaged.services if entry.code == "train_ticket"]
    required = {attribute.code: attribute for attribute in train.attributes if attribute.required}

    assert (train.type, train.needs_location, train.needs_photo) == ("application", False, False)
    assert set(required) == {"journey", "travel_date"}
    assert required["journey"].datatype == required["travel_date"].datatype == "string"
    assert required["journey"].description == "From where to where are you travelling?"
    assert required["travel_date"].description == "On which day do you want to travel?"


def test_split_catalogue_reads_every_file_in_name_order_with_the_index_version(
    tmp_path: Path,
) -> None:
    index = _write_split(
        tmp_path, {"b-second.yml": _entry("bravo"), "a-first.yml": _entry("alpha")}, version=7
    )
    (tmp_path / "notes.txt").write_text("not part of the catalogue", encoding="utf-8")

    catalogue = read_catalogue(index)

    assert catalogue.version == 7
    assert [entry.code for entry in catalogue.services] == ["alpha", "bravo"]


def test_a_folder_path_means_its_index_file(tmp_path: Path) -> None:
    _write_split(tmp_path, {"part.yml": _entry("alpha")})

    assert [entry.code for entry in read_catalogue(tmp_path).services] == ["alpha"]


def test_a_single_file_catalogue_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "one.yml"
    path.write_text("version: 4\nservices:\n" + _entry("alpha"), encoding="utf-8")

    catalogue = read_catalogue(path)

    assert (catalogue.version, [entry.code for entry in catalogue.services]) == (4, ["alpha"])


def test_synonyms_are_published_as_keywords_without_repeats(tmp_path: Path) -> None:
    entry = _entry("alpha").replace("keywords: [alpha word]", "keywords: [lamp, light]")
    entry += "    synonyms: [lantern, lamp]\n"
    _write_split(tmp_path, {"part.yml": entry})

    (parsed,) = read_catalogue(tmp_path).services

    assert parsed.column_values()["keywords"] == ["lamp", "light", "lantern"]


def test_a_code_in_two_files_is_an_error_naming_both_files(tmp_path: Path) -> None:
    _write_split(tmp_path, {"one.yml": _entry("alpha"), "two.yml": _entry("alpha")})

    with pytest.raises(CatalogueError) as caught:
        read_catalogue(tmp_path)

    assert caught.value.problems == [
        "service code 'alpha' appears more than once: in one.yml and in two.yml"
    ]


def test_a_code_twice_in_one_file_is_an_error(tmp_path: Path) -> None:
    _write_split(tmp_path, {"one.yml": _entry("alpha") + _entry("alpha")})

    with pytest.raises(
        CatalogueError, match=re.escape("'alpha' appears more than once in one.yml")
    ):
        read_catalogue(tmp_path)


def test_a_bad_datatype_names_the_file_service_and_attribute(tmp_path: Path) -> None:
    _write_split(tmp_path, {"ok.yml": _entry("alpha"), "bad.yml": _entry("bravo", "colour")})

    with pytest.raises(CatalogueError) as caught:
        read_catalogue(tmp_path)

    (problem,) = caught.value.problems
    assert problem.startswith("bad.yml: service #1 (bravo), attribute #1 (detail)")
    assert "'string', 'number', 'datetime'" in problem


def test_a_missing_field_names_the_field(tmp_path: Path) -> None:
    _write_split(tmp_path, {"part.yml": _entry("alpha", omit="department")})

    with pytest.raises(CatalogueError) as caught:
        read_catalogue(tmp_path)

    assert caught.value.problems == ["part.yml: service #1 (alpha), department: Field required"]


def test_problems_of_several_files_are_reported_together(tmp_path: Path) -> None:
    _write_split(
        tmp_path,
        {"a.yml": _entry("alpha", omit="name"), "b.yml": _entry("bravo", omit="sla_hours")},
    )

    with pytest.raises(CatalogueError) as caught:
        read_catalogue(tmp_path)

    assert [problem.split(":")[0] for problem in caught.value.problems] == ["a.yml", "b.yml"]


def test_only_the_index_may_set_the_version(tmp_path: Path) -> None:
    _write_split(tmp_path, {"part.yml": _entry("alpha")})
    (tmp_path / "extra.yml").write_text("version: 2\nservices:\n" + _entry("bravo"), "utf-8")

    with pytest.raises(
        CatalogueError, match=re.escape("extra.yml: sets a version; only the index")
    ):
        read_catalogue(tmp_path)


def test_an_index_without_matching_files_is_an_error(tmp_path: Path) -> None:
    index = tmp_path / "services.yml"
    index.write_text("version: 1\ninclude: 'services-*.yml'\n", encoding="utf-8")

    with pytest.raises(
        CatalogueError, match=re.escape("no service file matches include 'services-*.yml'")
    ):
        read_catalogue(index)


def test_an_index_may_not_reach_outside_its_folder(tmp_path: Path) -> None:
    index = tmp_path / "services.yml"
    index.write_text("version: 1\ninclude: '../*.yml'\n", encoding="utf-8")

    with pytest.raises(
        CatalogueError, match=re.escape("services.yml: include: String should match")
    ):
        read_catalogue(index)


def test_a_service_file_that_is_not_yaml_is_named(tmp_path: Path) -> None:
    _write_split(tmp_path, {"part.yml": _entry("alpha")})
    (tmp_path / "broken.yml").write_text("services: [unclosed\n", encoding="utf-8")

    with pytest.raises(CatalogueError, match=re.escape("broken.yml is not valid YAML")):
        read_catalogue(tmp_path)


def test_a_missing_catalogue_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match=re.escape("cannot read services.yml")):
        read_catalogue(tmp_path)


def test_an_entry_in_the_shape_of_the_catalogue_files_fails_without_services(
    tmp_path: Path,
) -> None:
    _write_split(tmp_path, {"part.yml": _entry("alpha")})
    (tmp_path / "empty.yml").write_text(
        textwrap.dedent("""\
            # a theme file someone started and left empty
            services: []
        """),
        encoding="utf-8",
    )

    with pytest.raises(
        CatalogueError, match=re.escape("empty.yml: services: List should have at least 1")
    ):
        read_catalogue(tmp_path)
