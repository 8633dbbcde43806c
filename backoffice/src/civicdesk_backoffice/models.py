"""Database tables of the back office (SQLAlchemy 2 typed declarative models).

The schema itself is owned by the Alembic migrations in ``migrations/versions``; these
classes must stay in step with them (a test compares the two).
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any, ClassVar

from open311_schema import Status
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always comes back timezone-aware.

    PostgreSQL keeps the offset itself (``timestamptz``); SQLite has no timezone type and
    returns naive values, so UTC is stored there without an offset and re-attached on read.
    Naive datetimes are refused on the way in, because guessing their zone loses data.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC (naive UTC for SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the backend handed back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class ServiceType(str, enum.Enum):
    """What kind of thing a citizen files under a catalogue entry."""

    COMPLAINT = "complaint"
    APPLICATION = "application"
    FEEDBACK = "feedback"


class TicketStatus(str, enum.Enum):
    """The internal ticket lifecycle; Open311 only sees ``open`` or ``closed``."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    REOPENED = "reopened"

    @property
    def open311(self) -> Status:
        """The Open311 status this internal status is published as."""
        return "open" if self in OPEN_STATUSES else "closed"


OPEN_STATUSES = frozenset(
    {
        TicketStatus.NEW,
        TicketStatus.ACKNOWLEDGED,
        TicketStatus.IN_PROGRESS,
        TicketStatus.REOPENED,
    }
)
"""Internal statuses published as Open311 ``open``; every other one is ``closed``."""


class CommentAuthor(str, enum.Enum):
    """Who wrote a comment on a ticket."""

    CITIZEN = "citizen"
    STAFF = "staff"


class CommentVisibility(str, enum.Enum):
    """Whether the citizen sees a comment (``public``) or only staff do (``internal``)."""

    PUBLIC = "public"
    INTERNAL = "internal"


class StaffRole(str, enum.Enum):
    """What a staff member may see: agents and supervisors their department, admins all."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


def _check_in(column: str, values: type[enum.Enum]) -> str:
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({allowed})"


# Named constraints keep Alembic migrations deterministic on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base holding the shared metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class ServiceEntry(Base):
    """One catalogue entry, published as an Open311 service."""

    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint(_check_in("type", ServiceType), name="type"),
        CheckConstraint("sla_hours > 0", name="sla_hours_positive"),
    )

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    group: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    department: Mapped[str] = mapped_column(String(100))
    needs_location: Mapped[bool] = mapped_column(Boolean)
    needs_photo: Mapped[bool] = mapped_column(Boolean)
    location_question: Mapped[str | None] = mapped_column(String(500))
    photo_question: Mapped[str | None] = mapped_column(String(500))
    sla_hours: Mapped[int] = mapped_column(Integer)
    attributes: Mapped[list[Any]] = mapped_column(default=list)
    translations: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    """Locale tag -> the service's words in it (``catalogue.CatalogueEntry.stored_translation``)."""
    catalogue_version: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


OPEN_STATUS_SQL = "status IN ('new', 'acknowledged', 'in_progress', 'reopened')"
"""The open statuses as SQL, for the partial queue indexes (same list as OPEN_STATUSES)."""


_COVERING = ("ix_tickets_open_department_requested_at", "ix_tickets_open_requested_at")
_COUNTED = ("status", "expected_at", "assignee_id", "service_code")


