"""Alipay's RSA2 signatures (SHA256withRSA, PKCS#1 v1.5), over the platform's canonical string.

The canonical string of a set of parameters is every ``key=value`` pair with a non-empty value,
sorted by key and joined with ``&``, leaving out ``sign`` (and, in the rule Alipay applies to
its general notifications and to the requests we send, nothing else). Values are the decoded
values, not their URL encoding, and the string is turned into bytes in the request's
``charset`` (GBK unless the request says otherwise).

Which parameters a life-account gateway message signs is the one point where Alipay's own
documents differ: the life-account (服务窗) developer guide and the SDKs' ``rsaCheckV2`` keep
``sign_type`` in the string, the generic asynchronous-notification rule (``rsaCheckV1``)
drops it. :func:`verify_params` accepts a valid signature over either string; what it proves
is the same (every other parameter, ``biz_content`` included, came from the key's holder),
and only ``RSA2`` is accepted as ``sign_type`` anyway.

Keys are what the Alipay console hands out: PEM, or the bare base64 body without the
``-----BEGIN`` lines (public keys as X.509 SubjectPublicKeyInfo, private keys as PKCS#8 or
PKCS#1).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SIGN_TYPE = "RSA2"
DEFAULT_CHARSET = "GBK"
# Alipay names charsets loosely; these are the ones its gateway uses and Python can encode.
_CHARSETS = {"gbk": "gbk", "gb2312": "gbk", "gb18030": "gb18030", "utf-8": "utf-8", "utf8": "utf-8"}


class AlipaySignatureError(ValueError):
    """A key that cannot be loaded, or a charset the adapter cannot encode."""


def python_charset(charset: str | None) -> str:
    """The Python codec for an Alipay ``charset`` parameter (GBK when none is given).

    Raises:
        AlipaySignatureError: a charset Alipay does not use.
    """
    codec = _CHARSETS.get((charset or DEFAULT_CHARSET).strip().lower())
    if codec is None:
        raise AlipaySignatureError(f"unsupported charset {charset!r}")
    return codec


def canonical_string(params: Mapping[str, str], *, exclude: tuple[str, ...] = ("sign",)) -> str:
    """``k1=v1&k2=v2...``: the non-empty parameters but ``exclude``, sorted by key."""
    return "&".join(
        f"{key}={params[key]}" for key in sorted(params) if key not in exclude and params[key]
    )


def _pem(key: str, kind: str) -> bytes:
    text = key.strip()
    if "-----BEGIN" in text:
        return text.encode("ascii")
    body = "".join(text.split())
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----\n".encode("ascii")


def load_public_key(key: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM or the console's bare base64.

    Raises:
        AlipaySignatureError: not an RSA public key.
    """
    try:
        loaded = serialization.load_pem_public_key(_pem(key, "PUBLIC KEY"))
    except (ValueError, UnicodeEncodeError) as error:
        raise AlipaySignatureError("not an RSA public key (PEM or base64 X.509)") from error
    if not isinstance(loaded, rsa.RSAPublicKey):
        raise AlipaySignatureError("the public key is not an RSA key")
    return loaded


def load_private_key(key: str) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM or the console's bare base64 (PKCS#8, else PKCS#1).

    Raises:
        AlipaySignatureError: not an unencrypted RSA private key.
    """
    loaded = None
    for kind in ("PRIVATE KEY", "RSA PRIVATE KEY"):
        try:
            loaded = serialization.load_pem_private_key(_pem(key, kind), password=None)
            break
        except (ValueError, TypeError, UnicodeEncodeError):
            continue
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise AlipaySignatureError("not an unencrypted RSA private key (PEM or base64)")
    return loaded


def public_key_base64(key: rsa.RSAPublicKey) -> str:
    """The key as the Alipay console shows it: base64 of the DER, one line."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def sign(content: str, key: rsa.RSAPrivateKey, charset: str = "utf-8") -> str:
    """Base64 SHA256withRSA signature of ``content`` encoded in ``charset``."""
    signature = key.sign(
        content.encode(python_charset(charset)), padding.PKCS1v15(), hashes.SHA256()
    )
    return base64.b64encode(signature).decode("ascii")


def verify(content: str, signature: str, key: rsa.RSAPublicKey, charset: str = "utf-8") -> bool:
    """Whether ``signature`` (base64) is ``key``'s SHA256withRSA signature of ``content``."""
    try:
        raw = base64.b64decode(signature, validate=True)
        data = content.encode(python_charset(charset))
        key.verify(raw, data, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError, UnicodeEncodeError):
        return False
    return True


def sign_params(params: Mapping[str, str], key: rsa.RSAPrivateKey) -> str:
    """The ``sign`` of a request we send: over every parameter but ``sign``."""
    return sign(canonical_string(params), key, params.get("charset") or DEFAULT_CHARSET)


def verify_params(params: Mapping[str, str], key: rsa.RSAPublicKey) -> bool:
    """Whether a gateway request's ``sign`` is Alipay's over its parameters.

    Either canonical string is accepted (with or without ``sign_type``, see the module
    docstring); ``sign_type`` itself must be ``RSA2``, checked by the caller.
    """
    signature = params.get("sign") or ""
    if not signature:
        return False
    charset = params.get("charset") or DEFAULT_CHARSET
    return any(
        verify(canonical_string(params, exclude=exclude), signature, key, charset)
        for exclude in (("sign",), ("sign", "sign_type"))
    )
