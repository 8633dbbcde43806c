"""Channel adapters: one Rasa InputChannel sub-package per messaging platform.

Each is named in ``credentials.yml`` by module path. The walking skeleton uses Rasa's stock
REST channel only; Telegram, WeChat, the web chat page and signed REST arrive here next.
"""
