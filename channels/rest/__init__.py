"""Plain REST for local development and tests: Rasa's REST channel, with its input checked.

Name it in a development ``credentials.yml`` as ``channels.rest.RestInput`` (``make run`` and
the end-to-end tests add it to their copy). It trusts the ``sender`` field, so a production
credentials file leaves it out and lists the signed channels.
"""

from channels.rest._channel import MAX_BODY_BYTES, MAX_METADATA_DEPTH, MAX_SENDER_CHARS, RestInput

__all__ = ["MAX_BODY_BYTES", "MAX_METADATA_DEPTH", "MAX_SENDER_CHARS", "RestInput"]
