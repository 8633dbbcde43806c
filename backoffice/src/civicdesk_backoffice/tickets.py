"""Filing and finding tickets: the service functions behind the Open311 request endpoints."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from open311_schema import NewServiceRequest, SchemaError, ServiceRequest, Status
from sqlalchemy import Row, Select, bindparam, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from civicdesk_backoffice import api_keys, idempotency, media
from civicdesk_backoffice.attributes import check_attributes
from civicdesk_backoffice.catalogue import (
    ServiceAttribute,
    department_in,
    is_service_code,
    parse_attributes,
)
from civicdesk_backoffice.db import is_database_unavailable
from civicdesk_backoffice.group_commit import GroupCommit
from civicdesk_backoffice.idempotency import InvalidApiKeyError
from civicdesk_backoffice.models import ServiceEntry, Ticket, TicketStatus, utcnow

logger = logging.getLogger(__name__)

REFERENCE_PREFIX = "CD-"
CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base32: no I, L, O or U, so a reference read aloud or retyped stays unambiguous."""
REFERENCE_LENGTH = 6

MAX_SEARCH_RESULTS = 1000
"""The specification's cap on one ``GET requests`` answer."""
MAX_SEARCH_SPAN = timedelta(days=90)
"""Longest date range one search may cover, and the default range."""

LOCATION_REQUIRED = (
    "a location is required for this service: lat and long, address_string or address_id"
)
"""The problem told when a service that needs a place is filed without one."""

_REFERENCE_ATTEMPTS = 8
_TYPED_REFERENCE = re.compile(r"CD-?([0-9A-Z]{6})")
# What people type for letters Crockford's alphabet leaves out.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


class UnknownServiceError(LookupError):
    """The service code is not in the catalogue, or the service has been retired."""


def new_reference() -> str:
    """A random ticket reference such as ``CD-7KQ2XM`` (about a billion possibilities)."""
    # One draw of 30 random bits, five per character (32 = 2**5: every character equally
    # likely, as with one draw per character, at a sixth of the cost).
    bits = secrets.randbits(5 * REFERENCE_LENGTH)
    return REFERENCE_PREFIX + "".join(
        CROCKFORD_ALPHABET[(bits >> shift) & 31] for shift in range(0, 5 * REFERENCE_LENGTH, 5)
    )


def parse_reference(typed: str) -> str | None:
    """Read a reference the way a citizen may type it: any case, dash optional, O for 0.

    Returns:
        The canonical reference (``CD-7KQ2XM``), or None if ``typed`` cannot be one.
    """
    match = _TYPED_REFERENCE.fullmatch(typed.strip().upper())
    if match is None:
        return None
    code = match.group(1).translate(_LOOKALIKES)
    return REFERENCE_PREFIX + code if "U" not in code else None


# Chinese is written with full-width punctuation on purpose.
def service_notice(department: str, expected_at: datetime | None, locale: str = "en") -> str:
    """The one-sentence notice returned when a request is filed (and shown with it later).

    Written in ``locale`` (a served locale, see ``locales.py``); ``department`` is its name in
    that language (:func:`catalogue.department_in`).
    """
    if locale == "zh-Hans":
        if expected_at is None:
            return f"已转交{department}处理。"
        return (
            f"已转交{department}处理，预计"  # noqa: RUF001
            f"{expected_at.year}年{expected_at.month}月{expected_at.day}日前办结（UTC 时间）。"  # noqa: RUF001
        )
    if expected_at is None:
        return f"Sent to {department}."
    return (
        f"Sent to {department}; expected to be resolved by "
        f"{expected_at.day} {expected_at:%B %Y} (UTC)."
    )


_SERVICE_TRANSLATIONS = select(
    ServiceEntry.code, ServiceEntry.department, ServiceEntry.translations
).where(ServiceEntry.code.in_(bindparam("codes", expanding=True)))


async def _translated_services(
    executor: AsyncConnection | AsyncSession, codes: set[str]
) -> dict[str, Row[Any]]:
    """The department and translations of the services among ``codes``, one read."""
    rows = await executor.execute(_SERVICE_TRANSLATIONS, {"codes": sorted(codes)})
    return {row.code: row for row in rows}


