"""The console's sub-application and URL map (mounted at ``/staff``)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from civicdesk_backoffice.console import _dashboard, _views
from civicdesk_backoffice.console._auth import console_view
from civicdesk_backoffice.console._render import (
    html_error_middleware,
    set_preferences,
    static_view,
)
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import StaffRole

STATIC = Path(__file__).parent / "static"
_SUPERVISORS = frozenset({StaffRole.SUPERVISOR, StaffRole.ADMIN})


async def _nothing_here(request: web.Request) -> web.Response:
    raise ApiError(404, "There is no such page.")


def setup_console(app: web.Application) -> None:
    """Mount the staff console at ``/staff/`` on the back-office application."""
    console = web.Application(middlewares=[html_error_middleware(console=True)])
    add = console.router
    add.add_get("/login", _views.login_form)
    add.add_post("/login", _views.login)
    add.add_get("/prefs", set_preferences)
    add.add_get("/static/{name}", static_view(STATIC))
    add.add_post("/logout", console_view(_views.logout, post=True))
    add.add_get("/", console_view(_views.home))
    add.add_get("/queue", console_view(_views.queue))
    add.add_get("/dashboard", console_view(_dashboard.dashboard, roles=_SUPERVISORS))
    add.add_get("/tickets/{ref}", console_view(_views.ticket_page))
    ticket = "/tickets/{ref}"
    add.add_post(f"{ticket}/status", console_view(_views.change_status, post=True))
    add.add_post(f"{ticket}/assign", console_view(_views.assign, post=True, roles=_SUPERVISORS))
    add.add_post(f"{ticket}/comment", console_view(_views.comment, post=True))
    add.add_post(f"{ticket}/publish", console_view(_views.publish, post=True))
    add.add_post(f"{ticket}/photos/{{media_id}}", console_view(_views.review_photo, post=True))
    add.add_post("/handoffs/{handoff_id}/reply", console_view(_views.reply_handoff, post=True))
    add.add_route("*", "/{tail:.*}", _nothing_here)
    app.add_subapp("/staff", console)
