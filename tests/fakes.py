"""Test doubles for the back office, standing in only where a test is about the bot's logic.

Tests of the client itself and the end-to-end tests use the real back office.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from actions.open311_client import BackOfficeUnavailable, RequestRejected
from open311_schema import (
    NewServiceRequest,
    Open311Error,
    Service,
    ServiceAttribute,
    ServiceDefinition,
    ServiceRequest,
    ServiceRequestCreated,
)


def service(code: str, name: str, keywords: str, group: str = "streets") -> Service:
    return Service(
        service_code=code,
        service_name=name,
        description=name,
        metadata=True,
        type="realtime",
        keywords=tuple(word.strip() for word in keywords.split(",")),
        group=group,
    )


def required_attribute(code: str) -> ServiceAttribute:
    return ServiceAttribute(
        code=code, datatype="string", required=True, description=f"{code}?", order=1
    )


@dataclass
class FakeOpen311:
    """An in-memory Open311 server with a settable catalogue and failure mode."""

    services: list[Service] = field(default_factory=list)
    definitions: dict[str, ServiceDefinition] = field(default_factory=dict)
    filed: list[NewServiceRequest] = field(default_factory=list)
    unavailable: bool = False
    reject_with: int | None = None

    async def list_services(self) -> list[Service]:
        self._maybe_fail()
        return list(self.services)

    async def get_service_definition(self, service_code: str) -> ServiceDefinition:
        self._maybe_fail()
        return self.definitions.get(service_code, ServiceDefinition(service_code, ()))

    async def create_request(self, request: NewServiceRequest) -> ServiceRequestCreated:
        self._maybe_fail()
        if self.reject_with is not None:
            raise RequestRejected(self.reject_with, [Open311Error(self.reject_with, "no")])
        self.filed.append(request)
        return ServiceRequestCreated(
            service_request_id=f"CD-TEST{len(self.filed):02d}",
            service_notice="Sent to Street Lighting.",
        )

    async def get_request(self, service_request_id: str) -> ServiceRequest:
        raise NotImplementedError("not needed by the tests that use this fake")

    def _maybe_fail(self) -> None:
        if self.unavailable:
            raise BackOfficeUnavailable("fake outage")
