"""Alipay life account (生活号) adapter: RSA2-signed gateway messages, signed answers and
customer-service messages.

Name it in ``credentials.yml`` as ``channels.alipay.AlipayInput``.
"""

from channels.alipay._channel import AlipayInput
from channels.alipay._client import AlipayApiClient, AlipayApiError
from channels.alipay._output import AlipayOutput, OfferedOptions
from channels.alipay._signature import (
    AlipaySignatureError,
    canonical_string,
    load_private_key,
    load_public_key,
    public_key_base64,
    sign,
    sign_params,
    verify,
    verify_params,
)
from channels.alipay._xml import InvalidAlipayXml, parse_biz_content, response_content

__all__ = [
    "AlipayApiClient",
    "AlipayApiError",
    "AlipayInput",
    "AlipayOutput",
    "AlipaySignatureError",
    "InvalidAlipayXml",
    "OfferedOptions",
    "canonical_string",
    "load_private_key",
    "load_public_key",
    "parse_biz_content",
    "public_key_base64",
    "response_content",
    "sign",
    "sign_params",
    "verify",
    "verify_params",
]
