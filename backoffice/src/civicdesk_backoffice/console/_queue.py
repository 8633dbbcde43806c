"""The ticket queue: tabs, filters, search, sort and keyset pagination, department-scoped.

Pages are cut by keyset (the last row's sort key and id), never by OFFSET, so page 500 costs
what page 1 does. The open tabs ride on the partial indexes of open tickets (migration
0007): one department's open tickets, already in age or due-date order.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    func,
    literal,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import (
    OPEN_STATUSES,
    ServiceEntry,
    StaffUser,
    Ticket,
    TicketStatus,
    UTCDateTime,
    utcnow,
)
from civicdesk_backoffice.staff import can_see_all_departments
from civicdesk_backoffice.tickets import parse_reference

PAGE_SIZE = 50
MAX_SEARCH_CHARS = 100
_OPEN_VALUES = sorted(status.value for status in OPEN_STATUSES)


class Tab(str, enum.Enum):
    """The queue's tabs; every one shows open tickets only."""

    NEW = "new"
    OPEN = "open"
    OVERDUE = "overdue"
    MINE = "mine"


class Sort(str, enum.Enum):
    """Newest filed first, or the soonest SLA due date first."""

    AGE = "age"
    SLA = "sla"


@dataclass(frozen=True)
class QueueQuery:
    """What the reader asked for, validated (see :func:`parse_query`)."""

    tab: Tab = Tab.OPEN
    sort: Sort = Sort.AGE
    department: str = ""
    service_code: str = ""
    search: str = ""
    after: tuple[datetime, int] | None = None


def parse_query(params: dict[str, str]) -> QueueQuery:
    """Read the queue's query string.

    Raises:
        ApiError: 400 for an unknown tab or sort, an over-long search or a broken cursor.
    """
    try:
        tab = Tab(params.get("tab") or Tab.OPEN.value)
        sort = Sort(params.get("sort") or Sort.AGE.value)
    except ValueError:
        raise ApiError(400, "Unknown tab or sort order.") from None
    search = params.get("q", "").strip()
    if len(search) > MAX_SEARCH_CHARS or not search.isprintable():
        raise ApiError(400, f"Search for at most {MAX_SEARCH_CHARS} printable characters.")
    return QueueQuery(
        tab=tab,
        sort=sort,
        department=params.get("department", "").strip()[:100],
        service_code=params.get("service", "").strip()[:64],
        search=search,
        after=_parse_cursor(params.get("after", "")),
    )


def _parse_cursor(raw: str) -> tuple[datetime, int] | None:
    if not raw:
        return None
    stamp, _, ident = raw.rpartition("~")
    try:
        moment = datetime.fromisoformat(stamp)
        number = int(ident)
    except ValueError:
        raise ApiError(400, "The page link is broken; start again from the first page.") from None
    if moment.tzinfo is None:
        raise ApiError(400, "The page link is broken; start again from the first page.")
    return moment, number


def keyset_key(after: tuple[datetime, int]) -> Any:  # noqa: ANN401 (a SQL row value)
    """The SQL row value of a keyset cursor ``(timestamp, id)``."""
    # Typed binds, so SQLite gets the same naive-UTC text the column stores.
    return tuple_(literal(after[0], UTCDateTime()), literal(after[1], Integer()))


def cursor_of(ticket: Ticket, sort: Sort) -> str:
    """The ``after`` value that continues the queue after ``ticket``."""
    key = ticket.requested_at if sort is Sort.AGE else ticket.expected_at
    return f"{(key or ticket.requested_at).isoformat()}~{ticket.id}"


def _scoped(user: StaffUser, query: QueueQuery) -> list[object]:
    """Conditions every tab shares: the reader's reach, the filters, open tickets only."""
    conditions: list[object] = [Ticket.status.in_(_OPEN_VALUES)]
    if not can_see_all_departments(user):
        conditions.append(Ticket.department == user.department)
    elif query.department:
        conditions.append(Ticket.department == query.department)
    if query.service_code:
        conditions.append(Ticket.service_code == query.service_code)
    return conditions


