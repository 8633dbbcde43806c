"""Telegram adapter on python-telegram-bot, living inside Rasa's Sanic app.

Name it in ``credentials.yml`` as ``channels.telegram.TelegramInput``.
"""

from channels.telegram._channel import SECRET_HEADER, TelegramInput
from channels.telegram._output import BlockedChats, CallbackPayloads, TelegramOutput

__all__ = ["SECRET_HEADER", "BlockedChats", "CallbackPayloads", "TelegramInput", "TelegramOutput"]
