"""The voice input channel: an Alexa skill endpoint and a signed JSON webhook for other
voice assistants and phone IVRs, both answering in SSML."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response
from typing_extensions import Unpack

from channels._base import (
    ChannelOptions,
    ChannelRequestError,
    CivicDeskInputChannel,
    OnNewMessage,
    json_error,
    parse_json_object,
)
from channels._media import LOCATION_INTENT_TEXT, InvalidLocation, Location, message_metadata
from channels._messages import supported_language
from channels.signed_rest import (
    MESSAGE_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify,
)
from channels.voice._alexa import (
    CERT_URL_HEADER,
    AddressNotGranted,
    AlexaEnvelope,
    AlexaRequestRefused,
    AlexaRequestVerifier,
    CertChainFetcher,
    DeviceAddressClient,
    LoopbackCertChainFetcher,
    alexa_response,
)
from channels.voice._alexa import SIGNATURE_HEADER as ALEXA_SIGNATURE_HEADER
from channels.voice._output import VoiceInboxOutput, VoiceMemory
from channels.voice._speech import (
    DEFAULT_BUDGET_SECONDS,
    ChoicePhrases,
    Speech,
    SpokenChoice,
    speak_document,
    speak_turn,
    ssml_of,
)

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 2000
MAX_ID_CHARS = 128
MAX_ADDRESS_CHARS = 300
# What Alexa's built-in intents mean as words to the bot; the catch-all intent's slot holds
# the citizen's own words.
BUILT_IN_WORDS = {
    "AMAZON.HelpIntent": "help",
    "AMAZON.CancelIntent": "cancel",
    "AMAZON.YesIntent": "yes",
    "AMAZON.NoIntent": "no",
    "AMAZON.StartOverIntent": "start again",
}
STOP_INTENTS = frozenset({"AMAZON.StopIntent", "AMAZON.NavigateHomeIntent", "AMAZON.PauseIntent"})
CONTINUE_INTENTS = frozenset({"AMAZON.MoreIntent", "AMAZON.NextIntent"})
# The bot's answers to "talk to a person": with a hotline set, the adapter adds its number, so
# a caller can choose a person now rather than a reply later.
HANDOFF_RESPONSES = frozenset({"utter_handoff", "utter_handoff_filed", "utter_handoff_queued"})
# Said to the adapter, not the bot: the rest of a long reply, or the last one again.
CONTINUE_WORDS = frozenset(
    {"continue", "go on", "more", "tell me more", "keep going", "carry on", "继续"}
)
REPEAT_WORDS = frozenset(
    {"repeat", "repeat that", "say that again", "again", "pardon", "come again", "再说一遍"}
)
# The words that can pick "this device's address" by name, none of them part of an address.
_LOCATION_WORDS = frozenset(
    [
        "use",
        "share",
        "send",
        "give",
        "take",
        "my",
        "this",
        "the",
        "device",
        "devices",
        "device's",
        "address",
        "location",
        "current",
        "here",
        "i'm",
        "i",
        "am",
        "where",
    ]
)
_LOCATION_NAMES = frozenset({"address", "location", "here"})
_POSITION_FILLERS = frozenset(
    ["the", "number", "option", "choice", "no", "please", "i", "want", "pick", "take", "say"]
)
_ORDINALS = {
    word: number
    for number, words in enumerate(
        [
            (),
            ("one", "first", "1st", "1"),
            ("two", "second", "2nd", "2"),
            ("three", "third", "3rd", "3"),
            ("four", "fourth", "4th", "4"),
            ("five", "fifth", "5th", "5"),
            ("six", "sixth", "6th", "6"),
            ("seven", "seventh", "7th", "7"),
            ("eight", "eighth", "8th", "8"),
            ("nine", "ninth", "9th", "9"),
            ("ten", "tenth", "10th", "10"),
        ]
    )
    for word in words
}


def heard(text: str) -> str:
    """Recognised words as the adapter compares them: lower case, no punctuation."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.casefold()).split())


