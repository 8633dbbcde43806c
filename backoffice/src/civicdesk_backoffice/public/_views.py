"""Views of the public reports page: the list with its sketch map, one report, its photos."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from aiohttp import web

from civicdesk_backoffice.app_keys import DISTRICTS, READ_SESSIONMAKER, SETTINGS
from civicdesk_backoffice.console._render import language_of, render, url_with
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.public import _map, _reports

_CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def _filters(request: web.Request) -> _reports.ReportFilter:
    status = request.query.get("status", "").strip()
    if status not in ("", "open", "closed"):
        raise ApiError(400, "The status filter is open or closed.")
    service = request.query.get("service", "").strip()
    if len(service) > 64:
        raise ApiError(400, "There is no such service.")
    before = None
    raw = request.query.get("before", "")
    if raw:
        stamp, _, ident = raw.rpartition("~")
        try:
            moment = datetime.fromisoformat(stamp)
            before = (moment, int(ident))
        except ValueError:
            raise ApiError(400, "The page link is broken; start from the first page.") from None
        if moment.tzinfo is None:
            raise ApiError(400, "The page link is broken; start from the first page.")
    district = request.query.get("district", "").strip()
    if district and request.config_dict[DISTRICTS].by_code(district) is None:
        raise ApiError(400, "There is no such district.")
    return _reports.ReportFilter(
        service_code=service, open311_status=status, district=district, before=before
    )


async def report_list(request: web.Request) -> web.Response:
    """``GET /reports/?service=&status=open|closed&district=``: published reports, latest first."""
    filters = _filters(request)
    async with request.config_dict[READ_SESSIONMAKER]() as session:
        reports, more = await _reports.list_reports(session, filters)
        services = await _reports.published_services(session)
    next_url = None
    if more is not None:
        next_url = url_with(
            "/reports/",
            service=filters.service_code,
            status=filters.open311_status,
            district=filters.district,
            before=f"{more[0].isoformat()}~{more[1]}",
        )
    language = language_of(request)
    districts = request.config_dict[DISTRICTS].districts
    return render(
        request,
        "reports.html",
        {
            "reports": reports,
            "services": services,
            "filters": filters,
            "map": _map.sketch(reports),
            "next_url": next_url,
            "districts": [(d.code, d.name(language)) for d in districts],
            "district_names": {d.code: d.name(language) for d in districts},
        },
    )


async def report_page(request: web.Request) -> web.Response:
    """``GET /reports/{ref}``: one published report, its photos and status history."""
    async with request.config_dict[READ_SESSIONMAKER]() as session:
        report = await _reports.find_report(session, request.match_info["ref"])
    if report is None:
        raise ApiError(404, "")
    district = None
    if report.district is not None:
        found = request.config_dict[DISTRICTS].by_code(report.district)
        district = None if found is None else found.name(language_of(request))
    return render(request, "report.html", {"report": report, "district": district})


async def photo(request: web.Request) -> web.StreamResponse:
    """``GET /reports/photos/{media_id}``: an approved photo of a published report."""
    media_id = request.match_info["media_id"]
    if len(media_id) > 43:
        raise ApiError(404, "")
    async with request.config_dict[READ_SESSIONMAKER]() as session:
        item = await _reports.public_photo(session, media_id)
    path = (
        None
        if item is None
        else Path(request.config_dict[SETTINGS].media_dir) / f"{item.id}.{item.extension}"
    )
    if item is None or path is None or not await asyncio.to_thread(path.is_file):
        raise ApiError(404, "")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": _CONTENT_TYPES.get(item.extension, "application/octet-stream"),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "public, max-age=300",
        },
    )
