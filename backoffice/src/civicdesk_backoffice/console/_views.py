"""Console pages: sign-in, the queue, a ticket and what staff do to it.

Every change goes through the same rules as the staff API (``workflow``, ``outbox``,
``staff.record_audit``), in one transaction with its audit entry and chat push. Forms post
back with the session's CSRF token and are answered with a redirect (post/redirect/get).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice import handoffs, media, outbox, points, staff, workflow
from civicdesk_backoffice.app_keys import SESSIONMAKER
from civicdesk_backoffice.console import _auth, _queue
from civicdesk_backoffice.console._render import local_path, render, url_with
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import (
    AuditEntry,
    CommentAuthor,
    CommentVisibility,
    Handoff,
    HandoffStatus,
    MediaFile,
    ServiceEntry,
    StaffRole,
    StaffUser,
    Ticket,
    TicketStatus,
    utcnow,
)

HISTORY_LIMIT = 100
NEARBY_DEGREES = 0.003  # about 300 m north-south; a little less east-west at our latitudes
NEARBY_DAYS = 30
AGENT_HISTORY_ACTIONS = ("ticket.status", "ticket.assign", "ticket.publish", "points.award")
"""What agents see of a ticket's audit history (they do not read the audit log itself)."""


# ---- sign-in -------------------------------------------------------------------------


async def login_form(request: web.Request) -> web.Response:
    """``GET /staff/login``: the sign-in form (with a fresh double-submit CSRF token)."""
    return _login_page(request, error="")


def _login_page(request: web.Request, error: str, status: int = 200) -> web.Response:
    token = _auth.new_login_token()
    next_path = local_path(request.query.get("next", ""), "")
    response = render(
        request,
        "login.html",
        {"error": error, "csrf": token, "next_path": next_path},
        status=status,
    )
    _auth.set_login_csrf(request, response, token)
    return response


async def login(request: web.Request) -> web.Response:
    """``POST /staff/login``: check the password under the lock-out rules, open a session."""
    form = await request.post()
    if not _auth.login_csrf_ok(request, form.get(_auth.CSRF_FIELD)):
        return _login_page(request, "login_expired", status=403)
    username = form.get("username")
    password = form.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        return _login_page(request, "login_failed", status=401)
    async with request.config_dict[SESSIONMAKER].begin() as session:
        token, reason = await _auth.sign_in(request, session, username.strip(), password)
    if token is None:
        return _login_page(request, f"login_{reason}", status=401)
    target = local_path(request.query.get("next", ""), "/staff/queue")
    if not target.startswith("/staff/"):
        target = "/staff/queue"
    response = _auth.redirect(target)
    _auth.set_session_cookie(request, response, token)
    response.del_cookie(_auth.LOGIN_CSRF_COOKIE, path="/staff/")
    return response


async def logout(request: web.Request, session: AsyncSession, signed: _auth.Signed) -> web.Response:
    """``POST /staff/logout``: end the session."""
    await _auth.sign_out(request, session)
    staff.record_audit(session, signed.user, "console.logout")
    response = _auth.redirect("/staff/login")
    response.del_cookie(_auth.SESSION_COOKIE, path="/")
    return response


async def home(request: web.Request, session: AsyncSession, signed: _auth.Signed) -> web.Response:
    """``GET /staff/``: the queue."""
    return _auth.redirect("/staff/queue")


# ---- the queue -----------------------------------------------------------------------


async def queue(request: web.Request, session: AsyncSession, signed: _auth.Signed) -> web.Response:
    """``GET /staff/queue``: tabs with counts, filters, search, one page of tickets."""
    query = _queue.parse_query(dict(request.query))
    page = await _queue.queue_page(session, signed.user, query)
    staff.record_audit(
        session,
        signed.user,
        "console.queue",
        detail={"service_request_ids": [t.service_request_id for t, _ in page.rows]},
    )
    services = (
        await session.execute(
            select(ServiceEntry.code, ServiceEntry.name)
            .where(
                *(
                    []
                    if staff.can_see_all_departments(signed.user)
                    else [ServiceEntry.department == signed.user.department]
                )
            )
            .order_by(ServiceEntry.name)
        )
    ).all()
    departments = (
        sorted(set((await session.scalars(select(ServiceEntry.department))).all()))
        if staff.can_see_all_departments(signed.user)
        else []
    )
    waiting = await handoffs.visible_handoffs(session, signed.user, HandoffStatus.WAITING, 20)
    names = await _usernames(session, {t.assignee_id for t, _ in page.rows})
    now = utcnow()
    return render(
        request,
        "queue.html",
        {
            **_base(signed),
            "q": query,
            "tabs": list(_queue.Tab),
            "page": page,
            "assignees": names,
            "services": services,
            "departments": departments,
            "waiting": [(h, ref) for h, ref in waiting if h.ticket_id is None],
            "overdue": lambda t: workflow.is_overdue(t, now),
            "next_url": None
            if page.next_cursor is None
            else url_with(
                "/staff/queue",
                tab=query.tab.value,
                sort=query.sort.value,
                department=query.department,
                service=query.service_code,
                q=query.search,
                after=page.next_cursor,
            ),
        },
    )


