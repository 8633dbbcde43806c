"""The one way the bot reaches the back office: a typed Open311 GeoReport v2 client.

The client speaks the standard plus the CivicDesk extensions documented in
docs/backoffice-api.md (catalogue search, a citizen's own tickets, comments, withdraw,
reopen, rating and handoffs to a person, idempotency keys), so the bot could be pointed at
any city's Open311 server; where an extension is missing it raises
:class:`ExtensionUnavailable` and the bot falls back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import httpx

from actions.catalogue_language import catalogue_locale
from actions.metrics import backoffice_error
from open311_schema import (
    NewServiceRequest,
    Open311Error,
    SchemaError,
    Service,
    ServiceDefinition,
    ServiceRequest,
    ServiceRequestCreated,
)

logger = logging.getLogger(__name__)

_API_PREFIX = "/open311/v2"
_EXTENSIONS_PREFIX = "/api/v1"
_T = TypeVar("_T")
IDEMPOTENCY_HEADER = "Idempotency-Key"
RATING_RANGE = range(1, 6)
MAX_REASON_CHARS = 1000
MAX_HANDOFF_CHARS = 4000


CATALOGUE_FRESH_SECONDS = 5.0
"""How long the client uses the catalogue it read before asking the back office again."""
_MAX_KEPT = 1024  # catalogue resources kept; far more than the catalogue has


@dataclass
class _Kept:
    """A catalogue resource as last read: its body, its ``ETag`` and when it was checked."""

    body: Any
    etag: str | None
    checked_at: float


@dataclass(frozen=True)
class CitizenTicket:
    """One of a citizen's own tickets, as ``GET /api/v1/citizens/{identity}/tickets`` lists it.

    ``status`` is the back office's lifecycle status; ``open311_status`` is ``open`` or
    ``closed``.
    """

    service_request_id: str
    service_name: str
    status: str
    open311_status: str
    status_notes: str | None = None
    rating: int | None = None


@dataclass(frozen=True)
class Handoff:
    """A request to talk to a person, as ``POST /api/v1/citizens/{identity}/handoffs`` answers.

    ``expected_response`` is when staff should have answered (UTC); ``department`` is named
    in the conversation's language where the back office has that name.
    """

    handoff_id: str
    status: str
    department: str
    expected_response: datetime
    expected_response_hours: int


@dataclass(frozen=True)
class PointsAward:
    """One award of points: how many, why (``report_confirmed``) and for which ticket."""

    points: int
    reason: str
    service_request_id: str


@dataclass(frozen=True)
class CitizenPoints:
    """A citizen's points, as ``GET /api/v1/citizens/{identity}/points`` answers: the
    balance and the awards behind it, newest first."""

    balance: int
    awards: tuple[PointsAward, ...]


@dataclass(frozen=True)
class ServiceMatch:
    """One entry of a catalogue search, best first."""

    service_code: str
    service_name: str
    score: float


@dataclass(frozen=True)
class ServiceNeeds:
    """Whether a service asks for a place and a photo, and in its own words if it has them."""

    location: bool = True
    photo: bool = False
    location_question: str | None = None
    photo_question: str | None = None


def _text_or_none(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


class BackOfficeError(Exception):
    """Base of every error the client raises."""


class BackOfficeUnavailable(BackOfficeError):
    """The back office could not be reached or failed on its side (5xx, timeout, bad reply).

    The submission may be retried later; nothing the citizen said is wrong.
    """


class TicketNotFound(BackOfficeError):
    """No ticket has that ``service_request_id``."""


class ExtensionUnavailable(BackOfficeError):
    """The server does not offer this CivicDesk extension (yet); plain Open311 still works."""


class TransitionRefused(BackOfficeError):
    """The ticket's lifecycle does not allow this move now (422), e.g. reopening an open one.

    Attributes:
        status: The ticket's status when the back office says it, else ``None``.
    """

    def __init__(self, service_request_id: str, status: str | None = None) -> None:
        super().__init__(f"{service_request_id}: not allowed from {status or 'its status'}")
        self.service_request_id = service_request_id
        self.status = status


class RequestRejected(BackOfficeError):
    """The back office refused the request (400/403/404) with Open311 errors.

    Attributes:
        status: HTTP status code.
        errors: The Open311 error entries from the response body.
    """

    def __init__(self, status: int, errors: list[Open311Error]) -> None:
        super().__init__(f"back office answered {status}: {[e.code for e in errors]}")
        self.status = status
        self.errors = errors


class Open311Client:
    """Async client of an Open311 GeoReport v2 server.

    Use as an async context manager, or call :meth:`aclose` when done.

    The catalogue (``services.json`` and each ``services/{code}.json``) is kept in memory: it
    is read again at most every ``catalogue_fresh_seconds``, and then with the ``ETag`` it
    came with, so an unchanged catalogue costs a body-less ``304``. A turn of a conversation
    therefore usually reaches the back office only to file or read tickets.

    Args:
        base_url: The server's root, e.g. ``http://127.0.0.1:8000``.
        api_key: Key sent with ``POST requests``.
        timeout_seconds: Timeout of each HTTP request.
        transport: Optional httpx transport (tests use it to reach an in-process server).
        catalogue_fresh_seconds: How long a catalogue resource read is used without asking
            the server again; 0 asks (conditionally) every time.
        clock: Seconds from any fixed point (tests pass a fake one).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_seconds: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        catalogue_fresh_seconds: float = CATALOGUE_FRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api_key = api_key
        self._catalogue_fresh_seconds = catalogue_fresh_seconds
        self._clock = clock
        self._catalogue: dict[str, _Kept] = {}
        root = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=root + _API_PREFIX,
            timeout=timeout_seconds,
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self._extensions = httpx.AsyncClient(
            base_url=root + _EXTENSIONS_PREFIX,
            timeout=timeout_seconds,
            transport=transport,
            headers={"Accept": "application/json", "X-API-Key": api_key},
        )

    async def __aenter__(self) -> Open311Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._extensions.aclose()

    async def list_services(self) -> list[Service]:
        """``GET services.json``: the catalogue's entries."""
        body = await self._get_catalogue("/services.json")
        return _parse_list(body, Service.from_json)

    async def service_needs(self, service_code: str) -> ServiceNeeds:
        """What the catalogue asks with this service besides its attributes: a place, a photo.

        Read from the entry's ``needs_location``, ``needs_photo``, ``location_question`` and
        ``photo_question`` in ``GET services.json``, fields beyond the Open311 standard that a
        server may add (docs/backoffice-api.md). A server without them gets what GeoReport v2
        itself implies: a location with every request, never a photo, the general wording.
        """
        body = await self._get_catalogue("/services.json")
        if not isinstance(body, list):
            raise BackOfficeUnavailable("the back office sent a reply of an unexpected shape")
        entry = next(
            (e for e in body if isinstance(e, dict) and e.get("service_code") == service_code),
            {},
        )
        return ServiceNeeds(
            location=entry.get("needs_location") is not False,
            photo=entry.get("needs_photo") is True,
            location_question=_text_or_none(entry.get("location_question")),
            photo_question=_text_or_none(entry.get("photo_question")),
        )

    async def get_service_definition(self, service_code: str) -> ServiceDefinition:
        """``GET services/{code}.json``: the attributes a service asks for."""
        body = await self._get_catalogue(f"/services/{_path_segment(service_code)}.json")
        try:
            return ServiceDefinition.from_json(body)
        except SchemaError as error:
            raise BackOfficeUnavailable(f"unreadable service definition: {error}") from error

    async def search_services(self, query: str, *, limit: int = 8) -> list[ServiceMatch]:
        """The back office's ranked catalogue search (CivicDesk extension).

        Raises:
            ExtensionUnavailable: the server has no search endpoint; rank locally instead.
            BackOfficeUnavailable: the server could not be reached or failed.
        """
        params: dict[str, Any] = {"q": query, "limit": limit}
        locale = catalogue_locale.get()
        if locale:
            params["locale"] = locale
        try:
            response = await self._send("GET", "/services/search", params=params, extension=True)
        except RequestRejected as error:
            raise ExtensionUnavailable(f"search answered {error.status}") from error
        body = _json_body(response)
        if isinstance(body, dict):
            body = body.get("results", body.get("services"))
        if not isinstance(body, list):
            raise ExtensionUnavailable("search reply of an unexpected shape")
        try:
            return [
                ServiceMatch(
                    service_code=str(item["service_code"]),
                    service_name=str(item["service_name"]),
                    score=float(item.get("score") or 0.0),
                )
                for item in body[:limit]
            ]
        except (KeyError, TypeError, ValueError) as error:
            raise ExtensionUnavailable(f"unreadable search reply: {error}") from error

    async def create_request(
        self,
        request: NewServiceRequest,
        *,
        idempotency_key: str | None = None,
        locale: str | None = None,
    ) -> ServiceRequestCreated:
        """``POST requests.json``: file a ticket and return its reference.

        ``idempotency_key`` goes in the ``Idempotency-Key`` header (CivicDesk extension): a
        server that knows it files a retried submission once; plain Open311 servers ignore it.
        ``locale`` (CivicDesk extension field, docs/backoffice-api.md "Languages") is the
        language the citizen filed in; without it the ticket is English.

        Raises:
            RequestRejected: the server refused the submission (bad key, bad field, unknown
                service).
            BackOfficeUnavailable: the server could not be reached or failed.
        """
        form = [("api_key", self._api_key), *request.to_form()]
        if locale:
            form.append(("locale", locale))
        # Encoded here: httpx takes a list of pairs (needed for repeated multi-value
        # attributes) as raw content, not as a form.
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if idempotency_key:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        response = await self._send(
            "POST", "/requests.json", content=urlencode(form).encode(), headers=headers
        )
        body = _json_body(response)
        created = _parse_list(body, ServiceRequestCreated.from_json)
        if not created or not (created[0].service_request_id or created[0].token):
            raise BackOfficeUnavailable("the back office returned no reference for the ticket")
        return created[0]

    async def get_request(self, service_request_id: str) -> ServiceRequest:
        """``GET requests/{id}.json``: one ticket's public status.

        Raises:
            TicketNotFound: no ticket has that reference.
        """
        try:
            body = await self._get_json(f"/requests/{_path_segment(service_request_id)}.json")
        except RequestRejected as error:
            if error.status == 404:
                raise TicketNotFound(service_request_id) from error
            raise
        requests = _parse_list(body, ServiceRequest.from_json)
        if not requests:
            raise TicketNotFound(service_request_id)
        return requests[0]

    async def list_citizen_tickets(self, identity: str, *, limit: int = 100) -> list[CitizenTicket]:
        """``GET /api/v1/citizens/{identity}/tickets``: the citizen's tickets, newest first.

        Raises:
            ExtensionUnavailable: the server has no such endpoint (or refused the identity).
            BackOfficeUnavailable: the server could not be reached or failed.
        """
        path = f"/citizens/{_identity_segment(identity)}/tickets"
        try:
            response = await self._send("GET", path, params={"limit": limit}, extension=True)
        except RequestRejected as error:
            raise ExtensionUnavailable(f"citizen tickets answered {error.status}") from error
        body = _json_body(response)
        items = body.get("tickets") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise BackOfficeUnavailable("citizen tickets reply of an unexpected shape")
        tickets = [_citizen_ticket(item) for item in items]
        if any(ticket is None for ticket in tickets):
            raise BackOfficeUnavailable("unreadable citizen tickets")
        return [ticket for ticket in tickets if ticket is not None]

    async def add_comment(self, identity: str, service_request_id: str, text: str) -> None:
        """``POST /api/v1/citizens/{identity}/tickets/{id}/comments``: the citizen adds words.

        Raises:
            TicketNotFound: no ticket with that reference was filed by this identity.
            ExtensionUnavailable: the server has no such endpoint.
            RequestRejected: the comment was refused (empty, too long).
            BackOfficeUnavailable: the server could not be reached or failed.
        """
        path = (
            f"/citizens/{_identity_segment(identity)}/tickets/"
            f"{_path_segment(service_request_id)}/comments"
        )
        try:
            await self._send("POST", path, json={"body": text}, extension=True)
        except RequestRejected as error:
            if error.status == 404:
                # The back office answers 404 for another citizen's ticket as for none.
                raise TicketNotFound(service_request_id) from error
            if error.status in (405, 501):
                raise ExtensionUnavailable(f"comments answered {error.status}") from error
            raise

    async def add_photo(
        self, identity: str, service_request_id: str, media_id: str, text: str | None = None
    ) -> None:
        """``POST .../tickets/{id}/comments`` ``{"media_id"}``: a photo already uploaded
        with ``POST /api/v1/media`` goes on the citizen's ticket (with ``text``, if any).

        Sending the same photo to the same ticket again is harmless, so a retry is safe.

        Raises:
            TicketNotFound: no ticket with that reference was filed by this identity.
            ExtensionUnavailable: the server has no such endpoint.
            RequestRejected: the photo was refused (422: unknown, or on another ticket).
            BackOfficeUnavailable: the server could not be reached or failed.
        """
        path = (
            f"/citizens/{_identity_segment(identity)}/tickets/"
            f"{_path_segment(service_request_id)}/comments"
        )
        body = {"media_id": media_id} if not text else {"media_id": media_id, "body": text}
        try:
            await self._send("POST", path, json=body, extension=True)
        except RequestRejected as error:
            if error.status == 404:
                raise TicketNotFound(service_request_id) from error
            if error.status in (405, 501):
                raise ExtensionUnavailable(f"photos answered {error.status}") from error
            raise

    async def withdraw_request(
        self, identity: str, service_request_id: str, reason: str | None = None
    ) -> CitizenTicket:
        """``POST .../tickets/{id}/withdraw``: the citizen withdraws their ticket (it closes).

        Raises:
            TicketNotFound: no ticket with that reference was filed by this identity.
            TransitionRefused: the ticket can no longer be withdrawn (resolved or closed).
            ExtensionUnavailable: the server has no such endpoint.
            BackOfficeUnavailable: the server could not be reached or failed.
        """
        body: dict[str, Any] = {}
        if reason:
            body["reason"] = reason[:MAX_REASON_CHARS]
        return await self._ticket_move(identity, service_request_id, "withdraw", body)

    async def reopen_request(
        self, identity: str, service_request_id: str, reason: str
    ) -> CitizenTicket:
        """``POST .../tickets/{id}/reopen``: a resolved or closed ticket opens again.

        Raises:
            ValueError: ``reason`` is empty (the back office requires one).
            TicketNotFound, TransitionRefused, ExtensionUnavailable, BackOfficeUnavailable:
                as for :meth:`withdraw_request`.
        """
        if not reason.strip():
            raise ValueError("reopening needs a reason")
        body = {"reason": reason[:MAX_REASON_CHARS]}
        return await self._ticket_move(identity, service_request_id, "reopen", body)

    async def rate_request(
        self, identity: str, service_request_id: str, rating: int, comment: str | None = None
    ) -> CitizenTicket:
        """``POST .../tickets/{id}/rating``: 1 (poor) to 5 (very good); a later one replaces it.

        Raises:
            ValueError: ``rating`` is not a whole number from 1 to 5.
            TicketNotFound, TransitionRefused, ExtensionUnavailable, BackOfficeUnavailable:
                as for :meth:`withdraw_request`.
        """
        if isinstance(rating, bool) or rating not in RATING_RANGE:
            raise ValueError("a rating is a whole number from 1 to 5")
        body: dict[str, Any] = {"rating": rating}
        if comment:
            body["comment"] = comment[:MAX_REASON_CHARS]
        return await self._ticket_move(identity, service_request_id, "rating", body)

    async def set_points_opt_in(self, identity: str, service_request_id: str, opt_in: bool) -> int:
        """``PUT .../tickets/{id}/points`` ``{"opt_in"}``: the citizen's answer to the points
        question for one complaint. Saying it again is harmless, so a retry is safe.

        Returns:
            The points this ticket has earned so far (0 or 1).

        Raises:
            TicketNotFound: no ticket with that reference was filed by this identity.
            ExtensionUnavailable: the server has no points.
            BackOfficeUnavailable: the server could not be reached or failed.
        """
        path = (
            f"/citizens/{_identity_segment(identity)}/tickets/"
            f"{_path_segment(service_request_id)}/points"
        )
        try:
            response = await self._send("PUT", path, json={"opt_in": opt_in}, extension=True)
        except RequestRejected as error:
            if error.status == 404:
                raise TicketNotFound(service_request_id) from error
            if error.status in (405, 501):
                raise ExtensionUnavailable(f"points answered {error.status}") from error
            raise
        body = _json_body(response)
        earned = body.get("points_earned") if isinstance(body, dict) else None
        if not isinstance(earned, int) or isinstance(earned, bool):
            raise BackOfficeUnavailable("points reply of an unexpected shape")
        return earned

    async def citizen_points(self, identity: str) -> CitizenPoints:
        """``GET /api/v1/citizens/{identity}/points``: the balance and each award's ticket.

        Raises:
            ExtensionUnavailable: the server has no points (or refused the identity).
            BackOfficeUnavailable: the server could not be reached or failed.
        """
        path = f"/citizens/{_identity_segment(identity)}/points"
        try:
            response = await self._send("GET", path, extension=True)
        except RequestRejected as error:
            raise ExtensionUnavailable(f"points answered {error.status}") from error
        body = _json_body(response)
        balance = body.get("balance") if isinstance(body, dict) else None
        items = body.get("awards") if isinstance(body, dict) else None
        if not isinstance(balance, int) or isinstance(balance, bool) or not isinstance(items, list):
            raise BackOfficeUnavailable("points reply of an unexpected shape")
        try:
            awards = tuple(
                PointsAward(
                    points=int(item["points"]),
                    reason=str(item["reason"]),
                    service_request_id=str(item["service_request_id"]),
                )
                for item in items
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BackOfficeUnavailable(f"unreadable points: {error}") from error
        return CitizenPoints(balance=balance, awards=awards)

    async def create_handoff(
        self,
        identity: str,
        message: str,
        service_request_id: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Handoff:
        """``POST /api/v1/citizens/{identity}/handoffs``: ask for a person to answer in chat.

        ``idempotency_key`` goes in the ``Idempotency-Key`` header: a retry of the same request
        (after a timeout, from the outbox) makes one handoff in the back office.

        Raises:
            ValueError: ``message`` is empty.
            TicketNotFound: ``service_request_id`` is not one of this identity's tickets.
            RequestRejected: the back office refused it (bad identity, too long).
            ExtensionUnavailable: the server has no such endpoint.
            BackOfficeUnavailable: the server could not be reached or failed.
        """
        if not message.strip():
            raise ValueError("a handoff needs the citizen's message")
        body: dict[str, Any] = {"message": message[:MAX_HANDOFF_CHARS]}
        if service_request_id:
            body["service_request_id"] = service_request_id
        # The conversation's language, so the department is named in it (department_name).
        locale = catalogue_locale.get()
        if locale:
            body["locale"] = locale
        path = f"/citizens/{_identity_segment(identity)}/handoffs"
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else {}
        try:
            response = await self._send("POST", path, json=body, headers=headers, extension=True)
        except RequestRejected as error:
            if error.status == 404 and service_request_id:
                raise TicketNotFound(service_request_id) from error
            if error.status in (404, 405, 501):
                raise ExtensionUnavailable(f"handoffs answered {error.status}") from error
            raise
        reply = _json_body(response)
        try:
            expected = datetime.fromisoformat(
                str(reply["expected_response"]).replace("Z", "+00:00")
            )
            return Handoff(
                handoff_id=str(reply["handoff_id"]),
                status=str(reply["status"]),
                department=str(reply.get("department_name") or reply["department"]),
                expected_response=expected
                if expected.tzinfo
                else expected.replace(tzinfo=timezone.utc),
                expected_response_hours=int(reply["expected_response_hours"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BackOfficeUnavailable(f"unreadable handoff reply: {error}") from error

    async def _ticket_move(
        self, identity: str, service_request_id: str, move: str, body: dict[str, Any]
    ) -> CitizenTicket:
        path = (
            f"/citizens/{_identity_segment(identity)}/tickets/"
            f"{_path_segment(service_request_id)}/{move}"
        )
        try:
            response = await self._send("POST", path, json=body, extension=True)
        except RequestRejected as error:
            if error.status == 404:
                # The back office answers 404 for another citizen's ticket as for none.
                raise TicketNotFound(service_request_id) from error
            if error.status == 422:
                raise TransitionRefused(service_request_id) from error
            if error.status in (405, 501):
                raise ExtensionUnavailable(f"{move} answered {error.status}") from error
            raise
        body = _json_body(response)
        # The same shape as GET .../tickets/{id}: {"ticket": {...}}.
        ticket = _citizen_ticket(body.get("ticket") if isinstance(body, dict) else None)
        if ticket is None:
            raise BackOfficeUnavailable(f"unreadable reply to {move}")
        return ticket

    async def _get_json(self, path: str) -> Any:
        return _json_body(await self._send("GET", path))

    async def _get_catalogue(self, path: str) -> Any:
        """A catalogue resource in the call's language (``actions/catalogue_language.py``):
        as kept while fresh, else asked again with its ``ETag``."""
        locale = catalogue_locale.get()
        params = {"locale": locale} if locale else {}
        key = f"{path}?locale={locale}" if locale else path
        kept = self._catalogue.get(key)
        now = self._clock()
        if kept is not None and now - kept.checked_at < self._catalogue_fresh_seconds:
            return kept.body
        headers = {"If-None-Match": kept.etag} if kept is not None and kept.etag else {}
        response = await self._send("GET", path, headers=headers, params=params)
        if response.status_code == 304 and kept is not None:
            kept.checked_at = now
            return kept.body
        body = _json_body(response)
        if len(self._catalogue) >= _MAX_KEPT:
            self._catalogue.clear()
        self._catalogue[key] = _Kept(body, response.headers.get("ETag"), now)
        return body

    async def _send(
        self, method: str, path: str, *, extension: bool = False, **kwargs: Any
    ) -> httpx.Response:
        http = self._extensions if extension else self._http
        try:
            response = await http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            # Log the kind of failure only: URLs and bodies may carry personal data.
            logger.warning("back office unreachable: %s", type(error).__name__)
            backoffice_error(None)
            raise BackOfficeUnavailable(type(error).__name__) from error
        # 304 answers only a conditional GET, which the caller holds the body for.
        if response.is_success or response.status_code == 304:
            return response
        backoffice_error(response.status_code)
        # 409: the same Idempotency-Key is still being processed; try again later.
        if response.status_code >= 500 or response.status_code in (409, 429):
            raise BackOfficeUnavailable(f"back office answered {response.status_code}")
        raise RequestRejected(response.status_code, _parse_errors(response))


def _path_segment(value: str) -> str:
    # Citizens type references; never let one change the path of the request.
    return quote(value, safe="")


def _identity_segment(identity: str) -> str:
    # An identity is channel:id; ":" and "@" are allowed in a path segment, "/" never.
    return quote(identity, safe=":@+=")


def _citizen_ticket(item: Any) -> CitizenTicket | None:
    """One citizen ticket from its JSON, or None when it lacks what the bot needs."""
    if not isinstance(item, dict):
        return None
    try:
        rating = item.get("rating")
        return CitizenTicket(
            service_request_id=str(item["service_request_id"]),
            service_name=str(item["service_name"]),
            status=str(item["status"]),
            open311_status=str(item["open311_status"]),
            status_notes=_optional_text(item.get("status_notes")),
            rating=rating if isinstance(rating, int) and not isinstance(rating, bool) else None,
        )
    except KeyError:
        return None


def _optional_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as error:
        raise BackOfficeUnavailable("the back office sent a reply that is not JSON") from error


def _parse_list(body: Any, parse: Callable[[Any], _T]) -> list[_T]:
    if not isinstance(body, list):
        raise BackOfficeUnavailable("the back office sent a reply of an unexpected shape")
    try:
        return [parse(item) for item in body]
    except SchemaError as error:
        raise BackOfficeUnavailable(f"unreadable reply: {error}") from error


def _parse_errors(response: httpx.Response) -> list[Open311Error]:
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            # The /api/v1 shape: {"error": {"code": "<word>", "message": "..."}}.
            return [Open311Error(response.status_code, str(body["error"].get("message", "")))]
        return [Open311Error(int(item["code"]), str(item["description"])) for item in body]
    except (ValueError, TypeError, KeyError):
        return [Open311Error(response.status_code, "the back office gave no error details")]
