"""A stand-in for Alexa on 127.0.0.1: a certificate authority made at test time, the signing
certificate served where the adapter fetches it, signed skill requests, and the device
address API.

The adapter's URL check stays on: requests name Amazon's real
``https://s3.amazonaws.com/echo.api/...`` URL, and only the fetch is pointed at this server
(``LoopbackCertChainFetcher``). The chain leads to this CA, which the tests (and only they)
trust, so every signature check runs for real with keys nobody else has.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SKILL_ID = "amzn1.ask.skill.civicdesk-test"
CHAIN_PATH = "/echo.api/civicdesk-test.pem"
CERT_URL = f"https://s3.amazonaws.com{CHAIN_PATH}"
ACCESS_TOKEN = "alexa-api-token"
DEVICE_ID = "device-1"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _default_credentials() -> tuple[Authority, rsa.RSAPrivateKey, x509.Certificate]:
    # RSA keys take a while to make; one CA and signing certificate serve the whole run.
    authority = Authority.create()
    return (authority, *authority.signing_certificate())


@dataclass
class Authority:
    """A root CA and the certificates it signs."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(cls, name: str = "CivicDesk Test Root") -> Authority:
        key = _key()
        now = dt.datetime.now(dt.timezone.utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    def signing_certificate(
        self,
        *,
        dns_name: str = "echo-api.amazon.com",
        valid_days: tuple[int, int] = (-1, 10),
    ) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        """A leaf like Amazon's: SAN ``dns_name``, server auth, valid over ``valid_days``."""
        key = _key()
        now = dt.datetime.now(dt.timezone.utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(dns_name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=valid_days[0]))
            .not_valid_after(now + dt.timedelta(days=valid_days[1]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
            .sign(self.key, hashes.SHA256())
        )
        return key, certificate

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def pem_chain(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


@dataclass
class FakeAlexa:
    """The certificate host and the device address API, plus a signer of skill requests."""

    authority: Authority
    key: rsa.RSAPrivateKey
    chains: dict[str, bytes] = field(default_factory=dict)
    address: dict[str, Any] | None = field(
        default_factory=lambda: {
            "addressLine1": "12 Jiefang Road",
            "city": "Nanjing",
            "postalCode": "210000",
            "countryCode": "CN",
        }
    )
    address_granted: bool = True
    address_calls: int = 0
    chain_fetches: int = 0
    url: str = ""

    async def serve_chain(self, request: web.Request) -> web.Response:
        self.chain_fetches += 1
        chain = self.chains.get(request.path)
        if chain is None:
            return web.Response(status=404)
        return web.Response(body=chain, content_type="application/x-pem-file")

    async def serve_address(self, request: web.Request) -> web.Response:
        self.address_calls += 1
        if request.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return web.json_response({"type": "FORBIDDEN"}, status=403)
        if request.match_info["device"] != DEVICE_ID or not self.address_granted:
            return web.json_response({"type": "FORBIDDEN"}, status=403)
        if self.address is None:
            return web.Response(status=204)
        return web.json_response(self.address)

    def envelope(
        self,
        request: dict[str, Any],
        *,
        user_id: str = "amzn1.ask.account.citizen-1",
        skill_id: str = SKILL_ID,
        timestamp: dt.datetime | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        stamped = timestamp or dt.datetime.now(dt.timezone.utc)
        return {
            "version": "1.0",
            "session": {
                "new": False,
                "sessionId": "amzn1.echo-api.session.1",
                "application": {"applicationId": skill_id},
                "user": {"userId": user_id},
            },
            "context": {
                "System": {
                    "application": {"applicationId": skill_id},
                    "user": {"userId": user_id},
                    "device": {"deviceId": DEVICE_ID, "supportedInterfaces": {}},
                    "apiEndpoint": self.url,
                    "apiAccessToken": ACCESS_TOKEN,
                }
            },
            "request": {
                "requestId": f"amzn1.echo-api.request.{uuid.uuid4()}",
                "timestamp": stamped.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "locale": locale,
                **request,
            },
        }

    def said(self, words: str, **options: Any) -> dict[str, Any]:
        """An IntentRequest of the catch-all intent with what the citizen said."""
        return self.envelope(
            {
                "type": "IntentRequest",
                "intent": {
                    "name": "CivicDeskUtteranceIntent",
                    "confirmationStatus": "NONE",
                    "slots": {"utterance": {"name": "utterance", "value": words}},
                },
            },
            **options,
        )

    def intent(self, name: str, **options: Any) -> dict[str, Any]:
        return self.envelope({"type": "IntentRequest", "intent": {"name": name}}, **options)

    def signed(
        self,
        envelope: dict[str, Any],
        *,
        key: rsa.RSAPrivateKey | None = None,
        cert_url: str = CERT_URL,
    ) -> tuple[bytes, dict[str, str]]:
        """The body and the headers Alexa sends with it."""
        body = json.dumps(envelope).encode()
        signature = (key or self.key).sign(body, padding.PKCS1v15(), hashes.SHA256())
        return body, {
            "Content-Type": "application/json",
            "SignatureCertChainUrl": cert_url,
            "Signature-256": base64.b64encode(signature).decode(),
        }


@asynccontextmanager
async def fake_alexa() -> AsyncIterator[FakeAlexa]:
    """The test CA's signing certificate, served on a free 127.0.0.1 port."""
    authority, key, leaf = _default_credentials()
    fake = FakeAlexa(authority, key, chains={CHAIN_PATH: pem_chain(leaf)})
    app = web.Application()
    app.router.add_get("/echo.api/{name}", fake.serve_chain)
    app.router.add_get("/v1/devices/{device}/settings/address", fake.serve_address)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()
