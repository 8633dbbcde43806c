"""The InputChannel base every CivicDesk adapter builds on.

It gives each adapter the same habits: authenticate the platform before reading anything
(:meth:`CivicDeskInputChannel.authenticate`), hand each delivery to Rasa at most once
(:meth:`CivicDeskInputChannel.dispatch_once`), refuse a sender's messages past a rate limit
with a polite reply (:meth:`CivicDeskInputChannel.rate_limited`, applied to every adapter's
``blueprint``), answer bad input with a JSON error and a code instead of a stack trace
(:func:`json_error`), offer an output channel for proactive messages
(:meth:`CivicDeskInputChannel.get_output_channel`), and read its settings the same way
(:meth:`CivicDeskInputChannel.setting`, :meth:`CivicDeskInputChannel.common_options`), so a
new channel module holds only what is particular to its platform.

Importing this module also puts the Rasa server's body-size limit in place
(``channels/_server_limits.py``): Rasa imports the channels before it builds its app.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from channels import _server_limits
from channels._dedup import DEFAULT_TTL_SECONDS, DedupStore, dedup_store_from_config
from channels._media import (
    DEFAULT_MAX_PHOTO_BYTES,
    BackOfficeMediaUploader,
    InvalidPhoto,
    MediaUploader,
    MediaUploadFailed,
    UploadedMedia,
    check_photo_size,
)
from channels._messages import channel_reply, load_messages, supported_language
from channels._rate_limit import RateLimiter, rate_limiter_from_config, rate_settings
from channels._state import SharedState, state_from_config

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
RATE_LIMITED_KEY = "rate_limited"

_server_limits.install()


class Unlimited:
    """A rate limiter that lets everything through (``rate_limit_per_minute: 0``, tests)."""

    async def allow(self, sender: str) -> bool:
        return True


UNLIMITED = Unlimited()


class ChannelRequestError(Exception):
    """A request that must be refused with a JSON error before anything is processed."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description

    def response(self) -> HTTPResponse:
        return json_error(self.status, self.code, self.description)


def json_error(status: int, code: str, description: str) -> HTTPResponse:
    """``{"error": {"code": ..., "description": ...}}`` with ``status``."""
    return json_response({"error": {"code": code, "description": description}}, status=status)


