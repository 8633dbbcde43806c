"""Handlers of the Open311 GeoReport v2 resources; the work is done in the service modules."""

from __future__ import annotations

import logging

from aiohttp import web
from open311_schema import NewServiceRequest, SchemaError, Service, ServiceRequestCreated
from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice import api_keys, catalogue, idempotency, locales, media, tickets
from civicdesk_backoffice.app_keys import (
    DISTRICTS,
    READ_ENGINE,
    READ_SESSIONMAKER,
    SESSIONMAKER,
    SETTINGS,
)
from civicdesk_backoffice.districts import DistrictMap
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import utcnow
from civicdesk_backoffice.open311.forms import parse_search, read_form, single_value
from civicdesk_backoffice.open311.render import (
    MEDIA_TYPES,
    Format,
    format_of,
    render,
    revalidated,
)

logger = logging.getLogger(__name__)

SPECIFICATION_URL = "http://wiki.open311.org/GeoReport_v2"
API_CHANGESET = "2026-11-29T00:00:00Z"
"""When this server's Open311 interface last changed (shown in service discovery)."""
TICKET_FILER = web.AppKey("ticket_filer", tickets.TicketFiler)
"""The application's group-commit filer (created with the engine, see ``app.py``)."""


def _format(request: web.Request) -> Format:
    fmt = format_of(request)
    if fmt is None:
        extension = request.match_info.get("fmt", "")[:20]
        raise ApiError(
            404, f"Unknown format {extension!r}: Open311 resources end in .json or .xml."
        )
    return fmt


def _check_jurisdiction(request: web.Request, given: str | None) -> None:
    served = request.app[SETTINGS].jurisdiction_id
    if given and given.strip() and given.strip() != served:
        raise ApiError(
            404, f"jurisdiction_id {given.strip()[:60]!r} is not served here (only {served!r})."
        )


def _open311_request(request: web.Request) -> Format:
    """The response format, after checking the jurisdiction named in the query string."""
    fmt = _format(request)
    _check_jurisdiction(request, request.query.get("jurisdiction_id"))
    return fmt


async def discovery(request: web.Request) -> web.Response:
    """``GET discovery.{fmt}``: where this endpoint is and which formats it speaks."""
    fmt = _open311_request(request)
    settings = request.app[SETTINGS]
    body = {
        "changeset": API_CHANGESET,
        "contact": settings.contact,
        "key_service": "API keys are issued by the administrators of this back office.",
        "endpoints": [
            {
                "specification": SPECIFICATION_URL,
                "url": str(request.url.origin() / "open311" / "v2"),
                "changeset": API_CHANGESET,
                "type": "production",
                "formats": [MEDIA_TYPES["xml"], MEDIA_TYPES["json"]],
            }
        ],
    }
    return render(fmt, body, root="discovery")


async def service_list(request: web.Request) -> web.Response:
    """``GET services.{fmt}``: every service currently offered, in the negotiated language."""
    fmt = _open311_request(request)
    locale = locales.negotiate(request.query, request.headers)
    async with request.app[READ_SESSIONMAKER]() as session:
        services = await catalogue.active_services(session)
    body = []
    for service in services:
        words = catalogue.words_of(service, locale)
        body.append(
            {
                **Service(
                    service_code=service.code,
                    service_name=words.name,
                    description=words.description,
                    metadata=bool(service.attributes),
                    type="realtime",  # every request gets its id at once, never a token
                    keywords=words.keywords,
                    group=words.group,
                ).to_json(),
                # CivicDesk extensions beyond GeoReport v2 (docs/backoffice-api.md): the bot
                # asks for a map pin or a photo only where the service needs one, in the
                # service's own words where the catalogue has them (null: its generic one).
                "needs_location": service.needs_location,
                "needs_photo": service.needs_photo,
                "location_question": words.location_question,
                "photo_question": words.photo_question,
            }
        )
    return revalidated(request, render(fmt, body, root="services"), locale=locale)


async def service_definition(request: web.Request) -> web.Response:
    """``GET services/{code}.{fmt}``: the attributes (questions) of one service."""
    fmt = _open311_request(request)
    locale = locales.negotiate(request.query, request.headers)
    code = request.match_info["code"]
    async with request.app[READ_SESSIONMAKER]() as session:
        service = await catalogue.active_service(session, code)
    if service is None:
        raise ApiError(404, f"There is no service with service_code {code[:64]!r}.")
    attributes = sorted(
        catalogue.localised_attributes(service, locale), key=lambda item: item.order
    )
    body = {
        "service_code": service.code,
        "attributes": [attribute.to_open311() for attribute in attributes],
    }
    return revalidated(request, render(fmt, body, root="service_definition"), locale=locale)


