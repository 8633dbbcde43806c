"""The browser chat page and its JSON endpoints."""

from __future__ import annotations

import html
import json
import logging
import secrets
import string
import time
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, raw, redirect
from sanic.response import json as json_response
from typing_extensions import Unpack

from channels._base import (
    ChannelOptions,
    ChannelRequestError,
    CivicDeskInputChannel,
    OnNewMessage,
    credential,
    json_error,
    parse_json_object,
)
from channels._media import (
    LOCATION_INTENT_TEXT,
    PHOTO_INTENT_TEXT,
    InvalidLocation,
    Location,
    MediaUploadFailed,
    UploadedMedia,
    message_metadata,
)
from channels._messages import (
    FALLBACK_LANGUAGE,
    accept_language,
    channel_reply,
    load_messages,
    supported_language,
)
from channels._state import SharedState
from channels.webchat._session import SessionSigner

logger = logging.getLogger(__name__)

COOKIE_NAME = "civicdesk_session"
CSRF_HEADER = "X-CivicDesk-Webchat"
MAX_MESSAGE_CHARS = 2000
MAX_JSON_BYTES = 16 * 1024
# Room beyond the photo cap for the multipart form around it and a photo slightly too large.
PHOTO_FORM_ALLOWANCE_BYTES = 1024 * 1024
_STATIC_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: https:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)


@cache
def _static(name: str) -> bytes:
    return resources.files("channels.webchat").joinpath("static").joinpath(name).read_bytes()


@cache
def _page(language: str) -> bytes:
    """``index.html`` with its labels in ``language``, from the ``page_*`` texts of
    ``channels/messages.yml``; app.js reads the same texts from the page's JSON block."""
    texts = {
        key: channel_reply(key, language)
        for key in load_messages()[FALLBACK_LANGUAGE]
        if key.startswith("page_")
    }
    fields = {key: html.escape(value) for key, value in texts.items()}
    fields["lang"] = html.escape(language)
    # Inside <script> only "</" could end the block early; JSON may escape "<" as \u003c.
    fields["page_text_json"] = json.dumps(texts, ensure_ascii=False).replace("<", "\\u003c")
    template = string.Template(_static("index.html").decode("utf-8"))
    return template.substitute(fields).encode("utf-8")


def _image_kind(data: bytes) -> tuple[str, str] | None:
    for magic, content_type, extension in _IMAGE_SIGNATURES:
        if data.startswith(magic):
            return content_type, extension
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


