"""Open311 GeoReport v2 payloads shared by CivicDesk's bot client and back office."""

from open311_schema._definitions import (
    DATATYPES,
    AttributeValue,
    Datatype,
    ServiceAttribute,
    ServiceDefinition,
)
from open311_schema._payloads import (
    MAX_DESCRIPTION_CHARS,
    NewServiceRequest,
    Open311Error,
    SchemaError,
    Service,
    ServiceRequest,
    ServiceRequestCreated,
    Status,
    format_datetime,
    parse_datetime,
)

__all__ = [
    "DATATYPES",
    "MAX_DESCRIPTION_CHARS",
    "AttributeValue",
    "Datatype",
    "NewServiceRequest",
    "Open311Error",
    "SchemaError",
    "Service",
    "ServiceAttribute",
    "ServiceDefinition",
    "ServiceRequest",
    "ServiceRequestCreated",
    "Status",
    "format_datetime",
    "parse_datetime",
]
