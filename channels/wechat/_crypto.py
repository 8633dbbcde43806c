"""WeChat Official Account signatures and safe-mode (AES) message encryption.

Signature: ``sha1("".join(sorted([token, timestamp, nonce, *extra])))`` in hex.
Safe mode: ``base64(AES-256-CBC(key, iv=key[:16], pad32(random16 + len32be(msg) + msg +
app_id)))`` where ``key = base64(EncodingAESKey + "=")`` and ``pad32`` is PKCS#7 to 32 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_BLOCK = 32


class WeChatCryptoError(ValueError):
    """A message that cannot be decrypted or whose app id is not ours."""


def signature(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    parts = sorted([token, timestamp, nonce, *extra])
    return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()  # noqa: S324 (WeChat's scheme)


def signature_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


class WeChatCrypto:
    """Encrypts and decrypts safe-mode payloads for one Official Account."""

    def __init__(self, encoding_aes_key: str, app_id: str) -> None:
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValueError("EncodingAESKey must be 43 base64 characters") from error
        if len(key) != 32:
            raise ValueError("EncodingAESKey must be 43 base64 characters")
        self._key = key
        self._app_id = app_id.encode("utf-8")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, plaintext: str) -> str:
        message = plaintext.encode("utf-8")
        raw = os.urandom(16) + struct.pack(">I", len(message)) + message + self._app_id
        pad = _BLOCK - len(raw) % _BLOCK
        raw += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypted: str) -> str:
        """The plaintext XML.

        Raises:
            WeChatCryptoError: not base64, bad padding, bad length, or another app's message.
        """
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as error:
            raise WeChatCryptoError("not base64") from error
        if not data or len(data) % 16:
            raise WeChatCryptoError("bad ciphertext length")
        decryptor = self._cipher().decryptor()
        raw = decryptor.update(data) + decryptor.finalize()
        pad = raw[-1]
        if not 1 <= pad <= _BLOCK or raw[-pad:] != bytes([pad]) * pad:
            raise WeChatCryptoError("bad padding")
        raw = raw[:-pad]
        if len(raw) < 20:
            raise WeChatCryptoError("too short")
        (length,) = struct.unpack(">I", raw[16:20])
        message, app_id = raw[20 : 20 + length], raw[20 + length :]
        if len(message) != length or not hmac.compare_digest(app_id, self._app_id):
            raise WeChatCryptoError("message is not for this account")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError as error:
            raise WeChatCryptoError("not UTF-8") from error
