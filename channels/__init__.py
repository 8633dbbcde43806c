"""Channel adapters: one Rasa InputChannel sub-package per messaging platform.

Each is named in ``credentials.yml`` by module path and built on ``channels._base``:

- ``channels.signed_rest.SignedRestInput``: trusted integrators, HMAC-signed requests.
- ``channels.telegram.TelegramInput``: Telegram via python-telegram-bot (webhook or polling).
- ``channels.wechat.WeChatInput``: WeChat Official Account (signature, safe-mode AES).
- ``channels.alipay.AlipayInput``: Alipay life account (RSA2-signed gateway, signed answers).
- ``channels.webchat.WebChatInput``: the accessible browser chat page.
- ``channels.voice.VoiceInput``: voice assistants (an Alexa skill; a signed webhook for IVRs).

How to configure each and how to add one: ``docs/channels.md``.
"""