def spoken_position(words: str) -> int | None:
    """The number named by "one", "the first one", "number two", "option 3", else ``None``."""
    tokens = [t for t in words.split() if t not in _POSITION_FILLERS]
    numbers = [_ORDINALS[t] for t in tokens if t in _ORDINALS]
    if len(numbers) != len(tokens) or not numbers:
        return None
    if len(numbers) > 1 and "one" in tokens:
        # "the second one": "one" only names the thing.
        numbers = [n for t, n in zip(tokens, numbers, strict=True) if t != "one"] or [1]
    return numbers[0] if len(set(numbers)) == 1 else None


def picks_location(words: str, choices: tuple[SpokenChoice, ...]) -> bool:
    """Whether the citizen chose the "this device's address" option, by number or by name."""
    choice = next((c for c in choices if c.shares_location), None)
    if choice is None or not words:
        return False
    if spoken_position(words) == choice.number:
        return True
    tokens = set(words.split())
    return tokens <= _LOCATION_WORDS and bool(tokens & _LOCATION_NAMES)


def sender_for_alexa(user_id: str) -> str:
    """A short, stable conversation id for an Alexa account (its id is long and opaque)."""
    return "alexa-" + hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:32]


@dataclass
class VoiceTurn:
    """One request from a voice platform, whatever the platform."""

    sender: str
    delivery: str
    platform: str
    text: str | None
    language: str | None = None
    location: Location | None = None
    address: Callable[[], Awaitable[str | None]] | None = None


@dataclass
class VoiceReply:
    """What the adapter answers, before the platform's envelope is put around it."""

    ssml: str
    reprompt: str
    text: str
    choices: tuple[SpokenChoice, ...] = ()
    end_session: bool = False
    ask_address_permission: bool = False
    hotline: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def webhook_body(self) -> dict[str, Any]:
        return {
            "ssml": speak_document(self.ssml),
            "reprompt_ssml": speak_document(self.reprompt),
            "text": self.text,
            "choices": [{"number": c.number, "title": c.title} for c in self.choices],
            "end_session": self.end_session,
            "hotline": self.hotline,
        }

    def alexa_body(self) -> dict[str, Any]:
        return alexa_response(
            speak_document(self.ssml),
            reprompt_ssml=speak_document(self.reprompt or self.ssml),
            card_text=self.text,
            ask_address_permission=self.ask_address_permission,
            end_session=self.end_session,
        )


