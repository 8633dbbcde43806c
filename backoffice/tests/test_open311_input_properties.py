"""Property tests: no input to the public API gets a 5xx; every refusal is a clear 4xx.

Hypothesis generates form fields, numbers, dates, page sizes, paths and bodies far outside
what clients send. Each answer must be a success or a 4xx in the Open311 error format (or
the staff API's), with short, plain descriptions that do not echo the whole input.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import StaffFactory, parse_open311_xml, street_light_form

Client = TestClient[Any, Any]

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
MAX_DESCRIPTION_CHARS = 400

KNOWN_FIELDS = (
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "description",
    "email",
    "device_id",
    "account_id",
    "first_name",
    "last_name",
    "phone",
    "media_url",
    "jurisdiction_id",
    "attribute[fault]",
    "attribute[lights_affected]",
    "attribute[noticed_at]",
    "attribute[hazards][]",
    "attribute[pole_number]",
    "attribute[]",
    "attribute[",
)

# Text of every kind: control characters, surrogates are left out (they cannot be sent as
# UTF-8 at all), long runs, numbers in odd notations.
any_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]), max_size=300
) | st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "nan",
        "inf",
        "-inf",
        "1e999",
        "-0",
        "1_000",
        "0x10",
        "9" * 400,
        "½",
        "٣",
        "1,5",
        "52.52.1",
        "CD-",
        "x" * 5000,
        "2026-02-30T00:00:00Z",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "<b>&amp;</b>",
        "]]>",
        "' OR 1=1 --",
    ]
)
field_name = st.sampled_from(KNOWN_FIELDS) | st.text(max_size=40)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    any_text,
)


def assert_clear_refusal(status: int, body: str, content_type: str) -> None:
    """A 4xx in the API's error format with short, non-empty descriptions."""
    assert 400 <= status < 500, (status, body[:500])
    if content_type == "text/xml":
        root = parse_open311_xml(body)
        assert root.tag == "errors"
        descriptions = [error.findtext("description") or "" for error in root]
        codes = [error.findtext("code") for error in root]
        assert codes == [str(status)] * len(codes)
    else:
        assert content_type == "application/json", content_type
        parsed = json.loads(body)
        if isinstance(parsed, dict):  # the staff API
            descriptions = [parsed["error"]["message"]]
        else:
            descriptions = [error["description"] for error in parsed]
            assert all(error["code"] == status for error in parsed)
    assert descriptions
    for description in descriptions:
        assert description.strip()
        assert len(description) <= MAX_DESCRIPTION_CHARS, description
        assert "Traceback" not in description


async def post_form(client: Client, path: str, pairs: list[tuple[str, str]]) -> Any:
    """POST form pairs encoded by hand: aiohttp's own encoder refuses control characters."""
    return await client.post(
        path,
        data=urlencode(pairs).encode("ascii"),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )


async def check(response: Any) -> None:
    """Accept a success; anything else must be a clear refusal."""
    body = await response.text()
    if response.status < 300:
        return
    assert_clear_refusal(response.status, body, response.content_type)


@FUZZ
@given(
    fields=st.lists(st.tuples(field_name, any_text), max_size=25),
    fmt=st.sampled_from(["json", "xml"]),
)
async def test_random_form_fields_never_get_5xx(
    client: Client, api_key: str, fields: list[tuple[str, str]], fmt: str
) -> None:
    response = await post_form(
        client, f"/open311/v2/requests.{fmt}", [("api_key", api_key), *fields]
    )
    await check(response)


@FUZZ
@given(lat=numbers, long=numbers, count=numbers, when=any_text)
async def test_bad_numbers_and_dates_in_a_request_get_400(
    client: Client, api_key: str, lat: str, long: str, count: str, when: str
) -> None:
    form = street_light_form(
        api_key,
        lat=lat,
        long=long,
        **{"attribute[lights_affected]": count, "attribute[noticed_at]": when},
    )
    response = await client.post("/open311/v2/requests.json", data=form)
    await check(response)


