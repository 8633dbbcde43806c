"""Rendering shared by the staff console and the public reports page.

One Jinja2 environment with autoescaping on (every value a citizen typed is escaped), one
message catalogue (``messages.yml``) for every label in English and Simplified Chinese, and
the two display preferences (language, larger text) kept in plain cookies.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from civicdesk_backoffice.errors import ApiError

LANGUAGES = ("en", "zh-Hans")
DEFAULT_LANGUAGE = "en"
LANG_COOKIE = "cd_lang"
TEXT_COOKIE = "cd_text"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_PACKAGE = Path(__file__).parent
_MESSAGES = _PACKAGE / "messages.yml"
_SECURITY_HEADERS = {
    # Nothing is loaded from elsewhere: no CDN, no tiles, no inline scripts.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'none'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@functools.cache
def catalogue() -> Mapping[str, Mapping[str, str]]:
    """Every label, by language then key (read once, on first use)."""
    with _MESSAGES.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return {lang: {str(k): str(v) for k, v in data[lang].items()} for lang in LANGUAGES}


class Translator:
    """Labels in one language; a key missing from it falls back to English."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._messages = catalogue()[language]
        self._fallback = catalogue()[DEFAULT_LANGUAGE]

    def __call__(self, key: str, **values: object) -> str:
        """The label ``key``, with ``{placeholders}`` filled from ``values``."""
        text = self._messages.get(key) or self._fallback.get(key, key)
        return text.format(**values) if values else text


def language_of(request: web.Request) -> str:
    """The language asked for: the cookie, else the browser's first known language."""
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("Accept-Language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh") and not tag.startswith(("zh-tw", "zh-hk", "zh-hant")):
            return "zh-Hans"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


def large_text(request: web.Request) -> bool:
    """Whether the reader chose the larger-text mode."""
    return request.cookies.get(TEXT_COOKIE) == "large"


@functools.cache
def environment() -> Environment:
    """The Jinja2 environment of both packages' templates."""
    env = Environment(
        loader=FileSystemLoader(
            [str(_PACKAGE / "templates"), str(_PACKAGE.parent / "public" / "templates")]
        ),
        autoescape=select_autoescape(["html", "svg"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _format_when
    return env


def _format_when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
) -> web.Response:
    """Render ``template`` as an HTML page with the reader's language and text size."""
    language = language_of(request)
    page = (
        environment()
        .get_template(template)
        .render(
            t=Translator(language),
            lang=language,
            large=large_text(request),
            here=request.path_qs,
            site="/reports" if request.path.startswith("/reports") else "/staff",
            query=lambda **changes: _query_with(request, changes),
            **context,
        )
    )
    return web.Response(
        text=page,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers=_SECURITY_HEADERS,
    )


def _query_with(request: web.Request, changes: Mapping[str, object]) -> str:
    """This page's query string with ``changes`` applied (None removes a parameter)."""
    params = dict(request.query.items())
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else request.path


def local_path(raw: str, default: str) -> str:
    """``raw`` if it is a path on this site (no scheme, no host), else ``default``.

    Guards the ``next`` parameters against sending a signed-in reader to another site.
    """
    if raw.startswith("/") and not raw.startswith("//") and "\\" not in raw and len(raw) < 500:
        return raw
    return default


async def set_preferences(request: web.Request) -> web.Response:
    """``GET .../prefs?lang=&text=&next=``: remember the language or text size, go back.

    Only display choices live here, so a plain link may change them (no CSRF token needed).
    """
    back = local_path(request.query.get("next", ""), request.path.rsplit("/", 1)[0] + "/")
    response = web.Response(status=303, headers={"Location": back})
    lang = request.query.get("lang")
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Strict", path="/")
    text = request.query.get("text")
    if text in ("large", "normal"):
        response.set_cookie(TEXT_COOKIE, text, max_age=365 * 86400, samesite="Strict", path="/")
    return response


def html_error_middleware(*, console: bool) -> Any:  # noqa: ANN401 (aiohttp's middleware type is private)
    """Errors of the HTML pages as a plain HTML page with the message, never a traceback."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except ApiError as error:
            return _error_page(request, error.status, " ".join(error.descriptions), console)
        except web.HTTPException as error:
            if error.status < 400:
                raise
            t = Translator(language_of(request))
            message = t("not_found") if error.status == 404 else error.reason
            return _error_page(request, error.status, message, console)
        return response

    return middleware


def _error_page(request: web.Request, status: int, message: str, console: bool) -> web.Response:
    return render(
        request,
        "error.html",
        {"status": status, "message": message, "console": console},
        status=status,
    )


def static_view(folder: Path) -> Handler:
    """A view serving the few files of ``folder`` by exact name (stylesheets)."""
    names = {path.name: path for path in folder.iterdir() if path.suffix == ".css"}

    async def serve(request: web.Request) -> web.StreamResponse:
        path = names.get(request.match_info["name"])
        if path is None:
            raise ApiError(404, "There is no such file.")
        return web.FileResponse(
            path,
            headers={"Content-Type": "text/css; charset=utf-8", "Cache-Control": "max-age=3600"},
        )

    return serve


def url_with(path: str, **params: object) -> str:
    """``path`` with a query string of the non-empty ``params``."""
    query = {k: str(v) for k, v in params.items() if v not in (None, "")}
    return path + ("?" + urlencode(query) if query else "")