class WebChatInbox:
    """Proactive messages waiting for the page to fetch them, in the shared state (Redis
    when configured, so the process that got the update and the one the page polls may
    differ). Each inbox keeps its newest ``max_messages`` for ``ttl_seconds``."""

    def __init__(
        self, state: SharedState, *, max_messages: int = 50, ttl_seconds: int = 7 * 24 * 3600
    ) -> None:
        self._state = state
        self._max_messages = max_messages
        self._ttl = ttl_seconds

    async def put(self, sender_id: str, message: dict[str, Any]) -> None:
        await self._state.push(
            f"webchat:inbox:{sender_id}",
            json.dumps(message),
            ttl_seconds=self._ttl,
            max_items=self._max_messages,
        )

    async def take(self, sender_id: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        for item in await self._state.drain(f"webchat:inbox:{sender_id}"):
            try:
                message = json.loads(item)
            except ValueError:
                continue
            if isinstance(message, dict):
                messages.append(message)
        return messages


class WebChatInboxOutput(CollectingOutputChannel):  # type: ignore[misc]
    """Rasa's output for proactive messages: puts them in the sender's inbox."""

    def __init__(self, inbox: WebChatInbox) -> None:
        super().__init__()
        self._inbox = inbox

    @classmethod
    def name(cls) -> str:
        return "webchat"

    async def _persist_message(self, message: dict[str, Any]) -> None:
        await self._inbox.put(str(message.get("recipient_id", "")), message)


def _for_page(message: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {"text": str(message.get("text") or "")}
    buttons = message.get("buttons") or message.get("quick_replies") or []
    if buttons:
        shown["buttons"] = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", b.get("title")))}
            for b in buttons
            if isinstance(b, dict)
        ]
    if message.get("image"):
        shown["image"] = str(message["image"])
    return shown


class WebChatInput(CivicDeskInputChannel):
    """A small accessible chat page at ``/webhooks/webchat/`` with JSON endpoints beside it.

    The citizen's identity is a random session id in a signed, HttpOnly, SameSite=Strict
    cookie set by the server; the page never sends an identity and any ``sender`` in a body
    is ignored. POSTs also need the ``X-CivicDesk-Webchat`` header (a cross-site form cannot
    set it). Photos go to the back office's media endpoint; locations come from the browser.

    Args:
        session_secret: Signs session cookies; a random one per process if not given (then
            sessions end when the process restarts and cannot span several processes).
        secure_cookie: Mark the cookie ``Secure`` (set it when served over HTTPS).
        max_posts_per_minute: Posts (messages, locations, photos) one session may make per
            minute; more get 429.
        clock: Seconds since the epoch (tests fix it).
        options: What every adapter takes (:class:`channels._base.ChannelOptions`).
    """

    def __init__(
        self,
        *,
        session_secret: str | None = None,
        secure_cookie: bool = False,
        max_posts_per_minute: int = 30,
        clock: Callable[[], float] = time.time,
        **options: Unpack[ChannelOptions],
    ) -> None:
        super().__init__(**options)
        self._max_posts_per_minute = max_posts_per_minute
        self._clock = clock
        if not session_secret:
            logger.warning("webchat: no session secret set; sessions last one process only")
            session_secret = secrets.token_urlsafe(32)
        self.sessions = SessionSigner(session_secret)
        self._secure_cookie = secure_cookie
        self.inbox = WebChatInbox(self.state)

    @classmethod
    def name(cls) -> str:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WebChatInput:
        secure = str(credential(credentials, "secure_cookie") or "false").lower()
        return cls(
            session_secret=cls.setting(credentials, "session_secret"),
            secure_cookie=secure in ("1", "true", "yes"),
            max_posts_per_minute=cls.int_setting(credentials, "max_posts_per_minute", 30),
            **cls.common_options(credentials),
        )

    def get_output_channel(self) -> WebChatInboxOutput:
        return WebChatInboxOutput(self.inbox)

    def sender_id(self, session_id: str) -> str:
        return f"webchat-{session_id}"

    async def authenticate(self, request: Request) -> None:
        if request.method != "GET" and request.headers.get(CSRF_HEADER) != "1":
            raise ChannelRequestError(403, "forbidden", f"the {CSRF_HEADER} header is required")
        session_id = self.sessions.verify(request.cookies.get(COOKIE_NAME))
        if session_id is None:
            raise ChannelRequestError(401, "no_session", "no valid session: reload the page")
        if request.method != "GET":
            await self._check_rate(session_id)

    async def _check_rate(self, session_id: str) -> None:
        # A public page: cap each session's posts per minute so one tab cannot flood the bot.
        window = int(self._clock() // 60)
        count = await self.state.incr(f"webchat:rate:{session_id}:{window}", ttl_seconds=120)
        if count > self._max_posts_per_minute:
            logger.info("webchat: a session went over its rate limit")
            raise ChannelRequestError(
                429, "rate_limited", "too many messages; please wait a minute"
            )

    def _session(self, request: Request) -> str:
        session_id = self.sessions.verify(request.cookies.get(COOKIE_NAME))
        if session_id is None:  # pragma: no cover (authenticate ran first)
            raise ChannelRequestError(401, "no_session", "no valid session: reload the page")
        return session_id

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = Blueprint(f"civicdesk_{self.name()}_{id(self)}", __name__)

        @blueprint.route("/", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            if not request.path.endswith("/"):
                return redirect(request.path + "/")
            language = (
                accept_language(request.headers.get("accept-language"))
                or supported_language(self.language)
                or FALLBACK_LANGUAGE
            )
            response = raw(
                _page(language),
                content_type=_STATIC_TYPES["index.html"],
                headers=_SECURITY_HEADERS,
            )
            if self.sessions.verify(request.cookies.get(COOKIE_NAME)) is None:
                _, cookie = self.sessions.issue()
                response.cookies[COOKIE_NAME] = cookie
                morsel = response.cookies[COOKIE_NAME]
                morsel["httponly"] = True
                morsel["samesite"] = "Strict"
                morsel["path"] = request.path
                morsel["max-age"] = self.sessions.max_age_seconds
                if self._secure_cookie:
                    morsel["secure"] = True
            return response

        @blueprint.route("/app.css", methods=["GET"])
        async def stylesheet(request: Request) -> HTTPResponse:
            return raw(
                _static("app.css"), content_type=_STATIC_TYPES["app.css"], headers=_SECURITY_HEADERS
            )

        @blueprint.route("/app.js", methods=["GET"])
        async def script(request: Request) -> HTTPResponse:
            return raw(
                _static("app.js"), content_type=_STATIC_TYPES["app.js"], headers=_SECURITY_HEADERS
            )

        @blueprint.route("/message", methods=["POST"], ctx_max_body_bytes=MAX_JSON_BYTES)
        async def message(request: Request) -> HTTPResponse:
            try:
                await self.authenticate(request)
                data = self._json(request)
                text = data.get("payload") or data.get("message")
                if not isinstance(text, str) or not 0 < len(text.strip()) <= MAX_MESSAGE_CHARS:
                    raise ChannelRequestError(
                        400,
                        "invalid_message",
                        f"message must be 1 to {MAX_MESSAGE_CHARS} characters",
                    )
            except ChannelRequestError as error:
                return error.response()
            return await self._turn(request, data, text, on_new_message)

        @blueprint.route("/location", methods=["POST"], ctx_max_body_bytes=MAX_JSON_BYTES)
        async def location(request: Request) -> HTTPResponse:
            try:
                await self.authenticate(request)
                data = self._json(request)
                place = Location.parse(data.get("latitude"), data.get("longitude"))
            except ChannelRequestError as error:
                return error.response()
            except InvalidLocation as error:
                return json_error(400, "invalid_location", str(error))
            return await self._turn(
                request, data, LOCATION_INTENT_TEXT, on_new_message, location=place
            )

        # A photo a little over its own cap is still read, to be refused in the
        # citizen's language; a body far over it is refused before it is read.
        @blueprint.route(
            "/photo",
            methods=["POST"],
            ctx_max_body_bytes=self._max_photo_bytes + PHOTO_FORM_ALLOWANCE_BYTES,
        )
        async def photo(request: Request) -> HTTPResponse:
            try:
                await self.authenticate(request)
                content_type = request.headers.get("content-type", "")
                if not content_type.startswith("multipart/form-data") or (
                    "boundary=" not in content_type
                ):
                    raise ChannelRequestError(
                        400, "missing_photo", "send the photo as multipart/form-data"
                    )
                upload = request.files.get("photo") if request.files else None
                if upload is None:
                    raise ChannelRequestError(400, "missing_photo", "send the photo in `photo`")
                data = bytes(upload.body)
                # The page shows these descriptions to the citizen, in the browser's language.
                language = accept_language(request.headers.get("accept-language"))
                if len(data) > self._max_photo_bytes:
                    raise ChannelRequestError(
                        413, "photo_too_large", self.reply_text("photo_too_large", language)
                    )
                kind = _image_kind(data)
                if kind is None:
                    raise ChannelRequestError(
                        415,
                        "unsupported_photo",
                        self.reply_text("photo_type_unsupported", language),
                    )
            except ChannelRequestError as error:
                return error.response()
            content_type, extension = kind
            try:
                media = await self._uploader.upload(
                    data, filename=f"webchat.{extension}", content_type=content_type
                )
            except MediaUploadFailed:
                logger.warning("webchat: photo upload to the back office failed", exc_info=True)
                return json_error(
                    503,
                    "photo_not_saved",
                    self.reply_text(
                        "photo_not_saved", accept_language(request.headers.get("accept-language"))
                    ),
                )
            form = {"client_message_id": request.form.get("client_message_id")}
            return await self._turn(request, form, PHOTO_INTENT_TEXT, on_new_message, photo=media)

        @blueprint.route("/updates", methods=["GET"])
        async def updates(request: Request) -> HTTPResponse:
            try:
                await self.authenticate(request)
            except ChannelRequestError as error:
                return error.response()
            sender = self.sender_id(self._session(request))
            return json_response(
                {"messages": [_for_page(m) for m in await self.inbox.take(sender)]},
                headers={"Cache-Control": "no-store"},
            )

        return blueprint

    def _json(self, request: Request) -> dict[str, Any]:
        if len(request.body or b"") > MAX_JSON_BYTES:
            raise ChannelRequestError(413, "body_too_large", "body is too large")
        return parse_json_object(request.body or b"")

    async def _turn(
        self,
        request: Request,
        data: dict[str, Any],
        text: str,
        on_new_message: OnNewMessage,
        *,
        location: Location | None = None,
        photo: UploadedMedia | None = None,
    ) -> HTTPResponse:
        session_id = self._session(request)
        sender = self.sender_id(session_id)
        collector = CollectingOutputChannel()
        client_id = data.get("client_message_id")
        delivery = (
            f"{session_id}:{client_id}"
            if isinstance(client_id, str) and 0 < len(client_id) <= 64
            else f"{session_id}:{secrets.token_hex(8)}"
        )
        message = UserMessage(
            text.strip(),
            output_channel=collector,
            sender_id=sender,
            input_channel=self.name(),
            metadata=message_metadata(self.name(), location=location, photo=photo),
        )
        try:
            handled = await self.dispatch_once(delivery, on_new_message, message)
        except Exception:
            logger.exception("webchat: handling a message failed")
            return json_error(503, "unavailable", "the assistant failed; please try again")
        return json_response(
            {"messages": [_for_page(m) for m in collector.messages], "duplicate": not handled},
            headers={"Cache-Control": "no-store"},
        )