@FUZZ
@given(
    body=st.binary(max_size=2000),
    charset=st.sampled_from(["", "; charset=utf-8", "; charset=latin-1", "; charset=bogus"]),
)
async def test_raw_bodies_never_get_5xx(client: Client, body: bytes, charset: str) -> None:
    response = await client.post(
        "/open311/v2/requests.json",
        data=body,
        headers={"Content-Type": f"application/x-www-form-urlencoded{charset}"},
    )
    await check(response)


@FUZZ
@given(
    filters=st.dictionaries(
        st.sampled_from(
            [
                "start_date",
                "end_date",
                "status",
                "service_code",
                "service_request_id",
                "jurisdiction_id",
                "page",
                "x",
            ]
        ),
        # Short enough that the URL stays within aiohttp's 8 KB request-line limit; longer
        # ones are refused by the HTTP parser (see test_overlong_url_gets_4xx).
        any_text.filter(lambda value: len(quote(value)) < 1500),
        max_size=5,
    ),
    fmt=st.sampled_from(["json", "xml"]),
)
async def test_bad_search_filters_get_400(
    client: Client, filters: dict[str, str], fmt: str
) -> None:
    query = "&".join(f"{quote(name)}={quote(value)}" for name, value in filters.items())
    response = await client.get(f"/open311/v2/requests.{fmt}?{query}")
    await check(response)


@FUZZ
@given(segment=st.text(max_size=80), fmt=st.sampled_from(["json", "xml", "txt", ""]))
async def test_random_resource_ids_get_404_not_5xx(client: Client, segment: str, fmt: str) -> None:
    encoded = quote(segment, safe="")
    for path in (
        f"/open311/v2/requests/{encoded}.{fmt}",
        f"/open311/v2/services/{encoded}.{fmt}",
        f"/open311/v2/tokens/{encoded}.{fmt}",
        f"/open311/v2/{encoded}",
    ):
        response = await client.get(path)
        await check(response)


@FUZZ
@given(limit=any_text | st.integers().map(str))
async def test_bad_page_sizes_get_400(client: Client, make_staff: StaffFactory, limit: str) -> None:
    headers = await _staff(make_staff)
    response = await client.get(f"/api/v1/staff/tickets?limit={quote(limit)}", headers=headers)
    await check(response)


_staff_cache: dict[int, dict[str, str]] = {}


async def _staff(make_staff: StaffFactory) -> dict[str, str]:
    # One staff member per test function (Hypothesis reuses the fixtures for all examples).
    key = id(make_staff)
    if key not in _staff_cache:
        _staff_cache[key] = (await make_staff("fuzz", "Street Lighting")).headers
    return _staff_cache[key]


@pytest.mark.parametrize("size", [64 * 1024 + 1, 200 * 1024, 2 * 1024 * 1024])
async def test_oversize_bodies_get_413(client: Client, api_key: str, size: int) -> None:
    form = street_light_form(api_key, description="d" * size)
    response = await client.post("/open311/v2/requests.xml", data=form)
    assert response.status == 413
    assert_clear_refusal(413, await response.text(), response.content_type)


async def test_oversize_chunked_body_gets_413(client: Client) -> None:
    async def chunks() -> Any:
        for _ in range(100):
            yield b"a=" + b"b" * 4096 + b"&"

    response = await client.post(
        "/open311/v2/requests.json",
        data=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status == 413


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "bogus"])
async def test_broken_content_encoding_gets_4xx(client: Client, encoding: str) -> None:
    response = await client.post(
        "/open311/v2/requests.json",
        data=b"this is not compressed",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Encoding": encoding,
        },
    )
    # Brotli without the Brotli package is refused by aiohttp's HTTP parser itself, before
    # the application runs, with a plain-text 400; the rest reach our error handling.
    assert 400 <= response.status < 500
    if response.content_type == "application/json":
        assert_clear_refusal(response.status, await response.text(), response.content_type)


async def test_overlong_url_gets_4xx(client: Client) -> None:
    response = await client.get("/open311/v2/requests.json?start_date=" + "x" * 10_000)
    assert 400 <= response.status < 500
