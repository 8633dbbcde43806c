"""Open311 responses in JSON or XML, chosen by the extension of the resource (``.json``/``.xml``).

The XML mirrors the JSON the way the specification's examples do: a list becomes a root
element whose children are named after the singular (``services`` > ``service``), ``null``
becomes an empty element, booleans are ``true``/``false``. Elements are built with
``xml.etree`` so every value is escaped; characters XML 1.0 cannot carry are replaced.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, Literal

from aiohttp import web
from open311_schema import Open311Error

Format = Literal["json", "xml"]
FORMATS: tuple[Format, ...] = ("json", "xml")
MEDIA_TYPES: Mapping[Format, str] = {"json": "application/json", "xml": "text/xml"}

_XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
_CHILD_TAGS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
_NOT_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def format_of(request: web.Request) -> Format | None:
    """The format named by the resource's extension, or None if it is not one we serve."""
    extension = request.match_info.get("fmt")
    return extension if extension in FORMATS else None


def format_from_path(path: str) -> Format:
    """The format an error about ``path`` is written in: XML for ``*.xml``, JSON otherwise."""
    return "xml" if path.endswith(".xml") else "json"


def render(
    fmt: Format,
    body: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    *,
    root: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """Build an Open311 response.

    Args:
        fmt: ``json`` or ``xml``.
        body: A list of objects (rendered as a JSON array) or one object.
        root: The XML root element, e.g. ``services`` or ``service_definition``.
        status: HTTP status.
        headers: Extra response headers.

    Returns:
        The response with ``application/json`` or ``text/xml`` and ``charset=utf-8``.
    """
    if fmt == "json":
        text = json.dumps(body, ensure_ascii=False)
    else:
        text = _XML_DECLARATION + ET.tostring(_element(root, body), encoding="unicode")
    return web.Response(
        text=text,
        status=status,
        content_type=MEDIA_TYPES[fmt],
        charset="utf-8",
        headers=headers,
    )


def render_errors(
    fmt: Format,
    status: int,
    descriptions: Sequence[str],
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """An Open311 error array; each description becomes one entry coded with ``status``."""
    errors = [Open311Error(status, description).to_json() for description in descriptions]
    return render(fmt, errors, root="errors", status=status, headers=headers)


def _element(tag: str, value: object) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, Mapping):
        element.extend(_element(key, item) for key, item in value.items())
    elif isinstance(value, (list, tuple)):
        child_tag = _CHILD_TAGS.get(tag, "item")
        element.extend(_element(child_tag, item) for item in value)
    elif value is not None:
        element.text = _xml_text(value)
    return element


def _xml_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML_CHARS.sub("\ufffd", str(value))


def revalidated(
    request: web.Request, response: web.Response, *, locale: str | None = None
) -> web.Response:
    """``response`` with an ``ETag``, or ``304 Not Modified`` if the client holds that version.

    For the catalogue's resources, which change only when the catalogue is reloaded: a client
    keeps what it read and asks again with ``If-None-Match``; an unchanged resource costs it
    no body (docs/backoffice-api.md, "Caching the catalogue"). The tag is a digest of the body,
    so it changes exactly when the bytes do, whatever changed them. With a ``locale`` the
    response is marked with its language, and the language is digested too: a tag is never
    shared by two languages, even where a service's words fall back to the same English.
    """
    body = response.body if isinstance(response.body, bytes) else b""
    digest = hashlib.sha256(body)
    headers = {"Cache-Control": "no-cache"}
    if locale is not None:
        digest.update(b"\0" + locale.encode())
        mark_language(headers, locale)
    etag = '"' + digest.hexdigest()[:32] + '"'
    headers["ETag"] = etag
    held = _tags(request.headers.get("If-None-Match", ""))
    if etag in held or "*" in held:
        return web.Response(status=304, headers=headers)
    response.headers.update(headers)
    return response


def _tags(header: str) -> set[str]:
    """The entity tags of an ``If-None-Match`` header; a weak tag matches as a strong one."""
    tags = {part.strip() for part in header.split(",") if part.strip()}
    return {tag[2:] if tag.startswith("W/") else tag for tag in tags}


def mark_language(headers: MutableMapping[str, str], locale: str) -> None:
    """Say which language a response is in and that it depends on Accept-Language.

    ``Vary`` is set even when the ``locale`` parameter chose the language: a cache keyed
    on the URL alone must still not hand one client's language to another.
    """
    headers["Content-Language"] = locale
    existing = headers.get("Vary")
    if existing is None:
        headers["Vary"] = "Accept-Language"
    elif "accept-language" not in existing.casefold():
        headers["Vary"] = f"{existing}, Accept-Language"
