"""Reading Open311 input: the form-encoded ``POST requests`` body and ``GET requests`` filters.

Every malformed input becomes an :class:`ApiError` with a 4xx status and a sentence the
client can act on.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import get_args
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiMapping
from open311_schema import Status, parse_datetime

from civicdesk_backoffice.catalogue import is_service_code
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.tickets import (
    MAX_SEARCH_RESULTS,
    RequestSearch,
    default_range,
    parse_reference,
)

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 200
"""Generous for any service definition, small enough to stop hash-flooding bodies."""

_UTF8_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii"})
_STATUSES: tuple[Status, ...] = get_args(Status)
_EARLIEST_YEAR = 1900
_LATEST_YEAR = 9000


async def read_form(request: web.Request) -> list[tuple[str, str]]:
    """The body of a form POST as (name, value) pairs, in order, blanks kept.

    Raises:
        ApiError: 415 for another media type or charset, 400 for bytes that are not UTF-8
            or too many fields. aiohttp itself raises 413 past the body size limit.
    """
    if request.content_type != FORM_MEDIA_TYPE:
        raise ApiError(
            415, f"Send the request body as {FORM_MEDIA_TYPE}; charset=utf-8, as Open311 asks."
        )
    if request.charset is not None and request.charset.lower() not in _UTF8_CHARSETS:
        raise ApiError(415, "The request body must be encoded as UTF-8.")
    body = await request.read()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "The request body is not valid UTF-8.") from None
    try:
        return parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError:
        raise ApiError(400, "A percent-encoded value in the body is not valid UTF-8.") from None
    except ValueError:
        raise ApiError(400, f"The request body has more than {MAX_FORM_FIELDS} fields.") from None


def single_value(pairs: Iterable[tuple[str, str]], name: str) -> str | None:
    """The one non-blank value of field ``name``, or None if it is absent or blank.

    Raises:
        ApiError: 400 if the field carries two different values.
    """
    values = {value.strip() for key, value in pairs if key == name and value.strip()}
    if len(values) > 1:
        raise ApiError(400, f"{name} was given more than once with different values.")
    return values.pop() if values else None


def parse_search(query: MultiMapping[str], now: datetime) -> RequestSearch:
    """Validate the filters of ``GET requests``.

    Blank parameters count as absent, as the specification defines optional arguments.
    Comma lists and repeated parameters are both accepted.

    Raises:
        ApiError: 400 listing every bad filter.
    """
    problems: list[str] = []
    ids: list[str] = []
    for typed in _comma_list(query, "service_request_id"):
        reference = parse_reference(typed)
        if reference is None:
            problems.append(
                f"service_request_id {typed[:40]!r} is not a ticket reference such as CD-7KQ2XM"
            )
        else:
            ids.append(reference)
    codes = _comma_list(query, "service_code")
    problems += [
        f"service_code {code[:40]!r} is not a service code"
        for code in codes
        if not is_service_code(code)
    ]
    statuses: list[Status] = []
    for status in _comma_list(query, "status"):
        if status in _STATUSES:
            statuses.append(status)
        else:
            problems.append(f"status must be open or closed, got {status[:40]!r}")
    if len(ids) > MAX_SEARCH_RESULTS:
        problems.append(f"at most {MAX_SEARCH_RESULTS} service_request_id values at once")
    start = _date(query, "start_date", problems)
    end = _date(query, "end_date", problems)
    if problems:
        raise ApiError(400, *problems)
    try:
        start, end = default_range(start, end, now)
    except ValueError as error:
        raise ApiError(400, f"{error}.") from None
    return RequestSearch(
        start=start,
        end=end,
        service_request_ids=tuple(ids),
        service_codes=tuple(codes),
        statuses=tuple(statuses),
    )


def _comma_list(query: MultiMapping[str], name: str) -> list[str]:
    items = (item.strip() for value in query.getall(name, []) for item in value.split(","))
    return list(dict.fromkeys(item for item in items if item))


def _date(query: MultiMapping[str], name: str, problems: list[str]) -> datetime | None:
    values = [value.strip() for value in query.getall(name, []) if value.strip()]
    if not values:
        return None
    if len(values) > 1:
        problems.append(f"{name} was given more than once")
        return None
    try:
        value = parse_datetime(values[0])
    except ValueError:
        problems.append(
            f"{name} must be a W3C date-time with a time zone, e.g. 2010-01-01T00:00:00Z, "
            f"got {values[0][:40]!r}"
        )
        return None
    # Keeps the 90-day arithmetic and the UTC conversion clear of datetime's year limits.
    if not _EARLIEST_YEAR <= value.year <= _LATEST_YEAR:
        problems.append(f"{name} must be between the years {_EARLIEST_YEAR} and {_LATEST_YEAR}")
        return None
    return value