async def create_request(request: web.Request) -> web.Response:
    """``POST requests.{fmt}``: file a service request (needs an API key).

    Answers 201 Created (the specification's example leaves the code open) with a
    ``Location`` header pointing at the new request. With an ``Idempotency-Key`` header
    (a CivicDesk extension, see ``docs/backoffice-api.md``) a retried request returns the
    ticket the first one filed instead of filing another.

    Without that header the API key is verified in the transaction that stores the ticket;
    with it, in the transaction that claims the key. Concurrent requests share both
    (:class:`tickets.TicketFiler`); the answer is sent only after the ticket is committed.
    """
    fmt = _format(request)
    idempotency_key = idempotency.read_key(request.headers.get(idempotency.HEADER))
    form = await read_form(request)
    presented = single_value(form, "api_key")
    if presented is None:
        raise ApiError(403, "An api_key is required to create a service request.")
    try:
        _check_jurisdiction(request, single_value(form, "jurisdiction_id"))
        # ``locale`` is a CivicDesk extension field (the language the citizen files in); it
        # is taken out here because the shared schema refuses fields it does not know.
        locale = _filing_locale(form)
        try:
            new = NewServiceRequest.from_form([pair for pair in form if pair[0] != "locale"])
        except SchemaError as error:
            raise ApiError(400, *error.problems) from None
    except ApiError:
        # What is wrong with the request itself is told only to a client with a valid key.
        await _authorise_client(request, presented)
        raise
    filer = request.app[TICKET_FILER]
    districts = request.app[DISTRICTS]
    if idempotency_key is None:
        filed = await _file(filer, new, locale, districts, api_key=presented)
        return _created(fmt, filed.service_request_id, filed.service_notice, replayed=False)
    # The API key is verified and the Idempotency-Key claimed in one committed transaction
    # shared with concurrent requests; a key already in use is looked at on its own.
    body_hash = idempotency.fingerprint(form)
    try:
        claimed = await filer.claim(idempotency.ClaimRequest(presented, idempotency_key, body_hash))
    except idempotency.InvalidApiKeyError:
        raise _invalid_key() from None
    sessionmaker = request.app[SESSIONMAKER]
    outcome = claimed.claim or await idempotency.claim(
        request.app[READ_ENGINE], sessionmaker, claimed.api_key_id, idempotency_key, body_hash
    )
    if isinstance(outcome, idempotency.Replay):
        ticket = outcome.ticket
        async with sessionmaker() as session:
            notice = await tickets.notice_of(session, ticket)
        return _created(fmt, ticket.service_request_id, notice, replayed=True)
    try:
        filed = await _file(filer, new, locale, districts, claimed=outcome)
    except Exception:
        # Refused or failed: the key is free again for a corrected request. Not when this
        # handler is cancelled: its group may still commit the ticket with the claim, so the
        # claim stays (recorded with the ticket, or taken over once abandoned).
        await idempotency.release(sessionmaker, outcome)
        raise
    return _created(fmt, filed.service_request_id, filed.service_notice, replayed=False)


def _filing_locale(form: list[tuple[str, str]]) -> str:
    """The served locale a request is filed in: its ``locale`` field, English without one."""
    given = [value for key, value in form if key == "locale" and value.strip()]
    if not given:
        return locales.DEFAULT_LOCALE
    if len(set(given)) > 1:
        raise ApiError(400, "locale was given more than once")
    return locales.parse_locale_parameter(given[0])


async def _file(
    filer: tickets.TicketFiler,
    new: NewServiceRequest,
    locale: str,
    districts: DistrictMap,
    *,
    api_key: str | None = None,
    claimed: idempotency.Claim | None = None,
) -> tickets.FiledTicket:
    uploaded = media.media_id_from_url(new.media_url)

    async def link(session: AsyncSession, ticket_id: int) -> None:
        # A photo uploaded before filing is linked through the media_url it came back with.
        if uploaded is not None:
            await media.attach_unclaimed(session, uploaded, ticket_id)

    filing = tickets.Filing(
        new,
        api_key=api_key,
        claim=claimed,
        on_stored=link if uploaded is not None else None,
        locale=locale,
        district=districts.district_of(new.lat, new.long, new.address_string),
    )
    try:
        return await filer.file(filing)
    except idempotency.InvalidApiKeyError:
        raise _invalid_key() from None
    except tickets.UnknownServiceError:
        raise ApiError(
            404, f"There is no service with service_code {new.service_code[:64]!r}."
        ) from None
    except SchemaError as error:
        raise ApiError(400, *error.problems) from None


def _created(fmt: Format, reference: str, notice: str, *, replayed: bool) -> web.Response:
    created = ServiceRequestCreated(service_request_id=reference, service_notice=notice)
    # The specification's examples put the id first; dict order carries into the XML.
    body = {"service_request_id": reference} | created.to_json()
    headers = {"Location": f"/open311/v2/requests/{reference}.{fmt}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return render(fmt, [body], root="service_requests", status=201, headers=headers)


async def _authorise_client(request: web.Request, presented: str | None) -> api_keys.ActiveKey:
    if presented is None:
        raise ApiError(403, "An api_key is required to create a service request.")
    async with request.app[READ_ENGINE].connect() as connection:
        key = await api_keys.lookup_active_key(connection, presented)
    if key is None:
        raise _invalid_key()
    logger.debug("request filed with API key %r", key.name)
    return key


def _invalid_key() -> ApiError:
    return ApiError(403, "Invalid api_key: it is unknown or has been revoked.")


async def get_request(request: web.Request) -> web.Response:
    """``GET requests/{id}.{fmt}``: one request, public fields only."""
    fmt = _open311_request(request)
    reference = request.match_info["id"]
    async with request.app[READ_ENGINE].connect() as connection:
        found = await tickets.find_public_request(connection, reference)
    if found is None:
        raise ApiError(404, f"There is no service request {reference[:40]!r}.")
    return render(fmt, [found.to_json()], root="service_requests")


async def search_requests(request: web.Request) -> web.Response:
    """``GET requests.{fmt}``: requests matching the filters, newest first."""
    fmt = _open311_request(request)
    search = parse_search(request.query, utcnow())
    async with request.app[READ_SESSIONMAKER]() as session:
        found = await tickets.search_requests(session, search)
        photos = await tickets.public_photo_ids(session, [ticket for ticket, _ in found])
    body = [tickets.to_public(ticket, name, photos).to_json() for ticket, name in found]
    return render(fmt, body, root="service_requests")


async def get_token(request: web.Request) -> web.Response:
    """``GET tokens/{id}.{fmt}``: there are no tokens, every service here is realtime."""
    _open311_request(request)
    raise ApiError(
        404,
        "Unknown token: this server returns a service_request_id at once and issues no tokens.",
    )
