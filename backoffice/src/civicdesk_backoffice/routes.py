"""URL map of the back office."""

from __future__ import annotations

from aiohttp import web

from civicdesk_backoffice import health, metrics, search, staff_views
from civicdesk_backoffice.open311 import views as open311

OPEN311_PREFIX = "/open311/v2"


def setup_routes(app: web.Application) -> None:
    """Register every route; ``{fmt}`` is the Open311 format extension (json or xml)."""
    app.router.add_get("/healthz", health.healthz)
    # GET /metrics, and the middleware counting every request (outermost).
    metrics.setup_metrics(app)

    app.router.add_get(f"{OPEN311_PREFIX}/discovery.{{fmt}}", open311.discovery)
    app.router.add_get(f"{OPEN311_PREFIX}/services.{{fmt}}", open311.service_list)
    app.router.add_get(f"{OPEN311_PREFIX}/services/{{code}}.{{fmt}}", open311.service_definition)
    app.router.add_get(f"{OPEN311_PREFIX}/requests.{{fmt}}", open311.search_requests)
    app.router.add_post(f"{OPEN311_PREFIX}/requests.{{fmt}}", open311.create_request)
    app.router.add_get(f"{OPEN311_PREFIX}/requests/{{id}}.{{fmt}}", open311.get_request)
    app.router.add_get(f"{OPEN311_PREFIX}/tokens/{{id}}.{{fmt}}", open311.get_token)

    app.router.add_get("/api/v1/services/search", search.search_view())
    app.router.add_get("/api/v1/staff/tickets", staff_views.list_tickets)
    app.router.add_get("/api/v1/staff/tickets/{service_request_id}", staff_views.get_ticket)