# ---- one ticket ----------------------------------------------------------------------


async def ticket_page(
    request: web.Request, session: AsyncSession, signed: _auth.Signed
) -> web.Response:
    """``GET /staff/tickets/{ref}``: everything about one ticket, and the forms to work it."""
    user = signed.user
    reference = request.match_info["ref"]
    found = await staff.visible_ticket(session, user, reference)
    if found is None:
        return _not_in_reach(request, session, user, reference)
    ticket, service_name = found
    staff.record_audit(session, user, "ticket.read", ticket=ticket)
    service = await session.get(ServiceEntry, ticket.service_code)
    comments = await workflow.comments_of(session, ticket, include_internal=True)
    photos = await media.media_of(session, ticket)
    carried = (
        await session.scalars(
            select(Handoff).where(Handoff.ticket_id == ticket.id).order_by(Handoff.created_at)
        )
    ).all()
    history_query = (
        select(AuditEntry, StaffUser.username)
        .outerjoin(StaffUser, StaffUser.id == AuditEntry.staff_user_id)
        .where(AuditEntry.ticket_id == ticket.id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(HISTORY_LIMIT)
    )
    if not workflow.may_assign(user):
        history_query = history_query.where(AuditEntry.action.in_(AGENT_HISTORY_ACTIONS))
    history = (await session.execute(history_query)).tuples().all()
    names = await _usernames(session, {ticket.assignee_id})
    assign_to: list[str] = []
    departments: list[str] = []
    if workflow.may_assign(user):
        assign_to = list(
            (
                await session.scalars(
                    select(StaffUser.username)
                    .where(StaffUser.department == ticket.department)
                    .order_by(StaffUser.username)
                )
            ).all()
        )
        departments = (
            sorted(set((await session.scalars(select(ServiceEntry.department))).all()))
            if staff.can_see_all_departments(user)
            else [user.department]
        )
    attribute_labels = {
        str(item.get("code")): str(item.get("description") or item.get("code"))
        for item in (service.attributes if service is not None else [])
        if isinstance(item, dict)
    }
    return render(
        request,
        "ticket.html",
        {
            **_base(signed),
            "ticket": ticket,
            "service_name": service_name,
            "service_type": None if service is None else service.type,
            "attribute_labels": attribute_labels,
            "overdue": workflow.is_overdue(ticket, utcnow()),
            "assignee": names.get(ticket.assignee_id or 0),
            "comments": comments,
            "photos": photos,
            "handoffs": carried,
            "history": history,
            "points_earned": await points.points_of_ticket(session, ticket),
            "next_statuses": sorted(
                s.value for s in workflow.TRANSITIONS[TicketStatus(ticket.status)]
            ),
            "may_assign": workflow.may_assign(user),
            "assign_to": assign_to,
            "departments": departments,
            "nearby": await _nearby(session, user, ticket),
            "done": request.query.get("done", "") == "1",
        },
    )


async def _nearby(session: AsyncSession, user: StaffUser, ticket: Ticket) -> list[Ticket]:
    """Open tickets of the same service close by, filed within the window: likely the same."""
    if ticket.lat is None or ticket.long is None:
        return []
    query = (
        select(Ticket)
        .where(
            Ticket.id != ticket.id,
            Ticket.service_code == ticket.service_code,
            Ticket.status != TicketStatus.DUPLICATE.value,
            Ticket.lat.between(ticket.lat - NEARBY_DEGREES, ticket.lat + NEARBY_DEGREES),
            Ticket.long.between(ticket.long - NEARBY_DEGREES, ticket.long + NEARBY_DEGREES),
            Ticket.requested_at >= ticket.requested_at - timedelta(days=NEARBY_DAYS),
            Ticket.requested_at <= ticket.requested_at + timedelta(days=NEARBY_DAYS),
        )
        .order_by(Ticket.requested_at)
        .limit(5)
    )
    if not staff.can_see_all_departments(user):
        query = query.where(Ticket.department == user.department)
    return list((await session.scalars(query)).all())


def _not_in_reach(
    request: web.Request, session: AsyncSession, user: StaffUser, reference: str
) -> web.Response:
    # Audited and answered like a ticket that does not exist, as the staff API does.
    staff.record_audit(
        session, user, "ticket.not_found", detail={"service_request_id": reference[:40]}
    )
    return render(
        request,
        "error.html",
        {"status": 404, "message": None, "console": True},
        status=404,
    )


async def _form(request: web.Request) -> dict[str, str]:
    return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}


