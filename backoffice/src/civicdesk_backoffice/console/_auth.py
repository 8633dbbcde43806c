"""Console sign-in: session cookies, CSRF tokens, lock-out after repeated failures.

The cookie carries a random token; the database keeps only its SHA-256, so a copy of the
table signs nobody in. Each session has its own CSRF token, which every form posts back
and :func:`check_csrf` compares in constant time. The sign-in form itself, before any
session exists, uses a double-submit token (cookie and hidden field must match).

Lock-out: :attr:`Settings.staff_lockout_failures` wrong passwords in a row lock the
account for :attr:`Settings.staff_lockout_minutes`, even for the right password; the lock
is written to the audit log. The HTTP Basic API keeps its own rules (see ``staff.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from civicdesk_backoffice import staff
from civicdesk_backoffice.app_keys import SESSIONMAKER, SETTINGS
from civicdesk_backoffice.errors import ApiError
from civicdesk_backoffice.models import StaffRole, StaffSession, StaffUser, utcnow

SESSION_COOKIE = "cd_staff"
LOGIN_CSRF_COOKIE = "cd_login_csrf"
CSRF_FIELD = "csrf_token"

_MAX_NEXT = 1000
"""The longest return address a sign-in redirect carries."""


@dataclass(frozen=True)
class Signed:
    """The staff member behind a request, with their session's CSRF token."""

    user: StaffUser
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


async def current(request: web.Request, session: AsyncSession) -> Signed | None:
    """The signed-in staff member of ``request``, or None (no, unknown or expired cookie)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token or len(token) > 100:
        return None
    query = (
        select(StaffSession, StaffUser)
        .join(StaffUser, StaffUser.id == StaffSession.staff_user_id)
        .where(StaffSession.id == _digest(token))
    )
    row = (await session.execute(query)).tuples().first()
    if row is None or row[0].expires_at <= utcnow():
        return None
    return Signed(row[1], row[0].csrf_token)


def check_csrf(signed: Signed, form: dict[str, str] | object) -> None:
    """Refuse a form that does not carry this session's CSRF token.

    Raises:
        ApiError: 403 when the token is missing or wrong.
    """
    sent = form.get(CSRF_FIELD, "") if isinstance(form, dict) else ""
    if not isinstance(sent, str) or not hmac.compare_digest(
        sent.encode("utf-8", "replace"), signed.csrf_token.encode("ascii")
    ):
        raise ApiError(403, "This form is out of date or was not sent from the console.")


ConsoleHandler = Callable[[web.Request, AsyncSession, Signed], Awaitable[web.StreamResponse]]


def console_view(
    handler: ConsoleHandler, *, roles: frozenset[StaffRole] | None = None, post: bool = False
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Wrap a console view: signed-in staff only, optionally certain roles, CSRF on POSTs.

    Without a valid session a GET is sent to the sign-in page and a POST is refused (403).
    A role outside ``roles`` gets 403. The handler runs in one transaction, so its audit
    entries commit with its changes.
    """

    async def view(request: web.Request) -> web.StreamResponse:
        async with request.config_dict[SESSIONMAKER].begin() as session:
            signed = await current(request, session)
            if signed is None:
                if post:
                    raise ApiError(403, "Sign in first.")
                # Encoded again, a long query would make a Location header no client reads;
                # past a screenful, the page is enough to go back to.
                back = request.path_qs if len(request.path_qs) <= _MAX_NEXT else request.path
                raise web.HTTPSeeOther("/staff/login?" + urlencode({"next": back[:_MAX_NEXT]}))
            if roles is not None and StaffRole(signed.user.role) not in roles:
                staff.record_audit(
                    session, signed.user, "console.refused", detail={"page": request.path[:100]}
                )
                refused = True
            else:
                refused = False
                if post:
                    check_csrf(signed, dict(await request.post()))
                return await handler(request, session, signed)
        if refused:
            raise ApiError(403, "Your role does not give access to this page.")
        raise AssertionError("unreachable")  # pragma: no cover

    return view


def redirect(location: str) -> web.Response:
    """A 303 to ``location`` returned (not raised), so the view's transaction commits."""
    return web.Response(status=303, headers={"Location": location})


async def sign_in(
    request: web.Request, session: AsyncSession, username: str, password: str
) -> tuple[str | None, str]:
    """Check the credentials under the lock-out rules; on success open a session.

    Returns:
        ``(token, "")`` on success, else ``(None, reason)`` with reason ``failed`` or
        ``locked``.
    """
    settings = request.config_dict[SETTINGS]
    now = utcnow()
    known = (
        await session.scalars(
            select(StaffUser).where(StaffUser.username == username[:100]).with_for_update()
        )
    ).first()
    if known is not None and known.locked_until is not None and known.locked_until > now:
        staff.record_audit(session, known, "console.login.refused_locked")
        return None, "locked"
    user = await staff.authenticate(session, username, password)
    if user is None:
        if known is not None:
            known.failed_logins += 1
            if known.failed_logins >= settings.staff_lockout_failures:
                known.locked_until = now + timedelta(minutes=settings.staff_lockout_minutes)
                known.failed_logins = 0
                staff.record_audit(
                    session,
                    known,
                    "console.login.locked",
                    detail={"minutes": settings.staff_lockout_minutes},
                )
                return None, "locked"
            staff.record_audit(session, known, "console.login.failed")
        return None, "failed"
    user.failed_logins = 0
    user.locked_until = None
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            id=_digest(token),
            staff_user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + timedelta(hours=settings.staff_session_hours),
        )
    )
    # Expired sessions of this person are cleared as they sign in again.
    await session.execute(
        delete(StaffSession).where(
            StaffSession.staff_user_id == user.id, StaffSession.expires_at <= now
        )
    )
    staff.record_audit(session, user, "console.login")
    return token, ""


async def sign_out(request: web.Request, session: AsyncSession) -> None:
    """End the session of ``request`` (if any)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if token and len(token) <= 100:
        await session.execute(delete(StaffSession).where(StaffSession.id == _digest(token)))


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """Give the browser the session cookie: HttpOnly, SameSite=Strict, Secure per settings."""
    settings = request.config_dict[SETTINGS]
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.staff_session_hours * 3600,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=settings.staff_cookie_secure,
    )


def new_login_token() -> str:
    """A fresh double-submit token for the sign-in form."""
    return secrets.token_urlsafe(24)


def set_login_csrf(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """Set the sign-in form's token as a cookie too (the double submit)."""
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/staff/",
        httponly=True,
        samesite="Strict",
        secure=request.config_dict[SETTINGS].staff_cookie_secure,
    )


def login_csrf_ok(request: web.Request, sent: object) -> bool:
    """Whether the sign-in form's token matches its cookie."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return (
        isinstance(sent, str)
        and bool(cookie)
        and hmac.compare_digest(sent.encode("utf-8", "replace"), cookie.encode("utf-8", "replace"))
    )
