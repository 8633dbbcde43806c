"""WeChat's XML messages: parsed with entities and DTDs refused (defusedxml), built safely."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ElementTree

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring


class InvalidWeChatXml(ValueError):
    """Not well-formed, has a DTD or entities, or is not a flat ``<xml>`` message."""


def parse_message(body: bytes | str) -> dict[str, str]:
    """The child elements of the root ``<xml>`` as a flat ``{tag: text}`` dict."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as error:
        raise InvalidWeChatXml("body is not a WeChat XML message") from error
    if root.tag != "xml":
        raise InvalidWeChatXml("root element must be <xml>")
    return {child.tag: (child.text or "").strip() for child in root}


def _build(fields: dict[str, str]) -> str:
    root = ElementTree.Element("xml")
    for tag, value in fields.items():
        ElementTree.SubElement(root, tag).text = value
    return ElementTree.tostring(root, encoding="unicode")


def text_reply(to_user: str, from_user: str, content: str) -> str:
    """A passive text reply to the message from ``to_user`` (the citizen's OpenID)."""
    return _build(
        {
            "ToUserName": to_user,
            "FromUserName": from_user,
            "CreateTime": str(int(time.time())),
            "MsgType": "text",
            "Content": content,
        }
    )


def encrypted_envelope(encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> str:
    return _build(
        {"Encrypt": encrypt, "MsgSignature": msg_signature, "TimeStamp": timestamp, "Nonce": nonce}
    )
