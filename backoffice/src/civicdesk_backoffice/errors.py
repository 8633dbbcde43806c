"""One place that turns every failure into a clear HTTP error body.

Views raise :class:`ApiError`; aiohttp raises its own ``HTTPException`` for unknown paths,
wrong methods and oversize bodies; anything else is a bug or an unreachable database. The
middleware answers all of them in the format of the API that was called: Open311 errors
(JSON, or XML for ``*.xml`` paths) everywhere, except CivicDesk's ``/api/v1/`` extensions
(staff, citizens, media), which answer
``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from civicdesk_backoffice.access_log import route_pattern
from civicdesk_backoffice.app_keys import SETTINGS
from civicdesk_backoffice.db import is_database_unavailable
from civicdesk_backoffice.open311.render import format_from_path, render_errors

logger = logging.getLogger(__name__)

EXTENSION_API_PREFIXES = ("/api/v1/staff/", "/api/v1/citizens/", "/api/v1/media")
"""CivicDesk's own APIs, which answer ``{"error": {"code", "message"}}``."""

_STAFF_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    500: "internal_error",
    503: "unavailable",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A request that cannot be served, with what to tell the client.

    Attributes:
        status: HTTP status code.
        descriptions: One plain-language sentence per problem (Open311 lists them all).
        headers: Extra response headers, e.g. ``WWW-Authenticate``.
    """

    def __init__(
        self, status: int, *descriptions: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions
        self.headers = dict(headers or {})


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every error in the calling API's error format; never leak a traceback."""
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(request, error)
    except web.HTTPException as error:
        if error.status < 400:
            raise  # redirects and the like are not errors
        return error_response(request, _from_aiohttp(request, error))
    except web.RequestPayloadError:
        # The body was cut off or its Content-Encoding does not decode: the client's fault.
        return error_response(
            request,
            ApiError(
                400,
                "The request body could not be read: it was cut short or its "
                "Content-Encoding does not match its bytes.",
            ),
        )
    except Exception as error:
        if is_database_unavailable(error):
            # Name the exception type only: driver messages can carry query parameters.
            logger.warning("database unavailable: %s", type(error).__name__)
            return error_response(
                request,
                ApiError(
                    503,
                    "The ticket database is unavailable at the moment; please try again later.",
                    headers={"Retry-After": "30"},
                ),
            )
        # The route pattern, not the path: paths can carry a citizen's identity.
        logger.exception("unexpected error on %s %s", request.method, route_pattern(request))
        return error_response(
            request, ApiError(500, "Something went wrong on our side; please try again later.")
        )


def error_response(request: web.Request, error: ApiError) -> web.Response:
    """Render ``error`` for the API ``request`` was addressed to."""
    if request.path.startswith(EXTENSION_API_PREFIXES):
        return web.json_response(
            {
                "error": {
                    "code": _STAFF_CODES.get(error.status, "error"),
                    "message": " ".join(error.descriptions),
                }
            },
            status=error.status,
            headers=error.headers,
        )
    return render_errors(
        format_from_path(request.path), error.status, error.descriptions, error.headers
    )


def _from_aiohttp(request: web.Request, error: web.HTTPException) -> ApiError:
    if isinstance(error, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(error.allowed_methods))
        return ApiError(
            405,
            f"The method {request.method} is not allowed here; use {allowed}.",
            headers={"Allow": allowed},
        )
    if isinstance(error, web.HTTPRequestEntityTooLarge):
        limit = request.app[SETTINGS].max_body_bytes
        return ApiError(413, f"The request body is larger than the limit of {limit} bytes.")
    if isinstance(error, web.HTTPNotFound):
        return ApiError(
            404,
            f"There is nothing at {request.path[:200]}. Open311 resources end in .json or .xml, "
            "e.g. /open311/v2/services.json.",
        )
    return ApiError(error.status, error.reason)
