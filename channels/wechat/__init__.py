"""WeChat Official Account adapter (signature, safe-mode AES, 5-second reply rule).

Name it in ``credentials.yml`` as ``channels.wechat.WeChatInput``.
"""

from channels.wechat._channel import WeChatInput
from channels.wechat._client import WeChatApiClient, WeChatApiError
from channels.wechat._crypto import WeChatCrypto, WeChatCryptoError, signature
from channels.wechat._output import OfferedButtons, WeChatOutput
from channels.wechat._xml import InvalidWeChatXml, parse_message, text_reply

__all__ = [
    "InvalidWeChatXml",
    "OfferedButtons",
    "WeChatApiClient",
    "WeChatApiError",
    "WeChatCrypto",
    "WeChatCryptoError",
    "WeChatInput",
    "WeChatOutput",
    "parse_message",
    "signature",
    "text_reply",
]
