"""What the public may see of a ticket, chosen field by field (an allow-list, never a deny-list).

A report is public only once staff published it. Its page names the service, the status,
the public status notes, the dates, the description and place of a complaint, and the
photos staff approved and did not flag. Never a name, phone, email, device or chat id,
comment, handoff, staff member, or anything of an application or feedback beyond its
service and status (those are about a person, not a place).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice import media
from civicdesk_backoffice.console._queue import keyset_key
from civicdesk_backoffice.models import (
    OPEN_STATUSES,
    AuditEntry,
    MediaFile,
    ServiceEntry,
    ServiceType,
    Ticket,
    TicketStatus,
)
from civicdesk_backoffice.tickets import parse_reference

PAGE_SIZE = 50


@dataclass(frozen=True)
class PublicPhoto:
    """An approved, unflagged photo, served under ``/reports/photos/``."""

    media_id: str
    extension: str
    width: int
    height: int


@dataclass(frozen=True)
class PublicReport:
    """Every field of a report the public page may show, and nothing else."""

    service_request_id: str
    service_code: str
    service_name: str
    status: str
    open311_status: str
    status_notes: str | None
    agency: str
    requested_at: datetime
    updated_at: datetime
    published_at: datetime
    description: str | None
    address: str | None
    lat: float | None
    long: float | None
    district: str | None = None
    """The district's code (``districts.py``); like the place, only for complaints."""
    photos: tuple[PublicPhoto, ...] = ()
    history: tuple[tuple[datetime, str], ...] = ()


def _is_place_report(service_type: str) -> bool:
    return service_type == ServiceType.COMPLAINT.value


def to_report(
    ticket: Ticket,
    service: ServiceEntry,
    photos: tuple[PublicPhoto, ...] = (),
    history: tuple[tuple[datetime, str], ...] = (),
) -> PublicReport:
    """The public view of a published ticket."""
    place = _is_place_report(service.type)
    assert ticket.published_at is not None  # noqa: S101 (callers select published tickets)
    return PublicReport(
        service_request_id=ticket.service_request_id,
        service_code=service.code,
        service_name=service.name,
        status=ticket.status,
        open311_status=TicketStatus(ticket.status).open311,
        status_notes=ticket.status_notes,
        agency=ticket.department,
        requested_at=ticket.requested_at,
        updated_at=ticket.updated_at,
        published_at=ticket.published_at,
        description=ticket.description if place else None,
        address=ticket.address_string if place else None,
        lat=ticket.lat if place else None,
        long=ticket.long if place else None,
        district=ticket.district if place else None,
        photos=photos if place else (),
        history=history,
    )


@dataclass(frozen=True)
class ReportFilter:
    """The list's filters, validated by the view."""

    service_code: str = ""
    open311_status: str = ""
    district: str = ""
    before: tuple[datetime, int] | None = None


def _published() -> Select[tuple[Ticket, ServiceEntry]]:
    return (
        select(Ticket, ServiceEntry)
        .join(ServiceEntry, ServiceEntry.code == Ticket.service_code)
        .where(Ticket.published_at.is_not(None))
    )


async def list_reports(
    session: AsyncSession, filters: ReportFilter
) -> tuple[list[PublicReport], tuple[datetime, int] | None]:
    """One page of published reports, latest published first, and the next page's key."""
    query = _published()
    if filters.service_code:
        query = query.where(Ticket.service_code == filters.service_code)
    if filters.district:
        # Only complaints show their place, so only they are found by it: an application's
        # district is where the applicant lives.
        query = query.where(
            Ticket.district == filters.district,
            ServiceEntry.type == ServiceType.COMPLAINT.value,
        )
    if filters.open311_status == "open":
        query = query.where(Ticket.status.in_([s.value for s in OPEN_STATUSES]))
    elif filters.open311_status == "closed":
        query = query.where(Ticket.status.not_in([s.value for s in OPEN_STATUSES]))
    if filters.before is not None:
        query = query.where(tuple_(Ticket.published_at, Ticket.id) < keyset_key(filters.before))
    query = query.order_by(Ticket.published_at.desc(), Ticket.id.desc()).limit(PAGE_SIZE + 1)
    rows = (await session.execute(query)).tuples().all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    reports = [to_report(ticket, service) for ticket, service in rows]
    last = rows[-1][0] if rows and more else None
    return reports, None if last is None or last.published_at is None else (
        last.published_at,
        last.id,
    )


async def find_report(session: AsyncSession, reference: str) -> PublicReport | None:
    """One published report with its approved photos and status history, or None."""
    canonical = parse_reference(reference)
    if canonical is None:
        return None
    row = (
        (await session.execute(_published().where(Ticket.service_request_id == canonical)))
        .tuples()
        .first()
    )
    if row is None:
        return None
    ticket, service = row
    photos = tuple(
        PublicPhoto(item.id, item.extension, item.width, item.height)
        for item in (
            await session.scalars(
                select(MediaFile)
                .where(
                    MediaFile.ticket_id == ticket.id,
                    MediaFile.approved_at.is_not(None),
                    MediaFile.flagged.is_(False),
                )
                .order_by(MediaFile.created_at, MediaFile.id)
            )
        ).all()
    )
    moves = (
        await session.execute(
            select(AuditEntry.at, AuditEntry.detail)
            .where(AuditEntry.ticket_id == ticket.id, AuditEntry.action.in_(_STATUS_ACTIONS))
            .order_by(AuditEntry.at, AuditEntry.id)
        )
    ).all()
    history = [(ticket.requested_at, TicketStatus.NEW.value)]
    history += [(at, str(detail.get("to"))) for at, detail in moves if _status_of(detail)]
    return to_report(ticket, service, photos, tuple(history))


# Staff moves and citizens' own (withdraw, reopen) alike carry the new status in "to".
_STATUS_ACTIONS = ("ticket.status", "ticket.withdraw", "ticket.reopen")


def _status_of(detail: dict[str, Any]) -> bool:
    return detail.get("to") in {status.value for status in TicketStatus}


async def public_photo(session: AsyncSession, media_id: str) -> MediaFile | None:
    """The photo ``media_id`` if the public may see it (approved, unflagged, published)."""
    query = (
        select(MediaFile)
        .join(Ticket, Ticket.id == MediaFile.ticket_id)
        .join(ServiceEntry, ServiceEntry.code == Ticket.service_code)
        .where(MediaFile.id == media_id, media.is_public_condition())
    )
    return (await session.scalars(query)).first()


async def published_services(session: AsyncSession) -> list[tuple[str, str]]:
    """Code and name of every service with a published report (for the filter)."""
    query = (
        select(ServiceEntry.code, ServiceEntry.name)
        .where(
            ServiceEntry.code.in_(
                select(Ticket.service_code).where(Ticket.published_at.is_not(None)).distinct()
            )
        )
        .order_by(ServiceEntry.name)
    )
    return [(code, name) for code, name in (await session.execute(query)).tuples()]
