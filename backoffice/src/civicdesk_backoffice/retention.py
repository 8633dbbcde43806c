"""Retention of contact details: closed tickets lose them after a configured number of days.

``civicdesk-backoffice retention run`` (cron, a systemd timer) removes the phone, email,
names and device id of every ticket that has been closed (Open311 ``closed``: resolved,
closed, rejected or duplicate) for longer than ``BACKOFFICE__RETENTION__CONTACT_DAYS``.
The ticket keeps its content and its ``account_id``, so the citizen can still see and reopen
it from their chat; erasing the identity as well is what an erasure request does
(``citizen_data``). Each ticket changed gets one audit entry, ``ticket.contact_retention``,
naming the cleared fields and the period, never their values.

Off by default: how long a city must keep the means to reach a citizen about a closed case
is a legal decision, not a software one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicdesk_backoffice.citizen_data import CONTACT_FIELDS, strip_contact
from civicdesk_backoffice.models import OPEN_STATUSES, AuditEntry, Ticket, utcnow

BATCH_SIZE = 500
"""Tickets changed per transaction, so a first run on a large database holds no long lock."""


@dataclass(frozen=True)
class RetentionResult:
    """What one run did."""

    tickets: int
    cutoff: datetime


async def strip_closed_contacts(
    sessionmaker: async_sessionmaker[AsyncSession],
    days: int,
    *,
    now: datetime | None = None,
) -> RetentionResult:
    """Remove the contact details of tickets closed more than ``days`` days ago.

    A ticket closed before ``closed_at`` was recorded counts from its last update. Runs in
    batches of :data:`BATCH_SIZE`, each its own transaction with its audit entries; running
    it again changes only tickets that have since passed the period.
    """
    if days < 1:
        raise ValueError("the retention period is at least one day")
    cutoff = (now or utcnow()) - timedelta(days=days)
    open_values = [status.value for status in OPEN_STATUSES]
    has_contact = or_(*(getattr(Ticket, name).is_not(None) for name in CONTACT_FIELDS))
    query = (
        select(Ticket)
        .where(
            Ticket.status.not_in(open_values),
            func.coalesce(Ticket.closed_at, Ticket.updated_at) < cutoff,
            has_contact,
        )
        .order_by(Ticket.id)
        .limit(BATCH_SIZE)
    )
    total = 0
    while True:
        async with sessionmaker.begin() as session:
            batch = list((await session.scalars(query.with_for_update(of=Ticket))).all())
            for ticket in batch:
                cleared = strip_contact(ticket, unlink=False)
                session.add(
                    AuditEntry(
                        at=utcnow(),
                        staff_user_id=None,
                        action="ticket.contact_retention",
                        ticket_id=ticket.id,
                        detail={"by": "retention", "days": days, "fields": cleared},
                    )
                )
        total += len(batch)
        if len(batch) < BATCH_SIZE:
            return RetentionResult(tickets=total, cutoff=cutoff)
