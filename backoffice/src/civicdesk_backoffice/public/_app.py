"""The public reports page's sub-application and URL map (mounted at ``/reports``)."""

from __future__ import annotations

from aiohttp import web

from civicdesk_backoffice.console._app import STATIC
from civicdesk_backoffice.console._render import (
    html_error_middleware,
    set_preferences,
    static_view,
)
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.public import _views


async def _nothing_here(request: web.Request) -> web.Response:
    raise ApiError(404, "")


def setup_public(app: web.Application) -> None:
    """Mount the public reports page at ``/reports/`` on the back-office application."""
    public = web.Application(middlewares=[html_error_middleware(console=False)])
    public.router.add_get("/", _views.report_list)
    public.router.add_get("/prefs", set_preferences)
    public.router.add_get("/static/{name}", static_view(STATIC))
    public.router.add_get("/photos/{media_id}", _views.photo)
    public.router.add_get("/{ref}", _views.report_page)
    public.router.add_route("*", "/{tail:.*}", _nothing_here)
    app.add_subapp("/reports", public)
