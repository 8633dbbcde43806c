"""The supervisor dashboard: opened/closed per day, time to close, overdue, ratings.

Supervisors see their department, admins every department. Every figure is computed by the
database or from a bounded set of rows, so the page stays quick on a large table.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from civicdesk_backoffice import staff
from civicdesk_backoffice.console import _auth
from civicdesk_backoffice.console._charts import Series, bar_chart
from civicdesk_backoffice.console._render import Translator, language_of, render
from civicdesk_backoffice.models import OPEN_STATUSES, ServiceEntry, StaffUser, Ticket, utcnow

DAYS = 14
CLOSE_WINDOW_DAYS = 30
MAX_CLOSED_ROWS = 50_000
TOP_SERVICES = 10


def _reach(user: StaffUser) -> list[Any]:
    return [] if staff.can_see_all_departments(user) else [Ticket.department == user.department]


def _day(value: object) -> str:
    # PostgreSQL hands back a date, SQLite the text of one.
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


async def _per_day(
    session: AsyncSession, user: StaffUser, column: InstrumentedAttribute[Any], since: datetime
) -> dict[str, int]:
    day = func.date(column)
    query = select(day, func.count()).where(column >= since, *_reach(user)).group_by(day)
    return {_day(d): int(n) for d, n in (await session.execute(query)).all()}


async def figures(session: AsyncSession, user: StaffUser, now: datetime) -> dict[str, Any]:
    """Every number the dashboard shows, within the reader's reach."""
    today = now.date()
    days = [(today - timedelta(days=offset)).isoformat() for offset in range(DAYS - 1, -1, -1)]
    since = datetime.combine(today - timedelta(days=DAYS - 1), datetime.min.time(), now.tzinfo)
    opened = await _per_day(session, user, Ticket.requested_at, since)
    closed = await _per_day(session, user, Ticket.closed_at, since)
    closed_rows = (
        await session.execute(
            select(Ticket.department, Ticket.requested_at, Ticket.closed_at)
            .where(
                Ticket.closed_at.is_not(None),
                Ticket.closed_at >= now - timedelta(days=CLOSE_WINDOW_DAYS),
                *_reach(user),
            )
            .limit(MAX_CLOSED_ROWS)
        )
    ).all()
    hours: dict[str, list[float]] = defaultdict(list)
    for department, requested_at, closed_at in closed_rows:
        hours[department].append((closed_at - requested_at).total_seconds() / 3600)
    medians = {name: statistics.median(values) for name, values in sorted(hours.items())}
    overdue = (
        await session.execute(
            select(ServiceEntry.name, func.count())
            .select_from(Ticket)
            .join(ServiceEntry, ServiceEntry.code == Ticket.service_code)
            .where(
                Ticket.status.in_([s.value for s in OPEN_STATUSES]),
                Ticket.expected_at < now,
                *_reach(user),
            )
            .group_by(ServiceEntry.name)
            .order_by(func.count().desc(), ServiceEntry.name)
            .limit(TOP_SERVICES)
        )
    ).all()
    ratings = dict(
        (
            await session.execute(
                select(Ticket.rating, func.count())
                .where(Ticket.rating.is_not(None), *_reach(user))
                .group_by(Ticket.rating)
            )
        )
        .tuples()
        .all()
    )
    return {
        "days": days,
        "opened": [opened.get(d, 0) for d in days],
        "closed": [closed.get(d, 0) for d in days],
        "medians": medians,
        "overdue": [(name, int(n)) for name, n in overdue],
        "ratings": {score: int(ratings.get(score, 0)) for score in range(1, 6)},
    }


async def dashboard(
    request: web.Request, session: AsyncSession, signed: _auth.Signed
) -> web.Response:
    """``GET /staff/dashboard``: supervisors' and admins' charts (agents are refused)."""
    now = utcnow()
    data = await figures(session, signed.user, now)
    staff.record_audit(session, signed.user, "console.dashboard")
    t = Translator(language_of(request))
    charts = {
        "opened_closed": bar_chart(
            t("chart_opened_closed"),
            [d[5:] for d in data["days"]],
            [Series(t("opened"), data["opened"]), Series(t("closed"), data["closed"])],
        ),
        "median_close": bar_chart(
            t("chart_median_close"),
            list(data["medians"]),
            [Series(t("hours"), [round(v, 1) for v in data["medians"].values()])],
        ),
        "overdue": bar_chart(
            t("chart_overdue"),
            [name for name, _ in data["overdue"]],
            [Series(t("count"), [n for _, n in data["overdue"]])],
        ),
        "ratings": bar_chart(
            t("chart_ratings"),
            [str(score) for score in data["ratings"]],
            [Series(t("count"), list(data["ratings"].values()))],
        ),
    }
    return render(
        request,
        "dashboard.html",
        {
            "user": signed.user,
            "csrf": signed.csrf_token,
            "is_supervisor": True,
            "data": data,
            "charts": charts,
        },
    )
