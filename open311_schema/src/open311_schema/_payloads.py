"""Open311 GeoReport v2 payloads as typed, immutable values.

The bot's client builds and reads these; the back office parses and renders them. Only the
standard library is used, because the two sides run in different environments (Rasa pins
pydantic 1, the back office uses pydantic 2).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

MAX_DESCRIPTION_CHARS = 4000
"""The specification limits a request's description to 4,000 characters."""

MAX_FIELD_CHARS = 255
"""Limit for short text fields (names, e-mail, phone, address ids, media URLs)."""

MAX_ADDRESS_CHARS = 500

_SHORT_FIELDS = (
    "email",
    "device_id",
    "account_id",
    "first_name",
    "last_name",
    "phone",
    "media_url",
)

Status = Literal["open", "closed"]


class SchemaError(ValueError):
    """A payload does not have the shape the specification requires.

    Attributes:
        problems: One plain-language sentence per offending field.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Open311Error:
    """One entry of Open311's error array (``[{"code": 403, "description": "..."}]``)."""

    code: int
    description: str

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "description": self.description}


@dataclass(frozen=True)
class NewServiceRequest:
    """The body of ``POST requests``: what a client files, without the API key.

    ``attributes`` maps an attribute code to one value, or to several for multi-value lists.
    Personal fields are optional; the back office never shows them on public reads.
    """

    service_code: str
    description: str | None = None
    lat: float | None = None
    long: float | None = None
    address_string: str | None = None
    address_id: str | None = None
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    media_url: str | None = None

    @property
    def has_location(self) -> bool:
        """Whether the request says where: coordinates, an address or an address id.

        The specification requires one of them, but applications such as a licence renewal
        have no place; the server decides per service whether a location is required.
        """
        return (self.lat is not None and self.long is not None) or bool(
            self.address_string or self.address_id
        )

    def to_form(self) -> list[tuple[str, str]]:
        """Encode as the ``application/x-www-form-urlencoded`` pairs the spec prescribes."""
        pairs: list[tuple[str, str]] = [("service_code", self.service_code)]
        if self.lat is not None and self.long is not None:
            pairs += [("lat", repr(self.lat)), ("long", repr(self.long))]
        optional = {
            "address_string": self.address_string,
            "address_id": self.address_id,
            "description": self.description,
            **{name: getattr(self, name) for name in _SHORT_FIELDS},
        }
        pairs += [(name, value) for name, value in optional.items() if value]
        for code, values in self.attributes.items():
            pairs += [(f"attribute[{code}]", value) for value in values]
        return pairs

    @classmethod
    def from_form(cls, pairs: Iterable[tuple[str, str]]) -> NewServiceRequest:
        """Parse form pairs, checking the shape the specification fixes.

        Empty values count as absent ("optional" in the spec). Unknown keys other than
        ``api_key`` and ``jurisdiction_id`` are rejected so typos do not vanish silently.
        A location is not required here (unlike the specification): whether a service
        needs one is the server's catalogue's call, see :attr:`has_location`.

        Raises:
            SchemaError: listing every problem found, not only the first.
        """
        single: dict[str, str] = {}
        attributes: dict[str, list[str]] = {}
        problems: list[str] = []
        for key, raw in pairs:
            value = raw.strip()
            if key.startswith("attribute[") and key.endswith("]"):
                # The spec writes multi-value lists as attribute[code][]=v1&attribute[code][]=v2.
                code = key[len("attribute[") : -1].removesuffix("][")
                if not code:
                    problems.append("attribute[] needs a code between the brackets")
                elif _has_control_characters(value):
                    problems.append(f"attribute[{code[:40]}] contains control characters")
                elif value:
                    attributes.setdefault(code, []).append(value)
            elif key in ("api_key", "jurisdiction_id"):
                continue
            elif key in _KNOWN_FORM_FIELDS:
                if _has_control_characters(value):
                    # No store or XML document can hold NUL and friends; refuse them early.
                    problems.append(f"{key} contains control characters")
                    continue
                if key in single and value and single[key] != value:
                    problems.append(f"{key} was given more than once")
                if value:
                    single[key] = value
            else:
                problems.append(f"unknown field {key[:40]!r}")

        service_code = single.get("service_code")
        if not service_code:
            problems.append("service_code is required")
        lat = _parse_coordinate(single.get("lat"), "lat", 90.0, problems)
        long = _parse_coordinate(single.get("long"), "long", 180.0, problems)
        if ("lat" in single) != ("long" in single):
            problems.append("lat and long must be sent together")
        _check_length(single, "description", MAX_DESCRIPTION_CHARS, problems)
        _check_length(single, "address_string", MAX_ADDRESS_CHARS, problems)
        for name in ("address_id", *_SHORT_FIELDS):
            _check_length(single, name, MAX_FIELD_CHARS, problems)
        if problems or service_code is None:
            raise SchemaError(problems)
        return cls(
            service_code=service_code,
            description=single.get("description"),
            lat=lat,
            long=long,
            address_string=single.get("address_string"),
            address_id=single.get("address_id"),
            attributes={code: tuple(values) for code, values in attributes.items()},
            **{name: single.get(name) for name in _SHORT_FIELDS},
        )

    def without_personal_data(self) -> NewServiceRequest:
        """A copy with names, contact details and device/account ids removed."""
        return replace(
            self,
            email=None,
            device_id=None,
            account_id=None,
            first_name=None,
            last_name=None,
            phone=None,
        )


