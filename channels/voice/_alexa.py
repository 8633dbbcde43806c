"""Alexa's side of the voice channel: checking that a request comes from Alexa, reading it,
asking for the device's address, and the response envelope.

Amazon requires a skill hosted as a web service to check every request
(https://developer.amazon.com/docs/custom-skills/host-a-custom-skill-as-a-web-service.html):

1. the ``SignatureCertChainUrl`` is ``https://s3.amazonaws.com/echo.api/...`` (port 443);
2. the certificate chain found there is valid today, leads to a trusted root, and its
   signing certificate names ``echo-api.amazon.com``;
3. the ``Signature-256`` header is that certificate's RSA/SHA-256 signature of the raw body;
4. the request's timestamp is within 150 seconds of now;

and, for our skill, that the application id is ours. A failed check is answered 400.

Amazon's ask-sdk-webservice-support package does 1 to 4, but its certificate check goes
through ``certvalidator`` and ``oscrypto`` 1.3.0, whose last release cannot read OpenSSL
3.0.10's version string or later ones (it stops at import with "Error detecting the version
of libcrypto"), so it does not load on current Debian. The same steps are done here with
``cryptography``'s X.509 path validation (``cryptography.x509.verification``), which is
maintained and already a dependency.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import logging
import posixpath
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

logger = logging.getLogger(__name__)

CERT_URL_HEADER = "SignatureCertChainUrl"
SIGNATURE_HEADER = "Signature-256"
CERT_URL_HOST = "s3.amazonaws.com"
CERT_URL_PATH_PREFIX = "/echo.api/"
SIGNING_NAME = "echo-api.amazon.com"
TIMESTAMP_TOLERANCE_SECONDS = 150
MAX_CHAIN_BYTES = 64 * 1024
ADDRESS_PERMISSION = "read::alexa:device:all:address"


class AlexaRequestRefused(Exception):
    """A request that is not (provably) from Alexa for this skill; ``code`` says why."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


class CertChainFetcher(Protocol):
    """Gets the PEM certificate chain behind a (checked) ``SignatureCertChainUrl``."""

    async def fetch(self, url: str) -> bytes: ...


class HttpsCertChainFetcher:
    """Downloads the chain from Amazon's S3 URL, without following redirects."""

    def __init__(self, *, timeout_seconds: float = 5.0) -> None:
        self._timeout = timeout_seconds

    async def fetch(self, url: str) -> bytes:
        return await _download_chain(url, self._timeout)


class LoopbackCertChainFetcher:
    """For tests only: fetches a checked Amazon URL's path from a server on this machine.

    The URL check still runs on the Amazon URL the request names; only where the bytes come
    from changes. A base that is not a loopback address is refused, so this cannot be
    pointed at another host by mistake.
    """

    def __init__(self, base_url: str, *, timeout_seconds: float = 5.0) -> None:
        host = urlsplit(base_url).hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError("alexa_cert_fetch_base must be a loopback URL (tests only)")
        self._base = base_url.rstrip("/")
        self._timeout = timeout_seconds

    async def fetch(self, url: str) -> bytes:
        return await _download_chain(self._base + urlsplit(url).path, self._timeout)


async def _download_chain(url: str, timeout: float) -> bytes:
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            response = await client.get(url)
    except httpx.HTTPError as error:
        raise AlexaRequestRefused(
            "certificate_unavailable", "certificate chain unreachable"
        ) from error
    if response.status_code != 200 or len(response.content) > MAX_CHAIN_BYTES:
        raise AlexaRequestRefused("certificate_unavailable", "certificate chain not served")
    return response.content


