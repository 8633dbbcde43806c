"""An access log without personal data: the route pattern is logged, never the raw path.

Paths such as ``/api/v1/citizens/telegram:12345/tickets`` carry a citizen's channel
identity, and query strings can carry anything a client typed. So each line names the
matched route (``/api/v1/citizens/{identity}/tickets``), the status, the response size and
the time taken; no client address, no path parameters, no query string.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest


def route_pattern(request: BaseRequest) -> str:
    """The matched route's pattern, or ``<unmatched>`` (an unknown path is not logged)."""
    if not isinstance(request, web.Request):
        return "<unmatched>"
    route = request.match_info.route
    resource = route.resource
    if resource is None:  # no route matched (404, 405)
        return "<unmatched>"
    return resource.canonical


class RedactedAccessLogger(AbstractAccessLogger):
    """``METHOD /route/{pattern} status bytes seconds``, one line per request."""

    def log(self, request: BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Write one access line at INFO."""
        self.logger.info(
            "%s %s %s %s %.6fs",
            request.method,
            route_pattern(request),
            response.status,
            response.body_length,
            time,
        )


class RedactServerErrors(logging.Filter):
    """Strip request details from aiohttp's own error records (``aiohttp.server``).

    aiohttp logs requests its HTTP parser refuses (an over-long URL, an undecodable body)
    with the client address and the raw request line, which can carry personal data. The
    record keeps its level and gains the exception type only.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        kind = type(record.exc_info[1]).__name__ if record.exc_info else "no exception"
        record.msg = "aiohttp refused or failed a request (%s); details withheld"
        record.args = (kind,)
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


def install_log_redaction() -> None:
    """Attach :class:`RedactServerErrors` to the ``aiohttp.server`` logger (entry points only)."""
    logging.getLogger("aiohttp.server").addFilter(RedactServerErrors())
