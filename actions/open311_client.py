"""The one way the bot reaches the back office: a typed Open311 GeoReport v2 client.

The client speaks only the standard (plus documented CivicDesk extensions later), so the bot
could be pointed at any city's Open311 server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import httpx

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


@dataclass(frozen=True)
class ServiceMatch:
    """One entry of a catalogue search, best first."""

    service_code: str
    service_name: str
    score: float


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

    Args:
        base_url: The server's root, e.g. ``http://127.0.0.1:8000``.
        api_key: Key sent with ``POST requests``.
        timeout_seconds: Timeout of each HTTP request.
        transport: Optional httpx transport (tests use it to reach an in-process server).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_seconds: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._api_key = api_key
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
        body = await self._get_json("/services.json")
        return _parse_list(body, Service.from_json)

    async def get_service_definition(self, service_code: str) -> ServiceDefinition:
        """``GET services/{code}.json``: the attributes a service asks for."""
        body = await self._get_json(f"/services/{_path_segment(service_code)}.json")
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
        try:
            response = await self._send(
                "GET", "/services/search", params={"q": query, "limit": limit}, extension=True
            )
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
        self, request: NewServiceRequest, *, idempotency_key: str | None = None
    ) -> ServiceRequestCreated:
        """``POST requests.json``: file a ticket and return its reference.

        ``idempotency_key`` goes in the ``Idempotency-Key`` header (CivicDesk extension): a
        server that knows it files a retried submission once; plain Open311 servers ignore it.

        Raises:
            RequestRejected: the server refused the submission (bad key, bad field, unknown
                service).
            BackOfficeUnavailable: the server could not be reached or failed.
        """
        form = [("api_key", self._api_key), *request.to_form()]
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

    async def add_comment(self, service_request_id: str, text: str) -> None:
        """Add the citizen's comment to a ticket (CivicDesk extension)."""
        await self._ticket_extension(service_request_id, "comments", {"text": text})

    async def withdraw_request(self, service_request_id: str, reason: str) -> None:
        """Withdraw a ticket the citizen no longer needs (CivicDesk extension)."""
        await self._ticket_extension(service_request_id, "withdraw", {"reason": reason})

    async def reopen_request(self, service_request_id: str, reason: str) -> None:
        """Reopen a closed ticket, saying why (CivicDesk extension)."""
        await self._ticket_extension(service_request_id, "reopen", {"reason": reason})

    async def rate_request(self, service_request_id: str, rating: int) -> None:
        """Rate how a ticket was resolved, 1 to 5 (CivicDesk extension)."""
        if rating not in RATING_RANGE:
            raise ValueError("a rating is a whole number from 1 to 5")
        await self._ticket_extension(service_request_id, "rating", {"rating": rating})

    async def _ticket_extension(
        self, service_request_id: str, verb: str, body: dict[str, Any]
    ) -> None:
        path = f"/citizen/tickets/{_path_segment(service_request_id)}/{verb}"
        try:
            await self._send("POST", path, json=body, extension=True)
        except RequestRejected as error:
            if error.status == 404:
                # Both "no such ticket" and "no such endpoint" answer 404; tell them apart.
                await self.get_request(service_request_id)
            if error.status in (404, 405, 501):
                raise ExtensionUnavailable(f"{verb} answered {error.status}") from error
            raise

    async def _get_json(self, path: str) -> Any:
        return _json_body(await self._send("GET", path))

    async def _send(
        self, method: str, path: str, *, extension: bool = False, **kwargs: Any
    ) -> httpx.Response:
        http = self._extensions if extension else self._http
        try:
            response = await http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            # Log the kind of failure only: URLs and bodies may carry personal data.
            logger.warning("back office unreachable: %s", type(error).__name__)
            raise BackOfficeUnavailable(type(error).__name__) from error
        if response.is_success:
            return response
        # 409: the same Idempotency-Key is still being processed; try again later.
        if response.status_code >= 500 or response.status_code in (409, 429):
            raise BackOfficeUnavailable(f"back office answered {response.status_code}")
        raise RequestRejected(response.status_code, _parse_errors(response))


def _path_segment(value: str) -> str:
    # Citizens type references; never let one change the path of the request.
    return quote(value, safe="")


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
        return [Open311Error(int(item["code"]), str(item["description"])) for item in body]
    except (ValueError, TypeError, KeyError):
        return [Open311Error(response.status_code, "the back office gave no error details")]