def check_cert_url(url: str) -> None:
    """Refuse a ``SignatureCertChainUrl`` that is not Amazon's (Amazon's rules, step 1)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise AlexaRequestRefused(
            "invalid_certificate_url", "certificate URL unreadable"
        ) from error
    path = posixpath.normpath(parts.path) if parts.path else ""
    if (
        parts.scheme.lower() != "https"
        or (parts.hostname or "").lower() != CERT_URL_HOST
        or port not in (None, 443)
        or not (path + "/").startswith(CERT_URL_PATH_PREFIX)
        or path + "/" == CERT_URL_PATH_PREFIX
    ):
        raise AlexaRequestRefused("invalid_certificate_url", "certificate URL is not Amazon's")


def system_trust_roots() -> list[x509.Certificate]:
    """The machine's trusted root certificates (OpenSSL's default CA file)."""
    cafile = ssl.get_default_verify_paths().cafile
    if cafile is None or not Path(cafile).is_file():
        import certifi  # the bundle httpx already relies on, where the system has none

        cafile = certifi.where()
    return x509.load_pem_x509_certificates(Path(cafile).read_bytes())


class AlexaRequestVerifier:
    """Amazon's checks of a skill request (see the module docstring).

    Args:
        skill_id: Our skill's application id (``amzn1.ask.skill...``).
        fetcher: Where certificate chains come from (:class:`HttpsCertChainFetcher`).
        trust_roots: Roots a chain must lead to; the machine's by default.
        clock: Seconds since the epoch, for the timestamp and the certificates' dates.
    """

    def __init__(
        self,
        skill_id: str,
        *,
        fetcher: CertChainFetcher | None = None,
        trust_roots: list[x509.Certificate] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not skill_id:
            raise ValueError("the Alexa endpoint needs the skill's application id")
        self.skill_id = skill_id
        self._fetcher = fetcher or HttpsCertChainFetcher()
        self._store = Store(trust_roots if trust_roots is not None else system_trust_roots())
        self._clock = clock
        # Chains are downloaded once per URL (Amazon's advice); they are validated each time,
        # so a chain that expires is refused from then on.
        self._chains: dict[str, list[x509.Certificate]] = {}
        self._lock = asyncio.Lock()

    async def verify(
        self, headers: Mapping[str, str], body: bytes, envelope: AlexaEnvelope
    ) -> None:
        """Raise :class:`AlexaRequestRefused` unless ``body`` is Alexa's, for this skill, now."""
        self.check_timestamp(envelope.timestamp)
        if envelope.application_id != self.skill_id:
            raise AlexaRequestRefused("wrong_skill", "request is for another skill")
        url = headers.get(CERT_URL_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        if not url or not signature:
            raise AlexaRequestRefused("missing_signature", "signature headers are required")
        check_cert_url(url)
        leaf = await self._signing_certificate(url)
        try:
            decoded = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError) as error:
            raise AlexaRequestRefused("invalid_signature", "signature is not base64") from error
        key = leaf.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise AlexaRequestRefused("invalid_certificate", "signing key is not RSA")
        try:
            key.verify(decoded, body, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as error:
            raise AlexaRequestRefused("invalid_signature", "signature does not match") from error

    def check_timestamp(self, timestamp: str) -> None:
        """Refuse a request stamped more than 150 seconds from now (a replay)."""
        try:
            stamped = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError as error:
            raise AlexaRequestRefused("invalid_timestamp", "timestamp is not ISO 8601") from error
        if stamped.tzinfo is None:
            stamped = stamped.replace(tzinfo=timezone.utc)
        if abs(self._clock() - stamped.timestamp()) > TIMESTAMP_TOLERANCE_SECONDS:
            raise AlexaRequestRefused("expired_timestamp", "timestamp is outside 150 seconds")

    async def _signing_certificate(self, url: str) -> x509.Certificate:
        async with self._lock:
            chain = self._chains.get(url)
            if chain is None:
                try:
                    chain = x509.load_pem_x509_certificates(await self._fetcher.fetch(url))
                except ValueError as error:
                    raise AlexaRequestRefused(
                        "invalid_certificate", "certificate chain is not PEM"
                    ) from error
                self._chains[url] = chain
        leaf, *intermediates = chain
        now = datetime.fromtimestamp(self._clock(), tz=timezone.utc)
        verifier = (
            PolicyBuilder()
            .store(self._store)
            .time(now)
            .build_server_verifier(x509.DNSName(SIGNING_NAME))
        )
        try:
            verifier.verify(leaf, intermediates)
        except VerificationError as error:
            # A chain that fails now may be fetched again next time (it may have been renewed).
            self._chains.pop(url, None)
            raise AlexaRequestRefused("invalid_certificate", "certificate chain refused") from error
        return leaf


@dataclass(frozen=True)
class AlexaEnvelope:
    """What the adapter reads from an Alexa request body."""

    request_type: str
    request_id: str
    timestamp: str
    locale: str | None
    application_id: str | None
    user_id: str
    intent: str | None
    slot_text: str | None
    device_id: str | None
    api_endpoint: str | None
    api_access_token: str | None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> AlexaEnvelope:
        """Read the fields the adapter uses; ``ValueError`` if the body is not Alexa's shape."""
        request = _object(data.get("request"))
        context = _object(data.get("context"))
        system = _object(context.get("System"))
        session = _object(data.get("session"))
        application = _object(system.get("application")) or _object(session.get("application"))
        user = _object(system.get("user")) or _object(session.get("user"))
        device = _object(system.get("device"))
        intent = _object(request.get("intent"))
        request_type = request.get("type")
        request_id = request.get("requestId")
        timestamp = request.get("timestamp")
        user_id = user.get("userId")
        for value in (request_type, request_id, timestamp, user_id):
            if not isinstance(value, str) or not value:
                raise ValueError("not an Alexa request")
        return cls(
            request_type=str(request_type),
            request_id=str(request_id),
            timestamp=str(timestamp),
            locale=_text(request.get("locale")),
            application_id=_text(application.get("applicationId")),
            user_id=str(user_id),
            intent=_text(intent.get("name")),
            slot_text=_slot_text(_object(intent.get("slots"))),
            device_id=_text(device.get("deviceId")),
            api_endpoint=_text(system.get("apiEndpoint")),
            api_access_token=_text(system.get("apiAccessToken")),
        )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _slot_text(slots: Mapping[str, Any]) -> str | None:
    """What the citizen said, from the skill's catch-all slot (the first slot with a value)."""
    for slot in slots.values():
        value = _object(slot).get("value")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


class AddressNotGranted(Exception):
    """The citizen has not allowed the skill to read this device's address."""


class DeviceAddressClient:
    """Alexa's device address API: ``GET {apiEndpoint}/v1/devices/{deviceId}/settings/address``."""

    def __init__(self, *, timeout_seconds: float = 4.0) -> None:
        self._timeout = timeout_seconds

    async def address(self, envelope: AlexaEnvelope) -> str | None:
        """The device's postal address as one line, or ``None`` when Alexa has none.

        Raises:
            AddressNotGranted: the permission is not given (Alexa answers 403).
        """
        if not (envelope.api_endpoint and envelope.device_id and envelope.api_access_token):
            raise AddressNotGranted
        url = (
            f"{envelope.api_endpoint.rstrip('/')}/v1/devices/{envelope.device_id}/settings/address"
        )
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(
                    url, headers={"Authorization": f"Bearer {envelope.api_access_token}"}
                )
        except httpx.HTTPError:
            logger.warning("voice: Alexa's address API unreachable")
            return None
        if response.status_code == 403:
            raise AddressNotGranted
        if response.status_code != 200:
            logger.info("voice: Alexa's address API answered %s", response.status_code)
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        return one_line_address(body if isinstance(body, dict) else {})


def one_line_address(fields: Mapping[str, Any]) -> str | None:
    """Alexa's address fields as the citizen would say them ("12 Jiefang Road, Nanjing")."""
    street = " ".join(
        str(fields[key]).strip()
        for key in ("addressLine1", "addressLine2", "addressLine3")
        if isinstance(fields.get(key), str) and str(fields[key]).strip()
    )
    rest = [
        str(fields[key]).strip()
        for key in ("city", "postalCode")
        if isinstance(fields.get(key), str) and str(fields[key]).strip()
    ]
    line = ", ".join(part for part in (street, *rest) if part)
    return line or None


def alexa_response(
    speech_ssml: str | None,
    *,
    reprompt_ssml: str | None = None,
    card_text: str | None = None,
    ask_address_permission: bool = False,
    end_session: bool = False,
) -> dict[str, Any]:
    """A response envelope; SSML given as whole ``<speak>`` documents."""
    response: dict[str, Any] = {"shouldEndSession": end_session}
    if speech_ssml is not None:
        response["outputSpeech"] = {"type": "SSML", "ssml": speech_ssml}
    if reprompt_ssml is not None and not end_session:
        response["reprompt"] = {"outputSpeech": {"type": "SSML", "ssml": reprompt_ssml}}
    if ask_address_permission:
        response["card"] = {"type": "AskForPermissionsConsent", "permissions": [ADDRESS_PERMISSION]}
    elif card_text:
        response["card"] = {"type": "Simple", "title": "CivicDesk", "content": card_text}
    return {"version": "1.0", "response": response}
