"""URL map of CivicDesk's ``/api/v1/`` extensions to Open311, and of stored photos.

Kept apart from ``routes.py`` (the Open311 and catalogue routes) so the two can change
independently. The contract is documented in ``docs/backoffice-api.md``.
"""

from __future__ import annotations

from aiohttp import web

from civicdesk_backoffice import (
    citizen_data,
    citizen_views,
    media,
    media_views,
    points,
    staff_views,
)

_STAFF_TICKET = "/api/v1/staff/tickets/{service_request_id}"
_CITIZEN = "/api/v1/citizens/{identity}/tickets"


def setup_extension_routes(app: web.Application) -> None:
    """Register the staff, citizen and media routes."""
    app.router.add_post(f"{_STAFF_TICKET}/status", staff_views.change_status)
    app.router.add_post(f"{_STAFF_TICKET}/assignment", staff_views.assign_ticket)
    app.router.add_post(f"{_STAFF_TICKET}/comments", staff_views.add_comment)
    app.router.add_post("/api/v1/staff/catalogue/reload", staff_views.reload_catalogue)
    app.router.add_get("/api/v1/staff/audit", staff_views.read_audit)
    app.router.add_get("/api/v1/staff/handoffs", staff_views.list_handoffs)
    app.router.add_post("/api/v1/staff/handoffs/{handoff_id}/reply", staff_views.reply_to_handoff)
    citizen_data.setup_citizen_data_routes(app)

    app.router.add_get(_CITIZEN, citizen_views.list_tickets)
    app.router.add_get(f"{_CITIZEN}/{{service_request_id}}", citizen_views.get_ticket)
    app.router.add_post(f"{_CITIZEN}/{{service_request_id}}/comments", citizen_views.add_comment)
    app.router.add_post(f"{_CITIZEN}/{{service_request_id}}/withdraw", citizen_views.withdraw)
    app.router.add_post(f"{_CITIZEN}/{{service_request_id}}/reopen", citizen_views.reopen)
    app.router.add_post(f"{_CITIZEN}/{{service_request_id}}/rating", citizen_views.rate)
    app.router.add_post("/api/v1/citizens/{identity}/handoffs", citizen_views.create_handoff)
    app.router.add_get("/api/v1/citizens/{identity}/points", points.get_points)
    app.router.add_put(f"{_CITIZEN}/{{service_request_id}}/points", points.set_opt_in)

    app.router.add_post("/api/v1/media", citizen_views.upload_media)
    app.router.add_get(f"{media.MEDIA_ROUTE_PREFIX}{{name}}", media_views.serve)