class VoiceInput(CivicDeskInputChannel):
    """Voice assistants: ``POST /webhooks/voice/alexa`` and ``POST /webhooks/voice/webhook``.

    The Alexa endpoint checks each request as Amazon requires (certificate chain from
    Amazon's S3 URL, ``Signature-256`` over the body, timestamp within 150 s, our skill id)
    and answers 400 otherwise. The webhook is for other assistants and phone IVRs: signed
    like the signed REST channel (``X-CivicDesk-Signature`` over the raw body), with the
    recognised text in ``message``. Both answer in SSML: short parts, buttons as a spoken
    numbered choice, references spelled out. The citizen's words go to the bot as text,
    and the bot matches "one", "the first" or the option's words itself.

    Args:
        secret: The webhook's HMAC secret; the webhook is off without it.
        alexa_verifier: Checks Alexa requests; the Alexa endpoint is off without it.
        address_client: Reads the Alexa device's address when the citizen allows it.
        hotline: The city's phone line; a reply that names it says so (``hotline``) so an
            IVR can offer to transfer the call.
        budget_seconds: The longest part of a reply, in estimated seconds of speech.
        options: What every adapter takes (:class:`channels._base.ChannelOptions`).
    """

    def __init__(
        self,
        *,
        secret: str | None = None,
        alexa_verifier: AlexaRequestVerifier | None = None,
        address_client: DeviceAddressClient | None = None,
        hotline: str | None = None,
        budget_seconds: float = DEFAULT_BUDGET_SECONDS,
        **options: Unpack[ChannelOptions],
    ) -> None:
        super().__init__(**options)
        if not secret and alexa_verifier is None:
            raise ValueError("voice needs a webhook secret, an Alexa skill id, or both")
        self._secret = secret
        self._alexa = alexa_verifier
        self._addresses = address_client or DeviceAddressClient()
        self._hotline = hotline
        self._budget = budget_seconds
        self.memory = VoiceMemory(self.state)

    @classmethod
    def name(cls) -> str:
        return "voice"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> VoiceInput:
        secret = cls.setting(credentials, "secret")
        skill_id = cls.setting(credentials, "alexa_skill_id")
        if not secret and not skill_id:
            raise ValueError(
                "voice: set `secret` (CIVICDESK_VOICE_SECRET) for the voice webhook,"
                " `alexa_skill_id` (CIVICDESK_VOICE_ALEXA_SKILL_ID) for Alexa, or both"
            )
        verifier = None
        if skill_id:
            fetch_base = cls.setting(credentials, "alexa_cert_fetch_base")
            ca_file = cls.setting(credentials, "alexa_ca_file")
            fetcher: CertChainFetcher | None = (
                LoopbackCertChainFetcher(fetch_base) if fetch_base else None
            )
            roots = x509.load_pem_x509_certificates(Path(ca_file).read_bytes()) if ca_file else None
            verifier = AlexaRequestVerifier(skill_id, fetcher=fetcher, trust_roots=roots)
        return cls(
            secret=secret,
            alexa_verifier=verifier,
            hotline=cls.setting(credentials, "hotline"),
            **cls.common_options(credentials),
        )

    def get_output_channel(self) -> OutputChannel | None:
        return VoiceInboxOutput(self.memory)

    async def authenticate(self, request: Request) -> None:
        """The webhook's HMAC signature, or Amazon's checks on the Alexa endpoint."""
        if request.path.rstrip("/").endswith("/alexa"):
            await self._authenticate_alexa(request, self._envelope(request))
            return
        if not self._secret:
            raise ChannelRequestError(404, "not_configured", "the voice webhook is not set up")
        try:
            verify(
                self._secret,
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
                request.body or b"",
            )
        except SignatureError as error:
            logger.warning("voice: webhook request refused (%s)", error.code)
            raise ChannelRequestError(401, error.code, error.description) from error

    async def _authenticate_alexa(self, request: Request, envelope: AlexaEnvelope) -> None:
        if self._alexa is None:
            raise ChannelRequestError(404, "not_configured", "the Alexa endpoint is not set up")
        headers = {
            CERT_URL_HEADER: request.headers.get(CERT_URL_HEADER) or "",
            ALEXA_SIGNATURE_HEADER: request.headers.get(ALEXA_SIGNATURE_HEADER) or "",
        }
        try:
            await self._alexa.verify(headers, request.body or b"", envelope)
        except AlexaRequestRefused as error:
            logger.warning("voice: Alexa request refused (%s)", error.code)
            # Amazon asks for 400 when a request fails its checks.
            raise ChannelRequestError(400, error.code, error.description) from error

    @staticmethod
    def _envelope(request: Request) -> AlexaEnvelope:
        try:
            return AlexaEnvelope.parse(parse_json_object(request.body or b""))
        except (ValueError, RecursionError) as error:
            # RecursionError: JSON nested deeper than Python's parser goes.
            raise ChannelRequestError(400, "invalid_request", "not an Alexa request") from error

    # --- routes -------------------------------------------------------------------------

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = Blueprint(f"civicdesk_{self.name()}_{id(self)}", __name__)

        @blueprint.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return json_response(
                {"status": "ok", "webhook": bool(self._secret), "alexa": self._alexa is not None}
            )

        @blueprint.route("/webhook", methods=["POST"], ctx_max_body_bytes=MAX_BODY_BYTES)
        async def webhook(request: Request) -> HTTPResponse:
            try:
                if len(request.body or b"") > MAX_BODY_BYTES:
                    raise ChannelRequestError(413, "body_too_large", "body is too large")
                await self.authenticate(request)
                turn = self._webhook_turn(request)
            except ChannelRequestError as error:
                return error.response()
            if turn is None:  # the call ended: nothing to say, nothing to hand over
                return json_response(VoiceReply("", "", "", end_session=True).webhook_body())
            reply, duplicate = await self._answer_once(turn, on_new_message)
            if reply is None:
                return json_error(503, "unavailable", "the assistant failed; retry later")
            headers = {"X-CivicDesk-Duplicate": "true"} if duplicate else None
            return json_response(reply, headers=headers)

        @blueprint.route("/alexa", methods=["POST"], ctx_max_body_bytes=MAX_BODY_BYTES)
        async def alexa(request: Request) -> HTTPResponse:
            try:
                if len(request.body or b"") > MAX_BODY_BYTES:
                    raise ChannelRequestError(413, "body_too_large", "body is too large")
                envelope = self._envelope(request)
                await self._authenticate_alexa(request, envelope)
            except ChannelRequestError as error:
                return error.response()
            turn = self._alexa_turn(envelope)
            if turn is None:
                # SessionEndedRequest and the like: Alexa wants no speech back.
                return json_response({"version": "1.0", "response": {}})
            reply, _ = await self._answer_once(turn, on_new_message)
            if reply is None:
                # Alexa does not retry; a 5xx would only make it say the skill failed.
                failed = self._adapter_reply("voice_unavailable", turn.language)
                return json_response(failed.alexa_body())
            return json_response(reply)

        return blueprint

    def _webhook_turn(self, request: Request) -> VoiceTurn | None:
        data = parse_json_object(request.body or b"")
        sender = data.get("sender")
        delivery = request.headers.get(MESSAGE_ID_HEADER) or data.get("message_id")
        event = data.get("event", "message")
        if not isinstance(sender, str) or not 0 < len(sender) <= MAX_ID_CHARS:
            raise ChannelRequestError(400, "invalid_sender", "sender must be a short string")
        if not isinstance(delivery, str) or not 0 < len(delivery) <= MAX_ID_CHARS:
            raise ChannelRequestError(
                400, "invalid_message_id", "message_id (body or header) must be a short string"
            )
        if event not in ("start", "message", "end"):
            raise ChannelRequestError(400, "invalid_event", "event must be start, message or end")
        language = data.get("language")
        if language is not None and not (isinstance(language, str) and len(language) <= 35):
            raise ChannelRequestError(400, "invalid_language", "language must be a BCP 47 tag")
        address = data.get("address")
        if address is not None and not (
            isinstance(address, str) and 0 < len(address.strip()) <= MAX_ADDRESS_CHARS
        ):
            raise ChannelRequestError(
                400, "invalid_address", f"address must be 1 to {MAX_ADDRESS_CHARS} characters"
            )
        location = None
        if data.get("location") is not None:
            raw = data["location"]
            if not isinstance(raw, dict):
                raise ChannelRequestError(400, "invalid_location", "location must be an object")
            try:
                location = Location.parse(raw.get("latitude"), raw.get("longitude"))
            except InvalidLocation as error:
                raise ChannelRequestError(400, "invalid_location", str(error)) from error
        text = data.get("message")
        if event == "end":
            return None
        if event == "start" and text is None:
            text = "hello"
        elif text is None and location is not None:
            text = LOCATION_INTENT_TEXT
        if not isinstance(text, str) or not 0 < len(text.strip()) <= MAX_MESSAGE_CHARS:
            raise ChannelRequestError(
                400, "invalid_message", f"message must be 1 to {MAX_MESSAGE_CHARS} characters"
            )
        granted = address.strip() if isinstance(address, str) else None

        async def address_of_caller() -> str | None:
            return granted

        return VoiceTurn(
            sender=sender,
            delivery=f"webhook:{delivery}",
            platform="webhook",
            text=text.strip(),
            language=language if isinstance(language, str) else None,
            location=location,
            address=address_of_caller,
        )

    def _alexa_turn(self, envelope: AlexaEnvelope) -> VoiceTurn | None:
        text: str | None
        if envelope.request_type == "LaunchRequest":
            text = "hello"
        elif envelope.request_type == "IntentRequest":
            intent = envelope.intent or ""
            if intent in STOP_INTENTS:
                text = "<stop>"
            elif intent == "AMAZON.RepeatIntent":
                text = "repeat"
            elif intent in CONTINUE_INTENTS:
                text = "continue"
            elif intent in BUILT_IN_WORDS:
                text = BUILT_IN_WORDS[intent]
            else:
                # AMAZON.FallbackIntent, or the catch-all intent with nothing in its slot.
                text = envelope.slot_text
        else:
            return None

        async def device_address() -> str | None:
            return await self._addresses.address(envelope)

        return VoiceTurn(
            sender=sender_for_alexa(envelope.user_id),
            delivery=f"alexa:{envelope.request_id}",
            platform="alexa",
            text=text,
            language=envelope.locale,
            address=device_address,
        )

    # --- answering ----------------------------------------------------------------------

    async def _answer_once(
        self, turn: VoiceTurn, on_new_message: OnNewMessage
    ) -> tuple[dict[str, Any] | None, bool]:
        """The platform's response body for ``turn``, handled at most once per delivery.

        A redelivery gets the answer the first delivery got (``True`` as the second value);
        ``None`` when the turn failed (the claim is released, so a retry is processed).
        """
        platform_body = (
            VoiceReply.alexa_body if turn.platform == "alexa" else VoiceReply.webhook_body
        )
        if not await self.claim_delivery(turn.delivery):
            logger.info("voice: redelivery answered from the first answer")
            kept = await self.memory.kept_reply(turn.delivery)
            if kept is None:
                kept = platform_body(self._adapter_reply("voice_still_working", turn.language))
            return kept, True
        try:
            reply = await self._answer(turn, on_new_message)
        except Exception:
            await self.release_delivery(turn.delivery)
            logger.exception("voice: handling a request failed")
            return None, False
        body = platform_body(reply)
        await self.memory.keep_reply(turn.delivery, body)
        return body, False

    async def _answer(self, turn: VoiceTurn, on_new_message: OnNewMessage) -> VoiceReply:
        if turn.text == "<stop>":
            return self._adapter_reply("voice_goodbye", turn.language, end_session=True)
        last = await self.memory.last_turn(turn.sender)
        words = heard(turn.text or "")
        if turn.text is None:
            return self._not_heard(turn, last)
        text = turn.text
        about_address = False
        if last is not None:
            speech, heard_parts = last
            if words in CONTINUE_WORDS and heard_parts < len(speech.parts):
                await self.memory.remember_turn(turn.sender, speech, heard_parts + 1)
                return self._reply(speech, heard_parts)
            if words in REPEAT_WORDS:
                return self._reply(speech, max(heard_parts - 1, 0))
            if turn.address is not None and picks_location(words, speech.choices):
                try:
                    address = await turn.address()
                except AddressNotGranted:
                    reply = self._adapter_reply("voice_address_permission", turn.language)
                    reply.ask_address_permission = True
                    return reply
                if address is None:
                    return self._adapter_reply("voice_say_address", turn.language)
                text, about_address = address, True
        elif words in REPEAT_WORDS or words in CONTINUE_WORDS:
            return self._not_heard(turn, None)
        news = await self.memory.take_news(turn.sender)
        messages: list[dict[str, Any]] = []
        if news:
            messages.append({"text": self.reply_text("voice_news", turn.language)})
            # Only their words: numbers for their buttons would clash with this turn's.
            messages.extend({"text": item.get("text", "")} for item in news)
        said, responses = await self._turn(turn, text, on_new_message, about_address)
        messages.extend(said)
        if self._hotline and responses & HANDOFF_RESPONSES and not self._names_hotline(said):
            line = self.reply_text("voice_hotline", turn.language).format(hotline=self._hotline)
            messages.append({"text": line})
        speech = speak_turn(
            messages, phrases=self._phrases(turn.language), budget_seconds=self._budget
        )
        await self.memory.remember_turn(turn.sender, speech)
        return self._reply(speech, 0)

    async def _turn(
        self, turn: VoiceTurn, text: str, on_new_message: OnNewMessage, about_address: bool
    ) -> tuple[list[dict[str, Any]], set[str]]:
        """The bot's messages of one turn, and the names of the responses they came from."""
        collector = _TurnCollector()
        extra: dict[str, Any] = {"voice_platform": turn.platform, "message_id": turn.delivery}
        if about_address:
            extra["voice_device_address"] = True
        message = UserMessage(
            text,
            collector,
            turn.sender,
            input_channel=self.name(),
            message_id=turn.delivery,
            metadata=message_metadata(self.name(), location=turn.location, extra=extra),
        )
        await on_new_message(message)
        return [dict(m) for m in collector.messages], collector.responses

    def _names_hotline(self, messages: list[dict[str, Any]]) -> bool:
        digits = re.sub(r"\D", "", self._hotline or "")
        return bool(digits) and any(
            digits in re.sub(r"\D", "", str(m.get("text") or "")) for m in messages
        )

    def _reply(self, speech: Speech, part: int) -> VoiceReply:
        ssml = speech.parts[part] if part < len(speech.parts) else speech.parts[-1]
        hotline = None
        if self._hotline and re.sub(r"\D", "", self._hotline) in re.sub(r"\D", "", speech.text):
            hotline = self._hotline
        return VoiceReply(
            ssml=ssml,
            reprompt=speech.reprompt,
            text=speech.text,
            choices=speech.choices,
            hotline=hotline,
        )

    def _adapter_reply(
        self, key: str, language: str | None, *, end_session: bool = False
    ) -> VoiceReply:
        said = ssml_of(self.reply_text(key, language))
        return VoiceReply(
            ssml=said, reprompt=said, text=self.reply_text(key, language), end_session=end_session
        )

    def _not_heard(self, turn: VoiceTurn, last: tuple[Speech, int] | None) -> VoiceReply:
        """ "Sorry, I did not catch that", then the question again (the last reprompt)."""
        sorry = self.reply_text("voice_not_heard", turn.language)
        if last is None:
            return self._adapter_reply("voice_not_heard", turn.language)
        speech, _ = last
        ssml = f"{ssml_of(sorry)} {speech.reprompt}".strip()
        return VoiceReply(ssml, speech.reprompt, sorry, choices=speech.choices)

    def _phrases(self, language: str | None) -> ChoicePhrases:
        return ChoicePhrases(
            first=self.reply_text("voice_choice_first", language),
            middle=self.reply_text("voice_choice_middle", language),
            last=self.reply_text("voice_choice_last", language),
            location=self.reply_text("voice_location_option", language),
            more=self.reply_text("voice_more", language),
            # Number words are English; other languages hear digits, read in their language.
            spell_numbers=(supported_language(language) or self.language or "en") == "en",
        )


class _TurnCollector(CollectingOutputChannel):  # type: ignore[misc]
    """Rasa's collecting channel that also notes which responses the bot used
    (``utter_action``, which Rasa puts on each message it sends)."""

    def __init__(self) -> None:
        super().__init__()
        self.responses: set[str] = set()

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        name = message.get("utter_action")
        if isinstance(name, str):
            self.responses.add(name)
        await super().send_response(recipient_id, message)