_KNOWN_FORM_FIELDS = frozenset(
    ("service_code", "lat", "long", "address_string", "address_id", "description", *_SHORT_FIELDS)
)


def _parse_coordinate(
    raw: str | None, name: str, bound: float, problems: list[str]
) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"{name} must be a decimal number, got {raw[:40]!r}")
        return None
    if not math.isfinite(value) or not -bound <= value <= bound:
        problems.append(f"{name} must be between -{bound:g} and {bound:g}")
        return None
    return value


def _has_control_characters(value: str) -> bool:
    """True for C0 controls other than tab and line breaks, DEL, and XML's non-characters."""
    return any(
        (ord(char) < 0x20 and char not in "\t\n\r") or char in "\x7f\ufffe\uffff" for char in value
    )


def _check_length(values: Mapping[str, str], name: str, limit: int, problems: list[str]) -> None:
    value = values.get(name)
    if value is not None and len(value) > limit:
        problems.append(f"{name} is longer than {limit} characters")


@dataclass(frozen=True)
class ServiceRequestCreated:
    """One entry of the ``POST requests`` response."""

    service_request_id: str | None
    service_notice: str | None = None
    account_id: str | None = None
    token: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "service_notice": self.service_notice,
            "account_id": self.account_id,
        }
        # The spec returns either the id or a token, never both.
        if self.service_request_id is not None:
            body["service_request_id"] = self.service_request_id
        else:
            body["token"] = self.token
        return body

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ServiceRequestCreated:
        return cls(
            service_request_id=_optional_str(body.get("service_request_id")),
            service_notice=_optional_str(body.get("service_notice")),
            account_id=_optional_str(body.get("account_id")),
            token=_optional_str(body.get("token")),
        )


@dataclass(frozen=True)
class ServiceRequest:
    """A service request as the public ``GET requests`` endpoints show it (no personal data)."""

    service_request_id: str
    status: Status
    service_code: str
    service_name: str
    requested_datetime: datetime
    updated_datetime: datetime
    description: str | None = None
    status_notes: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    expected_datetime: datetime | None = None
    address: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "service_request_id": self.service_request_id,
            "status": self.status,
            "status_notes": self.status_notes,
            "service_name": self.service_name,
            "service_code": self.service_code,
            "description": self.description,
            "agency_responsible": self.agency_responsible,
            "service_notice": self.service_notice,
            "requested_datetime": format_datetime(self.requested_datetime),
            "updated_datetime": format_datetime(self.updated_datetime),
            "expected_datetime": format_datetime(self.expected_datetime),
            "address": self.address,
            "address_id": self.address_id,
            "zipcode": self.zipcode,
            "lat": self.lat,
            "long": self.long,
            "media_url": self.media_url,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ServiceRequest:
        try:
            status = body["status"]
            if status not in ("open", "closed"):
                raise SchemaError([f"status must be open or closed, got {status!r}"])
            requested = parse_datetime(str(body["requested_datetime"]))
            updated = parse_datetime(str(body["updated_datetime"]))
            expected_raw = body.get("expected_datetime")
            return cls(
                service_request_id=str(body["service_request_id"]),
                status=status,
                service_code=str(body["service_code"]),
                service_name=str(body["service_name"]),
                requested_datetime=requested,
                updated_datetime=updated,
                description=_optional_str(body.get("description")),
                status_notes=_optional_str(body.get("status_notes")),
                agency_responsible=_optional_str(body.get("agency_responsible")),
                service_notice=_optional_str(body.get("service_notice")),
                expected_datetime=parse_datetime(str(expected_raw)) if expected_raw else None,
                address=_optional_str(body.get("address")),
                address_id=_optional_str(body.get("address_id")),
                zipcode=_optional_str(body.get("zipcode")),
                lat=_optional_float(body.get("lat")),
                long=_optional_float(body.get("long")),
                media_url=_optional_str(body.get("media_url")),
            )
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, SchemaError):
                raise
            raise SchemaError([f"malformed service request: {error}"]) from error


@dataclass(frozen=True)
class Service:
    """One entry of the ``GET services`` list."""

    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"]
    keywords: tuple[str, ...]
    group: str

    def to_json(self) -> dict[str, Any]:
        return {
            "service_code": self.service_code,
            "service_name": self.service_name,
            "description": self.description,
            "metadata": self.metadata,
            "type": self.type,
            "keywords": ", ".join(self.keywords),
            "group": self.group,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Service:
        try:
            keywords = str(body.get("keywords") or "")
            return cls(
                service_code=str(body["service_code"]),
                service_name=str(body["service_name"]),
                description=str(body.get("description") or ""),
                metadata=bool(body.get("metadata")),
                type=body.get("type") or "realtime",
                keywords=tuple(word.strip() for word in keywords.split(",") if word.strip()),
                group=str(body.get("group") or ""),
            )
        except (KeyError, TypeError) as error:
            raise SchemaError([f"malformed service: {error}"]) from error


def format_datetime(value: datetime | None) -> str | None:
    """W3C date-time with an explicit offset, as the specification requires."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("Open311 date-times must be timezone-aware")
    text = value.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_datetime(text: str) -> datetime:
    """Parse a W3C date-time; a missing offset is an error, never silently UTC.

    Raises:
        ValueError: for anything but an ISO 8601 date-time with ``Z`` or ``±HH:MM``.
    """
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"date-time {text[:40]!r} has no timezone (add Z or an offset)")
    return value


def _optional_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)