def constant_time_equal(expected: str, given: str) -> bool:
    """Compare secrets without leaking, through timing, how much of a guess was right."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or ``ChannelRequestError`` 400."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ChannelRequestError(400, "invalid_json", "body is not valid JSON") from error
    except RecursionError as error:
        # Python's parser gives up on arrays or objects nested about a thousand deep.
        raise ChannelRequestError(400, "invalid_json", "body nests too deeply") from error
    if not isinstance(data, dict):
        raise ChannelRequestError(400, "invalid_json", "body must be a JSON object")
    try:
        # JSON may spell half of a UTF-16 pair ("\ud800"); such text cannot be stored or
        # sent on, and would fail later, mid-turn.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        raise ChannelRequestError(
            400, "invalid_json", "body has text that is not valid Unicode"
        ) from error
    return data


def credential(
    credentials: dict[str, Any] | None, key: str, default: str | None = None
) -> str | None:
    """A string credential; empty values count as missing."""
    value = (credentials or {}).get(key)
    if value is None or value == "":
        return default
    return str(value)


class ChannelOptions(TypedDict, total=False):
    """What every adapter's constructor takes besides its platform's own settings."""

    uploader: MediaUploader | None
    max_photo_bytes: int
    language: str | None
    dedup_store: DedupStore | None
    state: SharedState | None
    rate_limiter: RateLimiter | None


class CivicDeskInputChannel(InputChannel):  # type: ignore[misc]
    """Base of the CivicDesk adapters.

    Args:
        uploader: Where photos go; the back office's media endpoint by default.
        max_photo_bytes: Larger photos are declined.
        language: The language of the texts the adapter sends by itself when the platform
            does not tell the citizen's (a language of ``channels/messages.yml``); English
            if not set.
        dedup_store: Where delivery keys are claimed; by default Redis at ``redis_url`` /
            ``CIVICDESK_REDIS_URL``, else in-memory.
        state: Small state shared between requests (and processes), same default.
        rate_limiter: Each sender's token bucket; by default ``CIVICDESK_RATE_LIMIT_*``'s
            (20 a minute, 10 at once), in Redis at ``CIVICDESK_REDIS_URL`` if set, else in
            this process. :data:`UNLIMITED` turns the limit off.
    """

    def __init__(
        self,
        *,
        uploader: MediaUploader | None = None,
        max_photo_bytes: int = DEFAULT_MAX_PHOTO_BYTES,
        language: str | None = None,
        dedup_store: DedupStore | None = None,
        state: SharedState | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        if rate_limiter is None:
            rate_limiter = rate_limiter_from_config(None, *rate_settings()) or UNLIMITED
        self.rate_limiter: RateLimiter = rate_limiter
        self.dedup_store: DedupStore = dedup_store or dedup_store_from_config(
            None, ttl_seconds=DEFAULT_TTL_SECONDS
        )
        self.state: SharedState = state or state_from_config(None)
        self._uploader: MediaUploader = uploader or BackOfficeMediaUploader.from_env()
        if max_photo_bytes <= 0:
            raise ValueError(f"{self.name()}: max_photo_bytes must be positive")
        self._max_photo_bytes = max_photo_bytes
        self.language = supported_language(language)
        if language and self.language is None:
            raise ValueError(
                f"{self.name()}: no texts in language {language!r} in channels/messages.yml"
                f" (there are: {', '.join(load_messages())})"
            )

    # --- settings --------------------------------------------------------------------------

    @classmethod
    def env_name(cls, key: str) -> str:
        """The environment variable behind a credentials key: ``CIVICDESK_<NAME>_<KEY>``."""
        return f"CIVICDESK_{cls.name().upper()}_{key.upper()}"

    @classmethod
    def setting(
        cls,
        credentials: dict[str, Any] | None,
        key: str,
        *,
        env: str | None = None,
        default: str | None = None,
    ) -> str | None:
        """``key`` from ``credentials.yml``, else the environment (``env`` or
        :meth:`env_name`), else ``default``; empty values count as missing."""
        return credential(credentials, key) or os.environ.get(env or cls.env_name(key)) or default

    @classmethod
    def required_setting(
        cls, credentials: dict[str, Any] | None, key: str, *, env: str | None = None
    ) -> str:
        """Like :meth:`setting`, but a missing value stops Rasa at start, naming both places."""
        value = cls.setting(credentials, key, env=env)
        if not value:
            raise ValueError(
                f"{cls.name()}: set `{key}` in credentials.yml or {env or cls.env_name(key)}"
            )
        return value

    @classmethod
    def choice_setting(
        cls, credentials: dict[str, Any] | None, key: str, choices: tuple[str, ...]
    ) -> str:
        """One of ``choices`` (the first is the default); anything else stops Rasa at start."""
        value = cls.setting(credentials, key, default=choices[0]) or choices[0]
        if value not in choices:
            raise ValueError(f"{cls.name()}: {key} must be one of {', '.join(choices)}")
        return value

    @classmethod
    def int_setting(cls, credentials: dict[str, Any] | None, key: str, default: int) -> int:
        value = cls.setting(credentials, key)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError as error:
            raise ValueError(f"{cls.name()}: {key} must be a whole number") from error

    @classmethod
    def common_options(cls, credentials: dict[str, Any] | None) -> ChannelOptions:
        """The constructor options every adapter reads the same way from its credentials."""
        return {
            "max_photo_bytes": cls.int_setting(
                credentials, "max_photo_bytes", DEFAULT_MAX_PHOTO_BYTES
            ),
            "language": cls.setting(credentials, "language"),
            "dedup_store": cls.dedup_from_credentials(credentials),
            "state": cls.state_from_credentials(credentials),
            "rate_limiter": cls.rate_limiter_from_credentials(credentials),
        }

    @classmethod
    def rate_limiter_from_credentials(cls, credentials: dict[str, Any] | None) -> RateLimiter:
        """``rate_limit_per_minute`` / ``rate_limit_burst`` from the channel's credentials,
        else ``CIVICDESK_RATE_LIMIT_PER_MINUTE`` / ``_BURST``, else 20 and 10; 0 a minute is
        no limit."""
        per_minute, burst = rate_settings(
            cls._optional_int(credentials, "rate_limit_per_minute"),
            cls._optional_int(credentials, "rate_limit_burst"),
        )
        limiter = rate_limiter_from_config(credential(credentials, "redis_url"), per_minute, burst)
        return limiter or UNLIMITED

    @classmethod
    def _optional_int(cls, credentials: dict[str, Any] | None, key: str) -> int | None:
        value = credential(credentials, key)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError as error:
            raise ValueError(f"{cls.name()}: {key} must be a whole number") from error

    async def upload_photo(
        self,
        data: bytes,
        *,
        filename: str,
        content_type: str,
        tell: Callable[[str], Awaitable[Any]],
        language: str | None = None,
    ) -> UploadedMedia | None:
        """Size-check a citizen's photo and upload it to the back office.

        On a refusal the citizen is told why through ``tell`` (in ``language`` where there are
        texts for it) and ``None`` is returned: no turn is made of a photo that was not stored.
        """
        try:
            check_photo_size(data, self._max_photo_bytes)
        except InvalidPhoto:
            await tell(self.reply_text("photo_too_large", language))
            return None
        try:
            return await self._uploader.upload(data, filename=filename, content_type=content_type)
        except MediaUploadFailed:
            logger.warning("%s: photo upload to the back office failed", self.name(), exc_info=True)
            await tell(self.reply_text("photo_not_saved", language))
            return None

    def reply_text(self, key: str, citizen_language: str | None = None) -> str:
        """A text the adapter sends by itself, in the citizen's language where the platform
        tells it, else the channel's, else English."""
        return channel_reply(key, citizen_language, self.language)

    @classmethod
    def dedup_from_credentials(cls, credentials: dict[str, Any] | None) -> DedupStore:
        ttl = int(credential(credentials, "dedup_ttl_seconds") or DEFAULT_TTL_SECONDS)
        return dedup_store_from_config(credential(credentials, "redis_url"), ttl_seconds=ttl)

    @classmethod
    def state_from_credentials(cls, credentials: dict[str, Any] | None) -> SharedState:
        return state_from_config(credential(credentials, "redis_url"))

    async def authenticate(self, request: Request) -> None:
        """Raise ``ChannelRequestError`` unless the request comes from the platform.

        Called before the body is parsed or anything is stored. The default refuses all.
        """
        raise ChannelRequestError(401, "unauthenticated", "no authentication configured")

    # --- rate limit ------------------------------------------------------------------------

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every adapter hands its messages to Rasa through the callable its ``blueprint``
        # gets; wrapping it here puts the rate limit on every path (webhook, polling, media)
        # of every adapter, present and future, without each having to remember it.
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("blueprint")
        if own is None:
            return

        @functools.wraps(own)
        def blueprint(self: CivicDeskInputChannel, on_new_message: OnNewMessage) -> Any:
            return own(self, self.rate_limited(on_new_message))

        cls.blueprint = blueprint

    def rate_limited(self, on_new_message: OnNewMessage) -> OnNewMessage:
        """``on_new_message`` behind each sender's token bucket.

        A message over the limit is not handed to Rasa (refused, not queued: a queue would
        only grow while the sender keeps going); the citizen is told, through the message's
        own output channel, to wait and send it again, so nothing is dropped unsaid.
        """
        if getattr(on_new_message, "_civicdesk_rate_limited", False):
            return on_new_message  # an adapter's blueprint calling its parent's

        async def limited(message: UserMessage) -> Any:
            if await self.rate_limiter.allow(f"{self.name()}:{message.sender_id}"):
                return await on_new_message(message)
            logger.info("%s: a sender went over the rate limit; message refused", self.name())
            language = (message.metadata or {}).get("language")
            await message.output_channel.send_text_message(
                message.sender_id,
                self.reply_text(RATE_LIMITED_KEY, language if isinstance(language, str) else None),
            )
            return None

        limited._civicdesk_rate_limited = True  # type: ignore[attr-defined]
        return limited

    def dedup_key(self, delivery_id: str) -> str:
        return f"{self.name()}:{delivery_id}"

    async def dispatch_once(
        self, delivery_id: str, on_new_message: OnNewMessage, message: UserMessage
    ) -> bool:
        """Hand ``message`` to Rasa unless ``delivery_id`` was handled already.

        Returns ``False`` for a redelivery. If handling raises, the claim is released so that
        the platform's redelivery is processed (nothing a citizen sent is lost).
        """
        key = self.dedup_key(delivery_id)
        if not await self.dedup_store.claim(key):
            logger.info("%s: redelivery ignored", self.name())
            return False
        try:
            await on_new_message(message)
        except BaseException:
            await self.dedup_store.release(key)
            raise
        return True

    async def claim_delivery(self, delivery_id: str) -> bool:
        """Claim a delivery for adapters that do more than one ``on_new_message`` per turn."""
        return bool(await self.dedup_store.claim(self.dedup_key(delivery_id)))

    async def release_delivery(self, delivery_id: str) -> None:
        await self.dedup_store.release(self.dedup_key(delivery_id))

    def get_output_channel(self) -> OutputChannel | None:
        """An output channel for proactive messages (status updates from the back office)."""
        return None
