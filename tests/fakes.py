"""Test doubles for the back office, standing in only where a test is about the bot's logic.

Tests of the client itself and the end-to-end tests use the real back office.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from actions.open311_client import (
    BackOfficeUnavailable,
    CitizenPoints,
    CitizenTicket,
    ExtensionUnavailable,
    Handoff,
    PointsAward,
    RequestRejected,
    ServiceMatch,
    ServiceNeeds,
    TicketNotFound,
    TransitionRefused,
)
from open311_schema import (
    AttributeValue,
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


def list_attribute(code: str, order: int, *keys: str, required: bool = True) -> ServiceAttribute:
    return ServiceAttribute(
        code=code,
        datatype="singlevaluelist",
        required=required,
        description=f"Which {code}?",
        order=order,
        values=tuple(AttributeValue(key, f"{key.title()} option") for key in keys),
    )


def number_attribute(code: str, order: int) -> ServiceAttribute:
    return ServiceAttribute(
        code=code, datatype="number", required=True, description=f"How many {code}?", order=order
    )


@dataclass
class FakeOpen311:
    """An in-memory Open311 server with a settable catalogue, failure modes and extensions.

    ``with_extensions`` switches the CivicDesk extensions (search, a citizen's tickets and
    comments, withdraw/reopen/rating with the contract's lifecycle rules, handoffs, idempotency
    keys) on; off, it behaves like a plain Open311 server.
    """

    services: list[Service] = field(default_factory=list)
    definitions: dict[str, ServiceDefinition] = field(default_factory=dict)
    filed: list[NewServiceRequest] = field(default_factory=list)
    tickets: dict[str, ServiceRequest] = field(default_factory=dict)
    unavailable: bool = False
    reject_with: int | None = None
    with_extensions: bool = False
    search_results: list[ServiceMatch] = field(default_factory=list)
    follow_ups: list[tuple[str, str, object]] = field(default_factory=list)
    idempotency_keys: dict[str, str] = field(default_factory=dict)
    fail_after_filing: bool = False
    photo_services: set[str] = field(default_factory=set)
    # Services that ask for no place (applications), and services' own wording.
    placeless_services: set[str] = field(default_factory=set)
    location_questions: dict[str, str] = field(default_factory=dict)
    photo_questions: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str | None] = field(default_factory=dict)
    lifecycle: dict[str, str] = field(default_factory=dict)
    handoffs: list[tuple[str, str, str | None]] = field(default_factory=list)
    # The Idempotency-Key of every try to file a handoff, refused tries included.
    handoff_keys: list[str | None] = field(default_factory=list)
    # The ``locale`` every try to file a request gave (None: English).
    locales: list[str | None] = field(default_factory=list)
    # Points: each ticket's last opt-in answer, and the tickets staff confirmed (a point each
    # for those opted in, as the back office awards them; see confirm()).
    points_opt_in: dict[str, bool] = field(default_factory=dict)
    confirmed: list[str] = field(default_factory=list)

    async def list_services(self) -> list[Service]:
        self._maybe_fail()
        return list(self.services)

    async def service_needs(self, service_code: str) -> ServiceNeeds:
        self._maybe_fail()
        return ServiceNeeds(
            location=service_code not in self.placeless_services,
            photo=service_code in self.photo_services,
            location_question=self.location_questions.get(service_code),
            photo_question=self.photo_questions.get(service_code),
        )

    async def get_service_definition(self, service_code: str) -> ServiceDefinition:
        self._maybe_fail()
        return self.definitions.get(service_code, ServiceDefinition(service_code, ()))

    async def search_services(self, query: str, *, limit: int = 8) -> list[ServiceMatch]:
        self._maybe_fail()
        if not self.with_extensions:
            raise ExtensionUnavailable("no search here")
        return self.search_results[:limit]

    async def create_request(
        self,
        request: NewServiceRequest,
        *,
        idempotency_key: str | None = None,
        locale: str | None = None,
    ) -> ServiceRequestCreated:
        self.locales.append(locale)
        self._maybe_fail()
        if self.reject_with is not None:
            raise RequestRejected(self.reject_with, [Open311Error(self.reject_with, "no")])
        if self.with_extensions and idempotency_key in self.idempotency_keys:
            reference = self.idempotency_keys[idempotency_key]
        else:
            self.filed.append(request)
            reference = f"CD-TEST{len(self.filed):02d}"
            if idempotency_key:
                self.idempotency_keys[idempotency_key] = reference
            now = datetime.now(timezone.utc)
            self.owners[reference] = request.account_id
            self.tickets[reference] = ServiceRequest(
                service_request_id=reference,
                status="open",
                service_code=request.service_code,
                service_name=request.service_code,
                requested_datetime=now,
                updated_datetime=now,
                description=request.description,
            )
        if self.fail_after_filing:
            # The ticket is stored but the reply is lost on the way back.
            raise BackOfficeUnavailable("reply lost")
        return ServiceRequestCreated(
            service_request_id=reference, service_notice="Sent to Street Lighting."
        )

    async def get_request(self, service_request_id: str) -> ServiceRequest:
        self._maybe_fail()
        if service_request_id not in self.tickets:
            raise TicketNotFound(service_request_id)
        return self.tickets[service_request_id]

    async def list_citizen_tickets(self, identity: str, *, limit: int = 100) -> list[CitizenTicket]:
        self._maybe_fail()
        if not self.with_extensions:
            raise ExtensionUnavailable("no citizen tickets here")
        own = [ref for ref, owner in self.owners.items() if owner == identity]
        return [
            CitizenTicket(
                service_request_id=ref,
                service_name=self.tickets[ref].service_name,
                status="new",
                open311_status=self.tickets[ref].status,
                status_notes=self.tickets[ref].status_notes,
            )
            for ref in reversed(own)  # newest first
        ][:limit]

    async def add_comment(self, identity: str, service_request_id: str, text: str) -> None:
        self._maybe_fail()
        if not self.with_extensions:
            raise ExtensionUnavailable("comment")
        if self.owners.get(service_request_id, "") != identity:
            raise TicketNotFound(service_request_id)  # another citizen's ticket, or none
        self.follow_ups.append(("comment", service_request_id, text))

    async def add_photo(
        self, identity: str, service_request_id: str, media_id: str, text: str | None = None
    ) -> None:
        self._maybe_fail()
        if not self.with_extensions:
            raise ExtensionUnavailable("photo")
        if self.owners.get(service_request_id, "") != identity:
            raise TicketNotFound(service_request_id)
        if any(
            kind == "photo" and ref != service_request_id and detail == media_id
            for kind, ref, detail in self.follow_ups
        ):
            raise RequestRejected(422, [])  # the back office: already on another ticket
        self.follow_ups.append(("photo", service_request_id, media_id))
        if text:
            self.follow_ups.append(("comment", service_request_id, text))

    async def withdraw_request(
        self, identity: str, service_request_id: str, reason: str | None = None
    ) -> CitizenTicket:
        return self._move(identity, service_request_id, "withdraw", reason)

    async def reopen_request(
        self, identity: str, service_request_id: str, reason: str
    ) -> CitizenTicket:
        return self._move(identity, service_request_id, "reopen", reason)

    async def rate_request(
        self, identity: str, service_request_id: str, rating: int, comment: str | None = None
    ) -> CitizenTicket:
        return self._move(identity, service_request_id, "rating", rating)

    async def create_handoff(
        self,
        identity: str,
        message: str,
        service_request_id: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Handoff:
        self.handoff_keys.append(idempotency_key)
        self._maybe_fail()
        if not self.with_extensions:
            raise ExtensionUnavailable("handoff")
        if service_request_id and self.owners.get(service_request_id, "") != identity:
            raise TicketNotFound(service_request_id)
        self.handoffs.append((identity, message, service_request_id))
        return Handoff(
            handoff_id=f"H{len(self.handoffs)}",
            status="waiting",
            department="Street Lighting",
            expected_response=datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc),
            expected_response_hours=24,
        )

    async def set_points_opt_in(self, identity: str, service_request_id: str, opt_in: bool) -> int:
        self._maybe_fail()
        if not self.with_extensions:
            raise ExtensionUnavailable("points")
        if self.owners.get(service_request_id, "") != identity:
            raise TicketNotFound(service_request_id)
        self.points_opt_in[service_request_id] = opt_in
        return 1 if service_request_id in self.confirmed else 0

    async def citizen_points(self, identity: str) -> CitizenPoints:
        self._maybe_fail()
        if not self.with_extensions:
            raise ExtensionUnavailable("points")
        awards = tuple(
            PointsAward(points=1, reason="report_confirmed", service_request_id=ref)
            for ref in reversed(self.confirmed)  # newest first
            if self.owners.get(ref) == identity
        )
        return CitizenPoints(balance=sum(a.points for a in awards), awards=awards)

    def confirm(self, service_request_id: str) -> None:
        """Staff confirm the report: a point once, if the citizen opted in (never removed)."""
        if self.points_opt_in.get(service_request_id) and service_request_id not in self.confirmed:
            self.confirmed.append(service_request_id)

    def _move(
        self, identity: str, service_request_id: str, move: str, detail: object
    ) -> CitizenTicket:
        """The contract's lifecycle moves, on the fake's tickets (``lifecycle`` holds status)."""
        self._maybe_fail()
        if not self.with_extensions:
            raise ExtensionUnavailable(move)
        if self.owners.get(service_request_id, "") != identity:
            raise TicketNotFound(service_request_id)
        status = self.lifecycle.get(service_request_id, "new")
        allowed = {
            "withdraw": ("new", "acknowledged", "in_progress", "reopened"),
            "reopen": ("resolved", "closed"),
            "rating": ("resolved", "closed"),
        }[move]
        if status not in allowed:
            raise TransitionRefused(service_request_id, status)
        status = {"withdraw": "closed", "reopen": "reopened"}.get(move, status)
        self.lifecycle[service_request_id] = status
        self.follow_ups.append((move, service_request_id, detail))
        return CitizenTicket(
            service_request_id=service_request_id,
            service_name=self.tickets[service_request_id].service_name,
            status=status,
            open311_status="closed" if status in ("resolved", "closed") else "open",
            rating=detail if move == "rating" and isinstance(detail, int) else None,
        )

    def _maybe_fail(self) -> None:
        if self.unavailable:
            raise BackOfficeUnavailable("fake outage")