async def _locked_ticket(
    request: web.Request, session: AsyncSession, user: StaffUser
) -> tuple[Ticket, str] | web.Response:
    reference = request.match_info["ref"]
    found = await staff.visible_ticket(session, user, reference, for_update=True)
    if found is None:
        return _not_in_reach(request, session, user, reference)
    return found


def _back(ticket: Ticket) -> web.Response:
    return _auth.redirect(f"/staff/tickets/{ticket.service_request_id}?done=1")


async def change_status(
    request: web.Request, session: AsyncSession, signed: _auth.Signed
) -> web.Response:
    """``POST /staff/tickets/{ref}/status``: new status, public note, duplicate original."""
    form = await _form(request)
    note = workflow.clean_text(
        form.get("note"), "The note", workflow.MAX_NOTE_CHARS, required=False
    )
    original_ref = (form.get("duplicate_of") or "").strip()
    found = await _locked_ticket(request, session, signed.user)
    if isinstance(found, web.Response):
        return found
    ticket, _ = found
    original = None
    if original_ref:
        seen = await staff.visible_ticket(session, signed.user, original_ref)
        if seen is None:
            raise ApiError(422, f"The original names no ticket you can see: {original_ref[:40]!r}.")
        original = seen[0]
    change = workflow.change_status(ticket, form.get("status", ""), note, duplicate_of=original)
    detail: dict[str, Any] = {"from": change.previous.value, "to": change.current.value}
    if ticket.duplicate_of is not None:
        detail["duplicate_of"] = ticket.duplicate_of
    staff.record_audit(session, signed.user, "ticket.status", ticket=ticket, detail=detail)
    outbox.enqueue(
        session,
        identity=ticket.account_id,
        kind=outbox.PushKind.STATUS,
        ticket=ticket,
        message=change.notes,
    )
    await points.award_if_confirmed(session, signed.user, ticket, change)
    return _back(ticket)


async def assign(request: web.Request, session: AsyncSession, signed: _auth.Signed) -> web.Response:
    """``POST /staff/tickets/{ref}/assign``: supervisors and admins give the ticket on."""
    form = await _form(request)
    department = workflow.clean_text(form.get("department"), "The department", 100, required=False)
    assignee = workflow.clean_text(form.get("assignee"), "The assignee", 100, required=False)
    found = await _locked_ticket(request, session, signed.user)
    if isinstance(found, web.Response):
        return found
    ticket, _ = found
    before = {"department": ticket.department, "assignee_id": ticket.assignee_id}
    await workflow.assign(session, signed.user, ticket, department, assignee)
    after = {"department": ticket.department, "assignee_id": ticket.assignee_id}
    staff.record_audit(
        session, signed.user, "ticket.assign", ticket=ticket, detail={"from": before, "to": after}
    )
    if (
        not staff.can_see_all_departments(signed.user)
        and ticket.department != signed.user.department
    ):
        return _auth.redirect("/staff/queue")  # out of reach now
    return _back(ticket)


