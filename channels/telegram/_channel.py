"""The Telegram input channel: webhook inside Rasa's Sanic app, or polling for local dev."""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from telegram import Message, Update, User
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler
from typing_extensions import Unpack

from channels._base import (
    ChannelOptions,
    ChannelRequestError,
    CivicDeskInputChannel,
    OnNewMessage,
    constant_time_equal,
    credential,
    json_error,
    parse_json_object,
)
from channels._media import (
    LOCATION_INTENT_TEXT,
    PHOTO_INTENT_TEXT,
    InvalidLocation,
    InvalidPhoto,
    Location,
    UploadedMedia,
    message_metadata,
)
from channels.telegram._output import BlockedChats, CallbackPayloads, TelegramOutput

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
TOKEN_ENV = "CIVICDESK_TELEGRAM_TOKEN"  # noqa: S105 (a variable name)
ALLOWED_UPDATES = ["message", "callback_query"]
MAX_BODY_BYTES = 1024 * 1024
_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

Mode = Literal["webhook", "polling"]


class TelegramInput(CivicDeskInputChannel):
    """Telegram through a python-telegram-bot ``Application``.

    In webhook mode the Application is built with ``.updater(None)``: Telegram POSTs to
    ``/webhooks/telegram/webhook`` on Rasa's server, the secret token header is checked in
    constant time, and the update is fed through ``Update.de_json``. ``setWebhook`` (with the
    secret token) is called at server start when ``webhook_url`` is set. In polling mode (local
    development without a public URL) the Application's updater fetches updates instead.

    Args:
        token: The bot token from @BotFather.
        secret_token: What Telegram must send in ``X-Telegram-Bot-Api-Secret-Token``.
        webhook_url: Public URL of the webhook, registered with ``setWebhook`` at start.
        mode: ``"webhook"`` or ``"polling"``.
        base_url: Bot API base (``https://api.telegram.org/bot`` by default).
        base_file_url: Bot API file base (``https://api.telegram.org/file/bot``).
        options: What every adapter takes (:class:`channels._base.ChannelOptions`): the photo
            uploader and size cap, the fallback language of its own texts (the Telegram
            user's ``language_code`` comes first), where ``update_id`` s are claimed.
    """

    def __init__(
        self,
        token: str,
        *,
        secret_token: str | None,
        webhook_url: str | None = None,
        mode: Mode = "webhook",
        base_url: str | None = None,
        base_file_url: str | None = None,
        **options: Unpack[ChannelOptions],
    ) -> None:
        super().__init__(**options)
        if not token:
            raise ValueError("telegram needs a bot token")
        if mode == "webhook" and not (secret_token and _SECRET_PATTERN.match(secret_token)):
            raise ValueError("telegram webhook mode needs a secret_token of 1-256 [A-Za-z0-9_-]")
        self._secret_token = secret_token
        self._webhook_url = webhook_url
        self._mode: Mode = mode
        self.payloads = CallbackPayloads(self.state)
        self.blocked = BlockedChats(self.state)
        builder = Application.builder().token(token)
        if base_url:
            builder = builder.base_url(base_url)
        if base_file_url:
            builder = builder.base_file_url(base_file_url)
        if mode == "webhook":
            builder = builder.updater(None)
        self.application = builder.build()
        self._on_new_message: OnNewMessage | None = None
        self.application.add_handler(TypeHandler(Update, self._on_polled_update))
        self.application.add_error_handler(self._on_error)

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> TelegramInput:
        mode = cls.choice_setting(credentials, "mode", ("webhook", "polling"))
        return cls(
            cls.required_setting(credentials, "access_token", env=TOKEN_ENV),
            secret_token=cls.setting(credentials, "secret_token"),
            webhook_url=cls.setting(credentials, "webhook_url"),
            mode="polling" if mode == "polling" else "webhook",
            base_url=credential(credentials, "api_base_url"),
            base_file_url=credential(credentials, "api_file_url"),
            **cls.common_options(credentials),
        )

    def get_output_channel(self) -> TelegramOutput:
        return TelegramOutput(self.application.bot, self.payloads, blocked=self.blocked)

    async def authenticate(self, request: Request) -> None:
        given = request.headers.get(SECRET_HEADER)
        if (
            not self._secret_token
            or not given
            or not constant_time_equal(self._secret_token, given)
        ):
            logger.warning("telegram: webhook call without the right secret token refused")
            raise ChannelRequestError(403, "forbidden", "secret token missing or wrong")

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self, on_new_message: OnNewMessage) -> None:
        """Initialise the bot; register the webhook, or start polling."""
        self._on_new_message = on_new_message
        await self.application.initialize()
        if self._mode == "polling":
            await self.application.start()
            updater = self.application.updater
            if updater is None:  # pragma: no cover (polling mode builds an updater)
                raise RuntimeError("telegram polling mode needs the Application's updater")
            await updater.start_polling(allowed_updates=ALLOWED_UPDATES, poll_interval=0.1)
        elif self._webhook_url:
            await self.application.bot.set_webhook(
                url=self._webhook_url,
                secret_token=self._secret_token,
                allowed_updates=ALLOWED_UPDATES,
            )

    async def stop(self) -> None:
        if self._mode == "polling":
            if self.application.updater is not None and self.application.updater.running:
                await self.application.updater.stop()
            if self.application.running:
                await self.application.stop()
        await self.application.shutdown()

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = Blueprint(f"civicdesk_{self.name()}_{id(self)}", __name__)

        @blueprint.listener("before_server_start")
        async def start(app: Sanic, loop: Any) -> None:
            await self.start(on_new_message)

        @blueprint.listener("after_server_stop")
        async def stop(app: Sanic, loop: Any) -> None:
            await self.stop()

        @blueprint.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return json_response({"status": "ok"})

        @blueprint.route("/webhook", methods=["POST"], ctx_max_body_bytes=MAX_BODY_BYTES)
        async def receive(request: Request) -> HTTPResponse:
            try:
                await self.authenticate(request)
                if len(request.body or b"") > MAX_BODY_BYTES:
                    raise ChannelRequestError(413, "body_too_large", "body is too large")
                update = self._parse_update(request.body)
            except ChannelRequestError as error:
                return error.response()
            try:
                handled = await self.handle_update(update, on_new_message)
            except Exception:
                logger.exception("telegram: handling an update failed; Telegram will retry")
                return json_error(503, "unavailable", "the assistant failed; retry later")
            return json_response({"ok": True, "duplicate": not handled})

        return blueprint

    def _parse_update(self, body: bytes) -> Update:
        data = parse_json_object(body)
        if not isinstance(data.get("update_id"), int):
            raise ChannelRequestError(400, "invalid_update", "update_id must be an integer")
        try:
            return Update.de_json(data, self.application.bot)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ChannelRequestError(400, "invalid_update", "not a Telegram update") from error

    # --- updates -------------------------------------------------------------------------

    async def handle_update(self, update: Update, on_new_message: OnNewMessage) -> bool:
        """Turn one update into at most one Rasa turn; ``False`` if it was a redelivery.

        The ``update_id`` is claimed first; if handling fails the claim is released so that
        Telegram's redelivery is processed.
        """
        delivery = f"update:{update.update_id}"
        if not await self.claim_delivery(delivery):
            logger.info("telegram: redelivered update ignored")
            return False
        try:
            message = await self._to_user_message(update)
            if message is not None:
                await on_new_message(message)
        except BaseException:
            await self.release_delivery(delivery)
            raise
        return True

    async def _on_polled_update(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update) and self._on_new_message is not None:
            await self.handle_update(update, self._on_new_message)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        logger.error("telegram: error while handling an update", exc_info=context.error)

    async def _to_user_message(self, update: Update) -> UserMessage | None:
        output = self.get_output_channel()
        # Telegram tells the language the citizen's app is set to; texts follow it.
        language = _language_of(update.effective_user)
        if update.effective_chat is not None:
            # Whoever writes or presses a button has not blocked the bot (any more).
            await self.blocked.discard(str(update.effective_chat.id))
        query = update.callback_query
        if query is not None:
            try:
                await query.answer()
            except TelegramError:
                # A query older than Telegram allows cannot be answered; the press still counts.
                logger.info("telegram: callback query could not be answered")
            chat = query.message.chat if query.message is not None else None
            if chat is not None and chat.type != "private":
                return None
            chat_id = str(chat.id) if chat is not None else str(query.from_user.id)
            payload = await self.payloads.decode(query.data or "")
            if payload is None:
                logger.info("telegram: button from an expired message pressed")
                await output.send_text_message(chat_id, self.reply_text("button_expired", language))
                return None
            return self._user_message(update, payload, chat_id, output)

        message = update.message
        if message is None:
            return None  # edited messages, channel posts: not conversations with a citizen
        if message.chat.type != "private":
            # A group would mix several people's reports (and personal data) in one
            # conversation; citizens talk to the bot one to one.
            return None
        chat_id = str(message.chat_id)
        if message.location is not None:
            try:
                location = Location.parse(message.location.latitude, message.location.longitude)
            except InvalidLocation:
                await output.send_text_message(
                    chat_id, self.reply_text("unsupported_content", language)
                )
                return None
            return self._user_message(
                update, LOCATION_INTENT_TEXT, chat_id, output, location=location
            )
        if message.photo:
            photo = await self._store_photo(message, chat_id, output, language)
            if photo is None:
                return None
            text = message.caption or PHOTO_INTENT_TEXT
            return self._user_message(update, text, chat_id, output, photo=photo)
        if message.text:
            return self._user_message(update, message.text, chat_id, output)
        # Documents, stickers, voice, video, contacts...: declined in plain words.
        await output.send_text_message(chat_id, self.reply_text("unsupported_content", language))
        return None

    async def _store_photo(
        self, message: Message, chat_id: str, output: TelegramOutput, language: str | None
    ) -> UploadedMedia | None:
        largest = max(
            message.photo, key=lambda size: (size.width * size.height, size.file_size or 0)
        )
        try:
            # Refused before the download where Telegram announces the size.
            if largest.file_size and largest.file_size > self._max_photo_bytes:
                raise InvalidPhoto("announced size over the cap")
            file = await largest.get_file()
            if file.file_size and file.file_size > self._max_photo_bytes:
                raise InvalidPhoto("file size over the cap")
        except InvalidPhoto:
            await output.send_text_message(chat_id, self.reply_text("photo_too_large", language))
            return None
        return await self.upload_photo(
            bytes(await file.download_as_bytearray()),
            filename=f"telegram-{largest.file_unique_id}.jpg",
            content_type="image/jpeg",
            tell=lambda text: output.send_text_message(chat_id, text),
            language=language,
        )

    def _user_message(
        self,
        update: Update,
        text: str,
        chat_id: str,
        output: TelegramOutput,
        *,
        location: Location | None = None,
        photo: UploadedMedia | None = None,
    ) -> UserMessage:
        return UserMessage(
            text,
            output_channel=output,
            sender_id=chat_id,
            input_channel=self.name(),
            message_id=f"telegram-{update.update_id}",
            metadata=message_metadata(
                self.name(),
                location=location,
                photo=photo,
                extra={"update_id": update.update_id},
            ),
        )


def _language_of(user: User | None) -> str | None:
    return user.language_code if user is not None else None