async def notice_of(executor: AsyncConnection | AsyncSession, ticket: Ticket) -> str:
    """The filing notice of a stored ticket, in the language it was filed in.

    The department is named in that language while the ticket is still with its service's
    department (a ticket moved elsewhere keeps the English name it was moved to).
    """
    locale = ticket.locale or "en"
    department = ticket.department
    if locale != "en":
        service = (await _translated_services(executor, {ticket.service_code})).get(
            ticket.service_code
        )
        if service is not None and service.department == ticket.department:
            department = department_in(service, locale)
    return service_notice(department, ticket.expected_at, locale)


@dataclass(frozen=True)
class FiledTicket:
    """The outcome of filing a request."""

    id: int
    service_request_id: str
    service_notice: str


OnStored = Callable[[AsyncSession, int], Awaitable[None]]
"""Runs inside the storing transaction with the new ticket's id (see :class:`Filing`)."""


@dataclass(frozen=True)
class Filing:
    """One request to store, with what has to happen in its transaction.

    Attributes:
        new: The parsed ``POST requests`` form.
        api_key: A presented API key still to be verified, in the storing transaction,
            before anything else (None when the caller verified it already).
        claim: The ``Idempotency-Key`` claim this request holds: the new ticket is
            recorded on it in the storing transaction (one ``UPDATE`` for the whole group).
        on_stored: Runs inside the storing transaction with the new ticket's id, so what
            it writes commits (or rolls back) together with the ticket.
        locale: The language the citizen filed in (a served locale, see ``locales.py``).
        district: The district of the request's place (``districts.DistrictMap``), if any.
    """

    new: NewServiceRequest
    api_key: str | None = None
    claim: idempotency.Claim | None = None
    on_stored: OnStored | None = None
    locale: str = "en"
    district: str | None = None


FilingOutcome = FiledTicket | BaseException
"""A filed ticket, or why this one request was refused (the others go on)."""


async def file_request(
    sessionmaker: async_sessionmaker[AsyncSession],
    new: NewServiceRequest,
    *,
    on_stored: OnStored | None = None,
) -> FiledTicket:
    """Check a new request against its service definition and store it as a ticket.

    One transaction of its own; :class:`TicketFiler` shares transactions between
    concurrent requests instead.

    Args:
        sessionmaker: Session factory of the ticket database.
        new: The parsed ``POST requests`` form.
        on_stored: Runs inside the storing transaction with the new ticket's id, so what it
            writes commits (or rolls back) together with the ticket.

    Returns:
        The stored ticket's id, reference and service notice.

    Raises:
        UnknownServiceError: the service code is unknown or inactive.
        SchemaError: the attribute answers do not fit the service definition, or the
            service needs a location and the request has none.
    """
    (outcome,) = await file_batch(sessionmaker, [Filing(new, on_stored=on_stored)])
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


async def file_batch(
    sessionmaker: async_sessionmaker[AsyncSession], filings: Sequence[Filing]
) -> list[FilingOutcome]:
    """Store several requests in one transaction: one commit and one INSERT for all.

    Each request is checked on its own (API key, service, attributes); one that fails its
    checks gets its error as its outcome and is left out, the others are stored. If the
    transaction itself fails (the database, or an ``on_stored`` hook), nothing of it is
    kept and, when there was more than one request, each is filed again alone, so one bad
    request never costs the others their ticket. Not so when the commit itself failed (its
    effect is unknown) or the database cannot be reached: then every request gets the
    error. A connection cut before the commit is retried once, as a group, on a fresh one.

    Returns:
        One outcome per filing, in order. Every :class:`FiledTicket` is committed.

    Raises:
        Exception: only an error of a one-request batch's transaction (for example the
            database being unreachable); in a larger batch such errors become outcomes.
    """
    stage = _Stage()
    try:
        return await _store_batch(sessionmaker, filings, stage)
    except Exception as error:
        if _connection_lost(error) and not stage.committing:
            # The pooled connection was cut (a database restart, say) before the commit:
            # nothing was stored, and the pool has dropped it. One more try, as a group, on
            # a fresh connection; if that fails too, the database is away.
            logger.warning("filing connection lost before the commit; trying once more")
            stage = _Stage()
            try:
                return await _store_batch(sessionmaker, filings, stage)
            except Exception as again:
                error = again
        if len(filings) == 1:
            raise error from None
        if stage.committing or is_database_unavailable(error):
            # The commit itself failed: whether it took effect is unknown, so filing again
            # could store tickets twice. Or the database cannot be reached: filing each
            # request again would only wait for it once per request. Either way every
            # request gets the error (a 503 when unreachable), as it would alone.
            return [error] * len(filings)
        logger.warning(
            "a shared filing transaction of %d requests failed (%s); filing them one by one",
            len(filings),
            type(error).__name__,
        )
    outcomes: list[FilingOutcome] = []
    for filing in filings:
        try:
            outcomes += await _store_batch(sessionmaker, [filing], _Stage())
        except Exception as error:
            outcomes.append(error)
    return outcomes