async def comment(
    request: web.Request, session: AsyncSession, signed: _auth.Signed
) -> web.Response:
    """``POST /staff/tickets/{ref}/comment``: an internal note or a public comment."""
    form = await _form(request)
    text = workflow.clean_text(
        form.get("body"), "The text", workflow.MAX_COMMENT_CHARS, required=True
    )
    try:
        visibility = CommentVisibility(form.get("visibility", CommentVisibility.INTERNAL.value))
    except ValueError:
        raise ApiError(400, "Choose who sees the note: staff only or the citizen too.") from None
    found = await _locked_ticket(request, session, signed.user)
    if isinstance(found, web.Response):
        return found
    ticket, _ = found
    added = workflow.add_comment(
        session,
        ticket,
        text or "",
        author=CommentAuthor.STAFF,
        visibility=visibility,
        staff_user=signed.user,
    )
    await session.flush()
    staff.record_audit(
        session,
        signed.user,
        "ticket.comment",
        ticket=ticket,
        detail={"comment_id": added.id, "visibility": visibility.value},
    )
    if visibility is CommentVisibility.PUBLIC:
        outbox.enqueue(
            session,
            identity=ticket.account_id,
            kind=outbox.PushKind.COMMENT,
            ticket=ticket,
            message=text,
        )
    return _back(ticket)


async def publish(
    request: web.Request, session: AsyncSession, signed: _auth.Signed
) -> web.Response:
    """``POST /staff/tickets/{ref}/publish`` ``publish=1|0``: show on the public page or not."""
    form = await _form(request)
    wanted = form.get("publish")
    if wanted not in ("0", "1"):
        raise ApiError(400, "Say whether to publish (1) or not (0).")
    found = await _locked_ticket(request, session, signed.user)
    if isinstance(found, web.Response):
        return found
    ticket, _ = found
    if wanted == "1" and ticket.published_at is None:
        ticket.published_at = utcnow()
    elif wanted == "0":
        ticket.published_at = None
    staff.record_audit(
        session, signed.user, "ticket.publish", ticket=ticket, detail={"published": wanted == "1"}
    )
    return _back(ticket)


async def review_photo(
    request: web.Request, session: AsyncSession, signed: _auth.Signed
) -> web.Response:
    """``POST /staff/tickets/{ref}/photos/{media_id}`` ``decision=approve|flag``."""
    form = await _form(request)
    decision = form.get("decision")
    if decision not in ("approve", "flag"):
        raise ApiError(400, "Approve the photo or flag it.")
    found = await _locked_ticket(request, session, signed.user)
    if isinstance(found, web.Response):
        return found
    ticket, _ = found
    photo = (
        await session.scalars(
            select(MediaFile).where(
                MediaFile.id == request.match_info["media_id"], MediaFile.ticket_id == ticket.id
            )
        )
    ).first()
    if photo is None:
        raise ApiError(404, "This ticket has no such photo.")
    if decision == "flag":
        # A flag wins for good: a flagged photo is never approved again.
        photo.flagged = True
        photo.approved_at = None
    elif not photo.flagged:
        photo.approved_at = utcnow()
    staff.record_audit(
        session,
        signed.user,
        "media.review",
        ticket=ticket,
        detail={"media_id": photo.id, "decision": decision},
    )
    return _back(ticket)


async def reply_handoff(
    request: web.Request, session: AsyncSession, signed: _auth.Signed
) -> web.Response:
    """``POST /staff/handoffs/{handoff_id}/reply``: answer a citizen who asked for a person."""
    form = await _form(request)
    text = workflow.clean_text(
        form.get("text"), "The reply", handoffs.MAX_REPLY_CHARS, required=True
    )
    handoff_id = request.match_info["handoff_id"]
    found = await handoffs.visible_handoff(session, signed.user, handoff_id)
    if found is None:
        staff.record_audit(
            session, signed.user, "handoff.not_found", detail={"handoff_id": handoff_id[:40]}
        )
        return render(
            request, "error.html", {"status": 404, "message": None, "console": True}, status=404
        )
    handoff, ticket = found
    handoffs.answer(handoff, signed.user, text or "")
    staff.record_audit(
        session, signed.user, "handoff.reply", ticket=ticket, detail={"handoff_id": handoff.id}
    )
    outbox.enqueue(
        session,
        identity=handoff.identity,
        kind=outbox.PushKind.HANDOFF_REPLY,
        ticket=ticket,
        message=text,
    )
    return _auth.redirect("/staff/queue" if ticket is None else _back(ticket).headers["Location"])


# ---- helpers -------------------------------------------------------------------------


def _base(signed: _auth.Signed) -> dict[str, Any]:
    return {
        "user": signed.user,
        "csrf": signed.csrf_token,
        "is_supervisor": signed.user.role in (StaffRole.SUPERVISOR.value, StaffRole.ADMIN.value),
    }


async def _usernames(session: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    query = select(StaffUser.id, StaffUser.username).where(StaffUser.id.in_(wanted))
    return dict((await session.execute(query)).tuples().all())
