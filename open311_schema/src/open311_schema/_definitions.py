"""Open311 service definitions: the questions a service asks (its attributes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from open311_schema._payloads import SchemaError

Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
DATATYPES: tuple[str, ...] = (
    "string",
    "number",
    "datetime",
    "text",
    "singlevaluelist",
    "multivaluelist",
)


@dataclass(frozen=True)
class AttributeValue:
    """One allowed choice of a list attribute."""

    key: str
    name: str


@dataclass(frozen=True)
class ServiceAttribute:
    """One question of a service definition."""

    code: str
    datatype: Datatype
    required: bool
    description: str
    order: int
    variable: bool = True
    datatype_description: str | None = None
    values: tuple[AttributeValue, ...] = ()

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "variable": self.variable,
            "code": self.code,
            "datatype": self.datatype,
            "required": self.required,
            "datatype_description": self.datatype_description,
            "order": self.order,
            "description": self.description,
        }
        if self.values:
            body["values"] = [{"key": value.key, "name": value.name} for value in self.values]
        return body

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ServiceAttribute:
        datatype = body.get("datatype")
        if datatype not in DATATYPES:
            raise SchemaError([f"attribute datatype {datatype!r} is not an Open311 datatype"])
        try:
            return cls(
                code=str(body["code"]),
                datatype=datatype,
                required=bool(body.get("required")),
                description=str(body.get("description") or ""),
                order=int(body.get("order") or 0),
                variable=bool(body.get("variable", True)),
                datatype_description=body.get("datatype_description") or None,
                values=tuple(
                    AttributeValue(key=str(value["key"]), name=str(value["name"]))
                    for value in body.get("values") or ()
                ),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise SchemaError([f"malformed attribute: {error}"]) from error


@dataclass(frozen=True)
class ServiceDefinition:
    """The ``GET services/{code}`` response: a service's attributes, in asking order."""

    service_code: str
    attributes: tuple[ServiceAttribute, ...]

    @property
    def required_attributes(self) -> tuple[ServiceAttribute, ...]:
        return tuple(attr for attr in self.attributes if attr.required and attr.variable)

    def to_json(self) -> dict[str, Any]:
        return {
            "service_code": self.service_code,
            "attributes": [attribute.to_json() for attribute in self.attributes],
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ServiceDefinition:
        try:
            attributes = [ServiceAttribute.from_json(item) for item in body.get("attributes") or ()]
            return cls(
                service_code=str(body["service_code"]),
                attributes=tuple(sorted(attributes, key=lambda attribute: attribute.order)),
            )
        except (KeyError, TypeError) as error:
            raise SchemaError([f"malformed service definition: {error}"]) from error