def _connection_lost(error: BaseException) -> bool:
    return isinstance(error, DBAPIError) and error.connection_invalidated


@dataclass
class _Stage:
    """How far a filing transaction got: set just before its commit is sent."""

    committing: bool = False


class TicketFiler:
    """The group-commit front door of ticket creation (one per application).

    Requests filed at the same time share one transaction and one commit
    (:func:`file_batch` through :class:`~civicdesk_backoffice.group_commit.GroupCommit`),
    and so do the ``Idempotency-Key`` claims made at the same time
    (:func:`idempotency.claim_batch`). Every caller is answered only after the transaction
    holding its ticket (or claim) has committed, and gets its own outcome: another request's
    bad input or failed hook does not fail it.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        async def store(filings: Sequence[Filing]) -> list[FiledTicket | BaseException]:
            return await file_batch(sessionmaker, filings)

        async def claim(
            wanted: Sequence[idempotency.ClaimRequest],
        ) -> list[idempotency.Claimed | BaseException]:
            return await idempotency.claim_batch(sessionmaker, wanted)

        self.tickets: GroupCommit[Filing, FiledTicket] = GroupCommit(store)
        self.claims: GroupCommit[idempotency.ClaimRequest, idempotency.Claimed] = GroupCommit(claim)

    @property
    def batches(self) -> int:
        """Shared filing transactions so far (the fallbacks after a failed one not counted)."""
        return self.tickets.batches

    @property
    def requests(self) -> int:
        """Requests taken into those transactions."""
        return self.tickets.requests

    async def file(self, filing: Filing) -> FiledTicket:
        """Store one request (sharing a transaction with concurrent ones).

        Returns:
            The committed ticket.

        Raises:
            InvalidApiKeyError: ``filing.api_key`` is unknown or revoked.
            UnknownServiceError: the service code is unknown or inactive.
            SchemaError: the attribute answers do not fit the service definition, or the
                service needs a location and the request has none.
        """
        return await self.tickets.submit(filing)

    async def claim(self, wanted: idempotency.ClaimRequest) -> idempotency.Claimed:
        """Verify the API key and claim the ``Idempotency-Key`` (sharing a transaction).

        Raises:
            InvalidApiKeyError: the API key is unknown or revoked.
        """
        return await self.claims.submit(wanted)

    async def close(self) -> None:
        """Wait for the transactions in flight (at shutdown, before the engine is disposed)."""
        await self.claims.close()
        await self.tickets.close()


async def _store_batch(
    sessionmaker: async_sessionmaker[AsyncSession], filings: Sequence[Filing], stage: _Stage
) -> list[FilingOutcome]:
    for attempt in range(1, _REFERENCE_ATTEMPTS + 1):
        try:
            return await _store_batch_once(sessionmaker, filings, stage)
        except IntegrityError as error:
            # Only a clash of a random reference is worth another try (with new ones).
            clash = "service_request_id" in str(error.orig) and not stage.committing
            if not clash or attempt == _REFERENCE_ATTEMPTS:
                raise
            logger.warning("ticket reference collision, drawing others (attempt %d)", attempt)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


async def _store_batch_once(
    sessionmaker: async_sessionmaker[AsyncSession], filings: Sequence[Filing], stage: _Stage
) -> list[FilingOutcome]:
    outcomes: list[FilingOutcome | None] = [None] * len(filings)
    async with sessionmaker.begin() as session:
        connection = await session.connection()
        keys = await _verified_keys(connection, {f.api_key for f in filings if f.api_key})
        services = await _filing_services(connection, {f.new.service_code for f in filings})
        now = utcnow()
        taken: set[str] = set()
        rows: dict[int, dict[str, Any]] = {}
        for index, filing in enumerate(filings):
            if filing.api_key is not None and not keys.get(filing.api_key):
                outcomes[index] = InvalidApiKeyError()
                continue
            service = services.get(filing.new.service_code)
            if service is None:
                outcomes[index] = UnknownServiceError(filing.new.service_code)
                continue
            # Open311 asks every request for a location; here only services that need a
            # place do (a licence renewal has none). Told together with the answers' problems.
            problems: list[str] = []
            if service.needs_location and not filing.new.has_location:
                problems.append(LOCATION_REQUIRED)
            try:
                answers = check_attributes(_definitions(service), filing.new.attributes)
            except SchemaError as error:
                problems += error.problems
            if problems:
                outcomes[index] = SchemaError(problems)
                continue
            # References distinct within the batch, so each returned one names one request.
            rows[index] = _new_ticket(filing.new, service, answers, now, _fresh_reference(taken))
            rows[index]["locale"] = filing.locale
            rows[index]["district"] = filing.district
        ids = await _insert_tickets(connection, list(rows.values()))
        # English needs nothing more; another language reads its department names (one read).
        foreign = {
            filings[index].new.service_code for index in rows if filings[index].locale != "en"
        }
        translated = await _translated_services(connection, foreign) if foreign else {}
        completed = [
            (claim, ids[rows[index]["service_request_id"]])
            for index in rows
            if (claim := filings[index].claim) is not None
        ]
        await idempotency.complete_many(connection, completed)
        for index, values in rows.items():
            filing, ticket_id = filings[index], ids[values["service_request_id"]]
            if filing.on_stored is not None:
                await filing.on_stored(session, ticket_id)
            service = services[filing.new.service_code]
            reference = values["service_request_id"]
            department = service.department
            if filing.locale != "en" and filing.new.service_code in translated:
                department = department_in(translated[filing.new.service_code], filing.locale)
            notice = service_notice(department, values["expected_at"], filing.locale)
            outcomes[index] = FiledTicket(ticket_id, reference, notice)
        stage.committing = True  # leaving the block commits
    # Reached only once the transaction has committed.
    for values in rows.values():
        reference, code = values["service_request_id"], values["service_code"]
        logger.info("filed ticket %s under %s", reference, code)
    return [outcome for outcome in outcomes if outcome is not None]


async def _verified_keys(connection: AsyncConnection, presented: set[str]) -> dict[str, bool]:
    """Whether each presented API key is active (one indexed read per distinct key)."""
    return {key: await api_keys.lookup_active_key(connection, key) is not None for key in presented}


_FILING_SERVICES = select(
    ServiceEntry.code,
    ServiceEntry.department,
    ServiceEntry.sla_hours,
    ServiceEntry.needs_location,
    ServiceEntry.attributes,
).where(ServiceEntry.code.in_(bindparam("codes", expanding=True)), ServiceEntry.active.is_(True))


async def _filing_services(connection: AsyncConnection, codes: set[str]) -> dict[str, Row[Any]]:
    """What filing needs of the active services among ``codes``: plain columns, one read."""
    wanted = sorted(code for code in codes if is_service_code(code))
    if not wanted:
        return {}
    rows = await connection.execute(_FILING_SERVICES, {"codes": wanted})
    return {row.code: row for row in rows}


_parsed_definitions: dict[str, tuple[list[Any], list[ServiceAttribute]]] = {}


def _definitions(service: Row[Any]) -> list[ServiceAttribute]:
    """The parsed attribute definitions of a service row just read from the database.

    The parsed form is kept per service code together with the stored value it came from,
    and reused only while the row read now is equal to that value: a changed definition
    is parsed afresh on its first use, so nothing stale is ever checked against.
    """
    stored = service.attributes or []
    cached = _parsed_definitions.get(service.code)
    if cached is not None and cached[0] == stored:
        return cached[1]
    parsed = parse_attributes(stored)
    _parsed_definitions[service.code] = (stored, parsed)
    return parsed


_INSERT_TICKETS = insert(Ticket).returning(Ticket.service_request_id, Ticket.id)
"""Built once and cached compiled; given several rows it is sent as one multi-row INSERT."""


async def _insert_tickets(
    connection: AsyncConnection, rows: list[dict[str, Any]]
) -> dict[str, int]:
    """Insert ``rows`` with one ``INSERT ... RETURNING``; returns reference to new id."""
    if not rows:
        return {}
    result = await connection.execute(_INSERT_TICKETS, rows)
    return dict(result.tuples().all())


def _fresh_reference(taken: set[str]) -> str:
    reference = new_reference()
    while reference in taken:
        reference = new_reference()
    taken.add(reference)
    return reference


def _new_ticket(
    new: NewServiceRequest,
    service: Row[Any],
    answers: dict[str, Any],
    now: datetime,
    reference: str,
) -> dict[str, Any]:
    """The ``tickets`` row of a new request (every column but the id)."""
    return {
        "service_request_id": reference,
        "service_code": service.code,
        "status": TicketStatus.NEW.value,
        "status_notes": None,
        "description": new.description,
        "address_string": new.address_string,
        "address_id": new.address_id,
        "lat": new.lat,
        "long": new.long,
        "attributes": answers,
        "email": new.email,
        "phone": new.phone,
        "first_name": new.first_name,
        "last_name": new.last_name,
        "device_id": new.device_id,
        "account_id": new.account_id,
        "department": service.department,
        "requested_at": now,
        "updated_at": now,
        "expected_at": now + timedelta(hours=service.sla_hours),
        "media_url": new.media_url,
        "assignee_id": None,
    }


@dataclass(frozen=True)
class RequestSearch:
    """Filters of ``GET requests``, already validated.

    ``service_request_ids``, when given, overrides every other filter (as the spec says).
    """

    start: datetime
    end: datetime
    service_request_ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    statuses: tuple[Status, ...] = ()


def default_range(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """Fill in a missing end of the date range: the spec's default is the latest 90 days.

    Raises:
        ValueError: if the range is reversed or spans more than 90 days.
    """
    if start is None:
        end = now if end is None else end
        return end - MAX_SEARCH_SPAN, end
    if end is None:
        return start, start + MAX_SEARCH_SPAN
    if end < start:
        raise ValueError("end_date is before start_date")
    if end - start > MAX_SEARCH_SPAN:
        raise ValueError("start_date and end_date may not be more than 90 days apart")
    return start, end


async def search_requests(session: AsyncSession, search: RequestSearch) -> list[tuple[Ticket, str]]:
    """Tickets matching ``search``, newest first, at most :data:`MAX_SEARCH_RESULTS`.

    Returns:
        Pairs of ticket and service name.
    """
    query = _with_service_name()
    if search.service_request_ids:
        query = query.where(Ticket.service_request_id.in_(search.service_request_ids))
    else:
        query = query.where(Ticket.requested_at >= search.start, Ticket.requested_at <= search.end)
        if search.service_codes:
            query = query.where(Ticket.service_code.in_(search.service_codes))
        if search.statuses:
            query = query.where(Ticket.status.in_(_internal_statuses(search.statuses)))
    query = query.order_by(Ticket.requested_at.desc(), Ticket.id.desc()).limit(MAX_SEARCH_RESULTS)
    return [(ticket, name) for ticket, name in (await session.execute(query)).tuples()]


async def find_request(session: AsyncSession, reference: str) -> tuple[Ticket, str] | None:
    """The ticket with this ``service_request_id`` (typed loosely) and its service name."""
    canonical = parse_reference(reference)
    if canonical is None:
        return None
    query = _with_service_name().where(Ticket.service_request_id == canonical)
    row = (await session.execute(query)).tuples().first()
    return None if row is None else (row[0], row[1])


_PUBLIC_LOOKUP = (
    select(
        Ticket.service_request_id,
        Ticket.status,
        Ticket.service_code,
        ServiceEntry.name.label("service_name"),
        Ticket.requested_at,
        Ticket.updated_at,
        Ticket.description,
        Ticket.status_notes,
        Ticket.department,
        Ticket.expected_at,
        Ticket.address_string,
        Ticket.address_id,
        Ticket.lat,
        Ticket.long,
        Ticket.media_url,
        Ticket.published_at,
    )
    .join(ServiceEntry, ServiceEntry.code == Ticket.service_code)
    .where(Ticket.service_request_id == bindparam("reference"))
)
"""The public columns of one ticket: built once, read without an ORM session."""


async def find_public_request(connection: AsyncConnection, reference: str) -> ServiceRequest | None:
    """The public Open311 view of the ticket ``reference`` (typed loosely), or None.

    The same answer as :func:`find_request` then :func:`to_public`, in one Core query that
    loads only the published columns (the status lookup is the hottest read path).
    """
    canonical = parse_reference(reference)
    if canonical is None:
        return None
    row = (await connection.execute(_PUBLIC_LOOKUP, {"reference": canonical})).first()
    if row is None:
        return None
    return to_public(row, row.service_name, await public_photo_ids(connection, [row]))


async def public_photo_ids(
    executor: AsyncConnection | AsyncSession, found: Sequence[Ticket | Row[Any]]
) -> set[str]:
    """The photos named by these tickets' ``media_url``s that the public may see.

    One query, and none when no ticket names a photo of ours (most have none).
    """
    named = {media.media_id_from_url(ticket.media_url) for ticket in found}
    return await media.public_media_ids(executor, {name for name in named if name is not None})


def public_media_url(ticket: Ticket | Row[Any], public_photos: Collection[str]) -> str | None:
    """The ticket's ``media_url`` as the public gets it, or None.

    A photo held here is named only while the public may see it (approved, unflagged, on a
    published report: ``media.is_public_condition``), so an Open311 GET agrees with
    ``/media/`` and the reports page. A URL elsewhere was never reviewed here: it is given
    only once staff published the report.
    """
    if ticket.media_url is None:
        return None
    own = media.media_id_from_url(ticket.media_url)
    if own is None:
        return ticket.media_url if ticket.published_at is not None else None
    return ticket.media_url if own in public_photos else None


def to_public(
    ticket: Ticket | Row[Any], service_name: str, public_photos: Collection[str] = ()
) -> ServiceRequest:
    """The public Open311 view of a ticket: no names, contact details or device/account ids.

    ``ticket`` is an ORM ticket or a Core row with the same columns (the lookup hot path).
    ``public_photos``: the ids :func:`public_photo_ids` found; a ``media_url`` naming any
    other photo is left out (see :func:`public_media_url`).
    """
    return ServiceRequest(
        service_request_id=ticket.service_request_id,
        status=TicketStatus(ticket.status).open311,
        service_code=ticket.service_code,
        service_name=service_name,
        requested_datetime=ticket.requested_at,
        updated_datetime=ticket.updated_at,
        description=ticket.description,
        status_notes=ticket.status_notes,
        agency_responsible=ticket.department,
        service_notice=service_notice(ticket.department, ticket.expected_at),
        expected_datetime=ticket.expected_at,
        address=ticket.address_string,
        address_id=ticket.address_id,
        lat=ticket.lat,
        long=ticket.long,
        media_url=public_media_url(ticket, public_photos),
    )


def _with_service_name() -> Select[tuple[Ticket, str]]:
    return select(Ticket, ServiceEntry.name).join(
        ServiceEntry, ServiceEntry.code == Ticket.service_code
    )


def _internal_statuses(statuses: Sequence[Status]) -> list[str]:
    return [status.value for status in TicketStatus if status.open311 in statuses]
