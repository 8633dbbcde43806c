"""Voice assistants: an Alexa skill endpoint and a signed JSON webhook (other assistants,
phone IVRs), answering in SSML with buttons as a spoken numbered choice.

Name it in ``credentials.yml`` as ``channels.voice.VoiceInput``; setting it up:
``docs/channels.md``.
"""

from channels.voice._alexa import (
    AlexaEnvelope,
    AlexaRequestRefused,
    AlexaRequestVerifier,
    CertChainFetcher,
    DeviceAddressClient,
    HttpsCertChainFetcher,
    LoopbackCertChainFetcher,
    check_cert_url,
)
from channels.voice._channel import VoiceInput, picks_location, sender_for_alexa, spoken_position
from channels.voice._output import VoiceInboxOutput
from channels.voice._speech import ChoicePhrases, Speech, SpokenChoice, speak_document, speak_turn

__all__ = [
    "AlexaEnvelope",
    "AlexaRequestRefused",
    "AlexaRequestVerifier",
    "CertChainFetcher",
    "ChoicePhrases",
    "DeviceAddressClient",
    "HttpsCertChainFetcher",
    "LoopbackCertChainFetcher",
    "Speech",
    "SpokenChoice",
    "VoiceInboxOutput",
    "VoiceInput",
    "check_cert_url",
    "picks_location",
    "sender_for_alexa",
    "speak_document",
    "speak_turn",
    "spoken_position",
]
