"""Checking the ``attribute[code]`` answers of a new request against its service definition."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

from open311_schema import MAX_DESCRIPTION_CHARS, SchemaError, format_datetime, parse_datetime

from civicdesk_backoffice.catalogue import ServiceAttribute

MAX_STRING_CHARS = 255
"""Longest answer to a ``string`` attribute (``text`` answers may be as long as a description)."""

AttributeAnswer = str | list[str]
"""One stored answer: a list for ``multivaluelist`` attributes, a string otherwise."""

# Plain decimal notation only: float() would also take "nan", "inf" and "1_000".
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def check_attributes(
    definitions: Sequence[ServiceAttribute], submitted: Mapping[str, tuple[str, ...]]
) -> dict[str, AttributeAnswer]:
    """Validate submitted attribute values and return them normalised for storage.

    Args:
        definitions: The service's attributes from the catalogue.
        submitted: Attribute code to the values sent (already stripped, empties removed).

    Returns:
        Code to answer, for every attribute that was answered.

    Raises:
        SchemaError: listing every problem: unknown codes, missing required answers, wrong
            datatypes, values outside a list, too many values.
    """
    by_code = {definition.code: definition for definition in definitions}
    problems = [
        f"attribute[{code[:40]}] is not a question of this service"
        for code in submitted
        if code not in by_code
    ]
    answers: dict[str, AttributeAnswer] = {}
    for definition in sorted(definitions, key=lambda item: item.order):
        values = submitted.get(definition.code, ())
        if not values:
            if definition.required and definition.variable:
                problems.append(
                    f"attribute[{definition.code}] is required: {definition.description}"
                )
            continue
        answer = _check_one(definition, values, problems)
        if answer is not None:
            answers[definition.code] = answer
    if problems:
        raise SchemaError(problems)
    return answers


def _check_one(
    definition: ServiceAttribute, values: tuple[str, ...], problems: list[str]
) -> AttributeAnswer | None:
    name = f"attribute[{definition.code}]"
    if not definition.variable:
        problems.append(f"{name} is information only and takes no answer")
        return None
    if definition.datatype == "multivaluelist":
        allowed = {value.key for value in definition.values}
        unknown = [value for value in values if value not in allowed]
        if unknown:
            problems.append(f"{name} has values that are not offered: {_listed(unknown)}")
            return None
        return list(dict.fromkeys(values))  # keeps order, drops repeats
    if len(values) > 1:
        problems.append(f"{name} takes one value, got {len(values)}")
        return None
    value = values[0]
    if definition.datatype == "singlevaluelist":
        if value not in {choice.key for choice in definition.values}:
            problems.append(f"{name} must be one of {_listed(v.key for v in definition.values)}")
            return None
        return value
    if definition.datatype == "number":
        if not _NUMBER.fullmatch(value) or not math.isfinite(float(value)):
            problems.append(f"{name} must be a number, got {value[:40]!r}")
            return None
        return value
    if definition.datatype == "datetime":
        try:
            return format_datetime(parse_datetime(value)) or value
        except ValueError:
            problems.append(
                f"{name} must be a date and time with a time zone, "
                f"e.g. 2024-05-01T22:30:00+01:00, got {value[:40]!r}"
            )
            return None
    if definition.datatype == "string":
        if "\n" in value or "\r" in value:
            problems.append(f"{name} must be a single line")
            return None
        limit = MAX_STRING_CHARS
    else:  # text
        limit = MAX_DESCRIPTION_CHARS
    if len(value) > limit:
        problems.append(f"{name} is longer than {limit} characters")
        return None
    return value


def _listed(values: Iterable[str]) -> str:
    return ", ".join(repr(value[:40]) for value in values)
