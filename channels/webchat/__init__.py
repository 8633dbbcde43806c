"""Browser chat page with a server-signed session cookie, photo upload and location sharing.

Name it in ``credentials.yml`` as ``channels.webchat.WebChatInput``; the page is served at
``/webhooks/webchat/`` on Rasa's server.
"""

from channels.webchat._channel import COOKIE_NAME, CSRF_HEADER, WebChatInbox, WebChatInput
from channels.webchat._session import SessionSigner

__all__ = ["COOKIE_NAME", "CSRF_HEADER", "SessionSigner", "WebChatInbox", "WebChatInput"]
