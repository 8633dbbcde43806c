"""The XML of Alipay's life-account gateway: the ``biz_content`` of each message (parsed with
DTDs and entities refused, through defusedxml) and our signed synchronous answers.

A message's ``biz_content`` is a flat ``<XML>`` with one level of nesting for some types::

    <XML><AppId>…</AppId><FromUserId>…</FromUserId><CreateTime>1380108585332</CreateTime>
         <MsgType>text</MsgType><Text><Content>…</Content></Text><MsgId>…</MsgId></XML>

:func:`parse_biz_content` flattens it to ``{"AppId": …, "Text/Content": …}``.

Alipay expects every gateway request to be answered with its envelope, signed with the
account's private key over the exact text between ``<response>`` and ``</response>``::

    <?xml version="1.0" encoding="GBK"?>
    <alipay><response>…</response><sign>…</sign><sign_type>RSA2</sign_type></alipay>
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ElementTree

from cryptography.hazmat.primitives.asymmetric import rsa
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from channels.alipay._signature import SIGN_TYPE, sign


class InvalidAlipayXml(ValueError):
    """Not well-formed, has a DTD or entities, or is not an ``<XML>`` message."""


def parse_biz_content(biz_content: str) -> dict[str, str]:
    """The message's fields, nested ones under ``Parent/Child``.

    Raises:
        InvalidAlipayXml: the text is not an Alipay message.
    """
    try:
        root = fromstring(biz_content, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as error:
        raise InvalidAlipayXml("biz_content is not an Alipay XML message") from error
    if root.tag.lower() != "xml":
        raise InvalidAlipayXml("biz_content's root element must be <XML>")
    fields: dict[str, str] = {}
    for child in root:
        if len(child):
            for grandchild in child:
                fields[f"{child.tag}/{grandchild.tag}"] = (grandchild.text or "").strip()
        else:
            fields[child.tag] = (child.text or "").strip()
    return fields


def _fragment(tag: str, fields: dict[str, str]) -> str:
    root = ElementTree.Element(tag)
    for name, value in fields.items():
        ElementTree.SubElement(root, name).text = value
    return ElementTree.tostring(root, encoding="unicode")


def ack_content(to_user_id: str, app_id: str) -> str:
    """The ``ack`` message that tells the gateway a message was received."""
    return _fragment(
        "XML",
        {
            "ToUserId": to_user_id,
            "AppId": app_id,
            "CreateTime": str(int(time.time() * 1000)),
            "MsgType": "ack",
        },
    )


def gateway_check_content(public_key_base64: str) -> str:
    """The answer to ``alipay.service.check``: success and the account's public key."""
    key = ElementTree.Element("biz_content")
    key.text = public_key_base64
    return "<success>true</success>" + ElementTree.tostring(key, encoding="unicode")


def signed_response(content: str, key: rsa.RSAPrivateKey, charset: str) -> str:
    """``content`` in Alipay's response envelope, signed with ``key`` in ``charset``."""
    signature = sign(content, key, charset)
    return (
        f'<?xml version="1.0" encoding="{charset}"?>'
        f"<alipay><response>{content}</response>"
        f"<sign>{signature}</sign><sign_type>{SIGN_TYPE}</sign_type></alipay>"
    )


def response_content(envelope: str) -> str:
    """The signed text of a response envelope (for the fake gateway and tests)."""
    start, end = envelope.find("<response>"), envelope.rfind("</response>")
    if start < 0 or end < start:
        raise InvalidAlipayXml("no <response> in the envelope")
    return envelope[start + len("<response>") : end]
