"""The WeChat Official Account input channel."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Literal

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, text
from typing_extensions import Unpack

from channels._base import (
    ChannelOptions,
    ChannelRequestError,
    CivicDeskInputChannel,
    OnNewMessage,
    credential,
    json_error,
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
from channels.wechat._client import DEFAULT_API_BASE, WeChatApiClient, WeChatApiError
from channels.wechat._crypto import WeChatCrypto, WeChatCryptoError, signature, signature_matches
from channels.wechat._output import OfferedButtons, WeChatOutput
from channels.wechat._xml import InvalidWeChatXml, encrypted_envelope, parse_message, text_reply

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
REPLAY_WINDOW_SECONDS = 300
# WeChat waits 5 s for the answer, then retries; leave room for the network.
DEFAULT_REPLY_DEADLINE_SECONDS = 4.0
SUCCESS = "success"
Mode = Literal["safe", "plain"]


class WeChatInput(CivicDeskInputChannel):
    """A WeChat Official Account's server URL at ``/webhooks/wechat/webhook``.

    ``GET`` answers WeChat's URL check (``echostr``) after verifying the signature. ``POST``
    verifies the signature (and, in safe mode, ``msg_signature`` over the ciphertext), then
    decrypts and parses the XML with entities disabled. Each ``MsgId`` is handled once. The
    reply goes back passively if the turn finishes within ``reply_deadline_seconds`` with at
    most one text; otherwise WeChat gets ``success`` at once and the replies follow as
    customer-service messages.

    Args:
        token: The Token set in the WeChat console (signs every request).
        app_id: The AppID (also checked inside safe-mode ciphertexts).
        app_secret: The AppSecret (for the access token of the customer-service API).
        encoding_aes_key: The EncodingAESKey; required in safe mode.
        mode: ``"safe"`` (encrypted, the default) or ``"plain"`` (development only).
        options: What every adapter takes (:class:`channels._base.ChannelOptions`); WeChat
            messages carry no language, so ``language`` sets the one of the adapter's texts.
    """

    def __init__(
        self,
        *,
        token: str,
        app_id: str,
        app_secret: str,
        encoding_aes_key: str | None = None,
        mode: Mode = "safe",
        api_base_url: str = DEFAULT_API_BASE,
        reply_deadline_seconds: float = DEFAULT_REPLY_DEADLINE_SECONDS,
        **options: Unpack[ChannelOptions],
    ) -> None:
        super().__init__(**options)
        if not (token and app_id and app_secret):
            raise ValueError("wechat needs token, app_id and app_secret")
        if mode == "safe" and not encoding_aes_key:
            raise ValueError("wechat safe mode needs encoding_aes_key")
        self._token = token
        self._app_id = app_id
        self._mode: Mode = mode
        self._crypto = WeChatCrypto(encoding_aes_key, app_id) if encoding_aes_key else None
        self.api = WeChatApiClient(app_id, app_secret, base_url=api_base_url)
        self._deadline = reply_deadline_seconds
        self.offers = OfferedButtons(self.state)
        self._background: set[asyncio.Task[None]] = set()

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> WeChatInput:
        mode = cls.choice_setting(credentials, "mode", ("safe", "plain"))
        return cls(
            token=cls.required_setting(credentials, "token"),
            app_id=cls.required_setting(credentials, "app_id"),
            app_secret=cls.required_setting(credentials, "app_secret"),
            encoding_aes_key=cls.setting(credentials, "encoding_aes_key"),
            mode="plain" if mode == "plain" else "safe",
            api_base_url=credential(credentials, "api_base_url") or DEFAULT_API_BASE,
            **cls.common_options(credentials),
        )

    def get_output_channel(self) -> WeChatOutput:
        return WeChatOutput(self.api, self.offers)

    async def authenticate(self, request: Request) -> None:
        timestamp = request.args.get("timestamp") or ""
        nonce = request.args.get("nonce") or ""
        expected = signature(self._token, timestamp, nonce)
        if not (timestamp and nonce) or not signature_matches(
            expected, request.args.get("signature")
        ):
            logger.warning("wechat: request with a missing or wrong signature refused")
            raise ChannelRequestError(403, "invalid_signature", "signature missing or wrong")
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError as error:
            raise ChannelRequestError(403, "invalid_signature", "bad timestamp") from error
        if age > REPLAY_WINDOW_SECONDS:
            raise ChannelRequestError(403, "expired_signature", "timestamp too old")

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = Blueprint(f"civicdesk_{self.name()}_{id(self)}", __name__)

        @blueprint.route("/webhook", methods=["GET"])
        async def verify_url(request: Request) -> HTTPResponse:
            try:
                await self.authenticate(request)
            except ChannelRequestError as error:
                return error.response()
            return text(request.args.get("echostr") or "")

        @blueprint.route("/webhook", methods=["POST"], ctx_max_body_bytes=MAX_BODY_BYTES)
        async def receive(request: Request) -> HTTPResponse:
            try:
                await self.authenticate(request)
                if len(request.body or b"") > MAX_BODY_BYTES:
                    raise ChannelRequestError(413, "body_too_large", "body is too large")
                fields = self._open(request)
            except ChannelRequestError as error:
                return error.response()
            try:
                reply = await self._handle(fields, on_new_message)
            except ChannelRequestError as error:
                return error.response()
            except Exception:
                logger.exception("wechat: handling a message failed; WeChat will retry")
                return json_error(503, "unavailable", "the assistant failed; retry later")
            if reply is None:
                return text(SUCCESS)
            return text(self._seal(reply, request), content_type="application/xml")

        return blueprint

    # --- request and reply envelopes ------------------------------------------------------

    def _open(self, request: Request) -> dict[str, str]:
        try:
            outer = parse_message(request.body or b"")
        except InvalidWeChatXml as error:
            raise ChannelRequestError(400, "invalid_xml", str(error)) from error
        encrypted = request.args.get("encrypt_type") == "aes"
        if self._mode == "safe" and not encrypted:
            raise ChannelRequestError(
                403, "encryption_required", "safe mode: body must be encrypted"
            )
        if not encrypted:
            return outer
        if self._crypto is None:
            raise ChannelRequestError(403, "encryption_unsupported", "no EncodingAESKey set")
        ciphertext = outer.get("Encrypt", "")
        expected = signature(
            self._token,
            request.args.get("timestamp", ""),
            request.args.get("nonce", ""),
            ciphertext,
        )
        if not ciphertext or not signature_matches(expected, request.args.get("msg_signature")):
            logger.warning("wechat: encrypted message with a wrong msg_signature refused")
            raise ChannelRequestError(403, "invalid_signature", "msg_signature missing or wrong")
        try:
            return parse_message(self._crypto.decrypt(ciphertext))
        except WeChatCryptoError as error:
            raise ChannelRequestError(
                400, "undecryptable", "message cannot be decrypted"
            ) from error
        except InvalidWeChatXml as error:
            raise ChannelRequestError(400, "invalid_xml", str(error)) from error

    def _seal(self, reply_xml: str, request: Request) -> str:
        if request.args.get("encrypt_type") != "aes" or self._crypto is None:
            return reply_xml
        encrypt = self._crypto.encrypt(reply_xml)
        timestamp = str(int(time.time()))
        nonce = request.args.get("nonce", "")
        return encrypted_envelope(
            encrypt, signature(self._token, timestamp, nonce, encrypt), timestamp, nonce
        )

    # --- messages -------------------------------------------------------------------------

    async def _handle(self, fields: dict[str, str], on_new_message: OnNewMessage) -> str | None:
        """The passive reply XML, or ``None`` to answer ``success``."""
        open_id = fields.get("FromUserName", "")
        account = fields.get("ToUserName", "")
        msg_type = fields.get("MsgType", "")
        if not open_id or not msg_type:
            raise ChannelRequestError(400, "invalid_message", "FromUserName and MsgType required")
        if msg_type == "event":
            return None  # subscribe, menu clicks...: nothing to say yet
        delivery = fields.get("MsgId") or f"{open_id}:{fields.get('CreateTime', '')}"
        if not await self.claim_delivery(delivery):
            logger.info("wechat: redelivered message ignored")
            return None

        collector = WeChatOutput(None, self.offers)
        turn = asyncio.create_task(
            self._run_turn(fields, open_id, msg_type, delivery, collector, on_new_message)
        )
        done, _ = await asyncio.wait({turn}, timeout=self._deadline)
        if not done:
            # Too slow for the passive reply: answer now, send the replies when ready.
            self._background.add(turn)
            turn.add_done_callback(lambda task: self._after_deadline(task, open_id, collector))
            return None
        try:
            turn.result()
        except BaseException:
            await self.release_delivery(delivery)
            raise
        if len(collector.collected) <= 1:
            if not collector.collected:
                return None
            return text_reply(open_id, account, collector.collected[0])
        self._send_later(open_id, list(collector.collected))
        return None

    async def _run_turn(
        self,
        fields: dict[str, str],
        open_id: str,
        msg_type: str,
        delivery: str,
        output: WeChatOutput,
        on_new_message: OnNewMessage,
    ) -> None:
        location: Location | None = None
        photo: UploadedMedia | None = None
        if msg_type == "text":
            content = fields.get("Content", "")
            body = await self.offers.payload_for(open_id, content) or content
        elif msg_type == "location":
            try:
                location = Location.parse(fields.get("Location_X"), fields.get("Location_Y"))
            except InvalidLocation:
                await output.send_text_message(open_id, self.reply_text("unsupported_content"))
                return
            body = LOCATION_INTENT_TEXT
        elif msg_type == "image":
            photo = await self._store_photo(fields.get("MediaId", ""), open_id, output)
            if photo is None:
                return
            body = PHOTO_INTENT_TEXT
        else:
            await output.send_text_message(open_id, self.reply_text("unsupported_content"))
            return
        if not body:
            return
        await on_new_message(
            UserMessage(
                body,
                output_channel=output,
                sender_id=open_id,
                input_channel=self.name(),
                message_id=f"wechat-{delivery}",
                metadata=message_metadata(
                    self.name(), location=location, photo=photo, extra={"msg_type": msg_type}
                ),
            )
        )

    async def _store_photo(
        self, media_id: str, open_id: str, output: WeChatOutput
    ) -> UploadedMedia | None:
        try:
            data = await self.api.download_media(media_id, self._max_photo_bytes)
        except InvalidPhoto:
            await output.send_text_message(open_id, self.reply_text("photo_too_large"))
            return None
        except (WeChatApiError, OSError):
            logger.warning("wechat: photo download failed", exc_info=True)
            await output.send_text_message(open_id, self.reply_text("photo_not_saved"))
            return None
        return await self.upload_photo(
            data,
            filename=f"wechat-{media_id[:32]}.jpg",
            content_type="image/jpeg",
            tell=lambda text: output.send_text_message(open_id, text),
        )

    def _after_deadline(
        self, turn: asyncio.Task[None], open_id: str, collector: WeChatOutput
    ) -> None:
        self._background.discard(turn)
        if turn.cancelled() or turn.exception() is not None:
            logger.error("wechat: a slow turn failed", exc_info=turn.exception())
            return
        self._send_later(open_id, list(collector.collected))

    def _send_later(self, open_id: str, texts: list[str]) -> None:
        task = asyncio.create_task(self._send_all(open_id, texts))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_all(self, open_id: str, texts: list[str]) -> None:
        for content in texts:
            try:
                await self.api.send_text(open_id, content)
            except (WeChatApiError, OSError):
                logger.warning("wechat: customer-service message not sent", exc_info=True)
                return

    async def drain(self) -> None:
        """Wait for replies still being sent in the background (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