def _tab_condition(user: StaffUser, tab: Tab, now: datetime) -> object | None:
    if tab is Tab.NEW:
        return Ticket.status == TicketStatus.NEW.value
    if tab is Tab.OVERDUE:
        return and_(Ticket.expected_at.is_not(None), Ticket.expected_at < now)
    if tab is Tab.MINE:
        return Ticket.assignee_id == user.id
    return None


def search_text() -> ColumnElement[str]:
    """The text word search looks in: description and address, as one string.

    Written exactly as migration 0010 indexes it (a trigram GIN index over the open
    tickets, with the department), with the constants inline, not as bound parameters, so
    PostgreSQL recognises the indexed expression. Words never contain spaces, so no word
    matches across the joint.
    """
    return (
        func.coalesce(Ticket.description, literal_column("''"))
        .op("||")(literal_column("' '"))
        .op("||")(func.coalesce(Ticket.address_string, literal_column("''")))
    )


def _search_condition(search: str) -> object | None:
    if not search:
        return None
    reference = parse_reference(search)
    if reference is not None:
        return Ticket.service_request_id == reference
    words = [word for word in search.split() if word][:5]
    text = search_text()
    # Each word must appear in the description or the address (case-insensitive).
    return and_(*(text.ilike(f"%{_escape_like(word)}%", escape="\\") for word in words))


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue, the tab counts and the cursor of the next page."""

    rows: list[tuple[Ticket, str]]
    counts: dict[Tab, int]
    next_cursor: str | None


async def queue_page(
    session: AsyncSession, user: StaffUser, query: QueueQuery, now: datetime | None = None
) -> QueuePage:
    """The tickets of ``query`` the reader may see, one page, with every tab's count."""
    now = now or utcnow()
    conditions = _scoped(user, query)
    search = _search_condition(query.search)
    if search is not None:
        conditions.append(search)
    tab = _tab_condition(user, query.tab, now)
    listing: Select[tuple[Ticket, str]] = (
        select(Ticket, ServiceEntry.name)
        .join(ServiceEntry, ServiceEntry.code == Ticket.service_code)
        .where(*conditions)  # type: ignore[arg-type]
    )
    if tab is not None:
        listing = listing.where(tab)  # type: ignore[arg-type]
    if query.sort is Sort.AGE:
        if query.after is not None:
            listing = listing.where(
                tuple_(Ticket.requested_at, Ticket.id) < keyset_key(query.after)
            )
        listing = listing.order_by(Ticket.requested_at.desc(), Ticket.id.desc())
    else:
        listing = listing.where(Ticket.expected_at.is_not(None))
        if query.after is not None:
            listing = listing.where(tuple_(Ticket.expected_at, Ticket.id) > keyset_key(query.after))
        listing = listing.order_by(Ticket.expected_at.asc(), Ticket.id.asc())
    rows = [(t, name) for t, name in (await session.execute(listing.limit(PAGE_SIZE + 1))).tuples()]
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    counts = await tab_counts(session, user, conditions, now)
    return QueuePage(rows, counts, cursor_of(rows[-1][0], query.sort) if more and rows else None)


async def tab_counts(
    session: AsyncSession, user: StaffUser, conditions: list[object], now: datetime
) -> dict[Tab, int]:
    """How many tickets each tab holds under the same filters, in one pass."""
    counted = select(
        func.count().filter(Ticket.status == TicketStatus.NEW.value),
        func.count(),
        func.count().filter(and_(Ticket.expected_at.is_not(None), Ticket.expected_at < now)),
        func.count().filter(Ticket.assignee_id == user.id),
    ).where(*conditions)  # type: ignore[arg-type]
    row = (await session.execute(counted)).one()
    return {tab: int(value or 0) for tab, value in zip(Tab, row, strict=True)}
