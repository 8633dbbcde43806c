"""Signed REST: Rasa's REST channel for trusted integrators, every request HMAC-signed.

Name it in ``credentials.yml`` as ``channels.signed_rest.SignedRestInput``.
"""

from channels.signed_rest._channel import SignedCallbackOutput, SignedRestInput
from channels.signed_rest._signature import (
    MESSAGE_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    sign,
    verify,
)

__all__ = [
    "MESSAGE_ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "SignatureError",
    "SignedCallbackOutput",
    "SignedRestInput",
    "sign",
    "verify",
]