class Ticket(Base):
    """A service request filed by a citizen, with the personal data only staff may see."""

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(_check_in("status", TicketStatus), name="status"),
        Index("ix_tickets_requested_at", "requested_at"),
        Index("ix_tickets_department_requested_at", "department", "requested_at"),
        Index("ix_tickets_account_id_requested_at", "account_id", "requested_at"),
        # The staff console's queue (migrations 0007, 0009): open tickets in keyset order.
        *(
            Index(
                name,
                *columns,
                postgresql_where=text(where),
                sqlite_where=text(where),
                # Migration 0009: the tab counts read these, so they are index-only scans.
                postgresql_include=list(_COUNTED) if name in _COVERING else [],
            )
            if where
            else Index(name, *columns)
            for name, columns, where in (
                (
                    "ix_tickets_open_department_requested_at",
                    ("department", "requested_at", "id"),
                    OPEN_STATUS_SQL,
                ),
                (
                    "ix_tickets_open_department_expected_at",
                    ("department", "expected_at", "id"),
                    OPEN_STATUS_SQL,
                ),
                ("ix_tickets_open_requested_at", ("requested_at", "id"), OPEN_STATUS_SQL),
                ("ix_tickets_open_expected_at", ("expected_at", "id"), OPEN_STATUS_SQL),
                (
                    "ix_tickets_open_assignee_requested_at",
                    ("assignee_id", "requested_at", "id"),
                    OPEN_STATUS_SQL,
                ),
                (
                    "ix_tickets_department_status_requested_at",
                    ("department", "status", "requested_at"),
                    "",
                ),
                ("ix_tickets_published_at", ("published_at",), "published_at IS NOT NULL"),
                # Migration 0011: the public page filtered by district.
                (
                    "ix_tickets_published_district_published_at",
                    ("district", "published_at", "id"),
                    "published_at IS NOT NULL",
                ),
            )
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_request_id: Mapped[str] = mapped_column(String(16), unique=True)
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"))
    status: Mapped[str] = mapped_column(String(20), default=TicketStatus.NEW.value)
    status_notes: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    address_string: Mapped[str | None] = mapped_column(String(500))
    address_id: Mapped[str | None] = mapped_column(String(255))
    lat: Mapped[float | None] = mapped_column(Float)
    long: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    device_id: Mapped[str | None] = mapped_column(String(255))
    account_id: Mapped[str | None] = mapped_column(String(255))
    department: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expected_at: Mapped[datetime | None]
    media_url: Mapped[str | None] = mapped_column(String(255))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    duplicate_of: Mapped[str | None] = mapped_column(ForeignKey("tickets.service_request_id"))
    rating: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime | None]
    """When staff published the report on the public page; None while unpublished."""
    closed_at: Mapped[datetime | None]
    """When the ticket last left the open statuses (cleared on reopening), for the dashboard."""
    points_opt_in: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The citizen asked to earn points for this report (see ``points.py``)."""
    locale: Mapped[str] = mapped_column(String(35), default="en", server_default=text("'en'"))
    """The language the ticket was filed in (a BCP 47 tag): staff and pushes answer in it."""
    district: Mapped[str | None] = mapped_column(String(40))
    """The city district of the ticket's place (``districts.py``), chosen at filing; None:
    no place given, or one outside every district."""


class ApiKey(Base):
    """A client allowed to file requests; only a hash of the key is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(8), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class StaffUser(Base):
    """A back-office staff member who signs in with a password."""

    __tablename__ = "staff_users"
    __table_args__ = (CheckConstraint(_check_in("role", StaffRole), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    department: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Console sign-ins failed in a row; reset by a successful one."""
    locked_until: Mapped[datetime | None]
    """Console sign-in is refused until then (set after too many failures)."""


class StaffSession(Base):
    """A signed-in staff console session; the cookie holds the token, the table its hash."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class CitizenPoint(Base):
    """Points a citizen earned for a confirmed report: one row per ticket, only ever added."""

    __tablename__ = "citizen_points"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        Index("ix_citizen_points_identity_awarded_at", "identity", "awarded_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity: Mapped[str] = mapped_column(String(255))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    points: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(50))
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    awarded_at: Mapped[datetime]


class AuditEntry(Base):
    """One staff or citizen action on tickets; never updated or deleted (a trigger enforces it).

    ``staff_user_id`` is empty for what a citizen did through an API client (the bot); the
    client's key id is then in ``detail``.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    action: Mapped[str] = mapped_column(String(50))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class IdempotencyRecord(Base):
    """An ``Idempotency-Key`` a client sent with ``POST requests``, and what it produced.

    ``ticket_id`` is empty while the first request with the key is still being processed.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("api_key_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    created_at: Mapped[datetime]


class TicketComment(Base):
    """Information a citizen added to a ticket, or a staff note (public or internal)."""

    __tablename__ = "ticket_comments"
    __table_args__ = (
        CheckConstraint(_check_in("author", CommentAuthor), name="author"),
        CheckConstraint(_check_in("visibility", CommentVisibility), name="visibility"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    author: Mapped[str] = mapped_column(String(20))
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    visibility: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class MediaFile(Base):
    """A photo a citizen sent, stored re-encoded (no EXIF, no GPS) under a random name."""

    __tablename__ = "media"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    extension: Mapped[str] = mapped_column(String(8))
    content_type: Mapped[str] = mapped_column(String(32))
    byte_size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    approved_at: Mapped[datetime | None]
    """When staff cleared the photo for the public reports page; None: never shown there."""
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Staff marked a face, plate or other private detail: never public, whatever else."""


class HandoffStatus(str, enum.Enum):
    """Whether a citizen's request to talk to a person still waits for staff."""

    WAITING = "waiting"
    ANSWERED = "answered"


class Handoff(Base):
    """A citizen asked the bot for a person; staff of ``department`` answer it."""

    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint(_check_in("status", HandoffStatus), name="status"),
        Index("ix_handoffs_department_status_created_at", "department", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    identity: Mapped[str] = mapped_column(String(255))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    department: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    expected_response_at: Mapped[datetime]
    reply: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class OutboxState(str, enum.Enum):
    """Where a push to a citizen's chat stands."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxMessage(Base):
    """A push to a citizen's chat, written with the change it announces (transactional outbox).

    The relay sends rows whose ``next_attempt_at`` has come; claiming one moves that time
    forward by a lease, so another relay leaves it alone while it is being sent.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_check_in("state", OutboxState), name="state"),
        Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity: Mapped[str] = mapped_column(String(255))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    entities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(20), default=OutboxState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
