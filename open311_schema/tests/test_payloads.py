"""Tests of the shared Open311 payloads: form parsing, JSON round trips, date-times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from open311_schema import (
    NewServiceRequest,
    SchemaError,
    Service,
    ServiceDefinition,
    ServiceRequest,
    ServiceRequestCreated,
    format_datetime,
    parse_datetime,
)


def test_form_round_trip_keeps_every_field() -> None:
    request = NewServiceRequest(
        service_code="street_light",
        description="Dark for a week",
        lat=31.2304,
        long=121.4737,
        address_string="12 Jiefang Road",
        attributes={"pole": ("A-17",), "hazards": ("wires", "glass")},
        email="citizen@example.org",
    )

    parsed = NewServiceRequest.from_form([("api_key", "k"), *request.to_form()])

    assert parsed == request


def test_form_needs_a_service_code_but_no_location() -> None:
    with pytest.raises(SchemaError) as caught:
        NewServiceRequest.from_form([("description", "broken")])

    assert caught.value.problems == ["service_code is required"]


def test_a_request_without_a_location_parses_and_says_so() -> None:
    # Applications such as a licence renewal have no place; the server decides per service.
    parsed = NewServiceRequest.from_form(
        [("service_code", "driving_licence_renewal"), ("attribute[licence_number]", "B123")]
    )

    assert parsed.has_location is False
    assert parsed.lat is None
    assert parsed.address_string is None


@pytest.mark.parametrize(
    "pairs",
    [
        [("lat", "31.23"), ("long", "121.47")],
        [("address_string", "12 Jiefang Road")],
        [("address_id", "A-17")],
        [("lat", "0"), ("long", "0")],
    ],
)
def test_has_location_with_coordinates_or_an_address(pairs: list[tuple[str, str]]) -> None:
    parsed = NewServiceRequest.from_form([("service_code", "s"), *pairs])

    assert parsed.has_location is True


def test_blank_location_fields_are_no_location() -> None:
    parsed = NewServiceRequest.from_form(
        [("service_code", "s"), ("lat", ""), ("long", " "), ("address_string", "")]
    )

    assert parsed.has_location is False
    assert NewServiceRequest("s", lat=1.0).has_location is False


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("lat", "abc"), ("long", "1")], "lat must be a decimal number"),
        ([("lat", "91"), ("long", "1")], "lat must be between -90 and 90"),
        ([("lat", "1"), ("long", "nan")], "long must be between -180 and 180"),
        ([("lat", "1")], "lat and long must be sent together"),
        ([("long", "1")], "lat and long must be sent together"),
        ([("address_string", "x" * 501)], "address_string is longer than 500"),
        ([("address_id", "x" * 256)], "address_id is longer than 255"),
        ([("address_string", "x"), ("colour", "red")], "unknown field 'colour'"),
        ([("address_string", "x"), ("description", "d" * 4001)], "description is longer"),
        ([("address_string", "x"), ("attribute[]", "v")], "attribute[] needs a code"),
    ],
)
def test_form_problems_are_named(pairs: list[tuple[str, str]], expected: str) -> None:
    with pytest.raises(SchemaError) as caught:
        NewServiceRequest.from_form([("service_code", "s"), *pairs])

    assert any(problem.startswith(expected) for problem in caught.value.problems), (
        caught.value.problems
    )


def test_empty_values_count_as_absent() -> None:
    parsed = NewServiceRequest.from_form(
        [("service_code", "s"), ("address_string", "Main St"), ("email", ""), ("lat", "")]
    )

    assert parsed.email is None
    assert parsed.lat is None


def test_personal_data_can_be_stripped() -> None:
    request = NewServiceRequest("s", address_string="x", phone="123", first_name="Li")

    stripped = request.without_personal_data()

    assert stripped.phone is None
    assert stripped.first_name is None
    assert stripped.address_string == "x"


def test_created_returns_id_or_token_never_both() -> None:
    assert "token" not in ServiceRequestCreated("CD-1").to_json()
    assert "service_request_id" not in ServiceRequestCreated(None, token="t").to_json()


def test_service_request_json_round_trip() -> None:
    now = datetime(2026, 11, 29, 8, 15, 30, tzinfo=timezone.utc)
    request = ServiceRequest(
        service_request_id="CD-7K3M9Q",
        status="open",
        service_code="street_light",
        service_name="Street light out",
        requested_datetime=now,
        updated_datetime=now,
        expected_datetime=now + timedelta(days=3),
        address="12 Jiefang Road",
    )

    body = request.to_json()

    assert body["requested_datetime"] == "2026-11-29T08:15:30Z"
    assert "email" not in body
    assert ServiceRequest.from_json(body) == request


def test_service_request_with_unknown_status_is_refused() -> None:
    body = {
        "service_request_id": "1",
        "status": "pending",
        "service_code": "s",
        "service_name": "S",
        "requested_datetime": "2026-01-01T00:00:00Z",
        "updated_datetime": "2026-01-01T00:00:00Z",
    }
    with pytest.raises(SchemaError):
        ServiceRequest.from_json(body)


def test_service_keywords_are_split_and_joined() -> None:
    service = Service.from_json(
        {"service_code": "s", "service_name": "S", "keywords": "lamp, dark ,light", "group": "g"}
    )

    assert service.keywords == ("lamp", "dark", "light")
    assert service.to_json()["keywords"] == "lamp, dark, light"


def test_definition_sorts_attributes_and_lists_required_ones() -> None:
    definition = ServiceDefinition.from_json(
        {
            "service_code": "s",
            "attributes": [
                {"code": "b", "datatype": "number", "required": False, "order": 2},
                {"code": "a", "datatype": "string", "required": True, "order": 1},
                {
                    "code": "info",
                    "datatype": "text",
                    "required": True,
                    "order": 3,
                    "variable": False,
                },
            ],
        }
    )

    assert [attribute.code for attribute in definition.attributes] == ["a", "b", "info"]
    assert [attribute.code for attribute in definition.required_attributes] == ["a"]


def test_definition_refuses_unknown_datatypes() -> None:
    with pytest.raises(SchemaError):
        ServiceDefinition.from_json(
            {"service_code": "s", "attributes": [{"code": "a", "datatype": "colour"}]}
        )


def test_datetimes_need_an_offset() -> None:
    assert parse_datetime("1994-11-05T08:15:30-05:00") == parse_datetime("1994-11-05T13:15:30Z")
    with pytest.raises(ValueError, match="no timezone"):
        parse_datetime("1994-11-05T08:15:30")
    with pytest.raises(ValueError, match="timezone-aware"):
        format_datetime(datetime(2026, 1, 1))
