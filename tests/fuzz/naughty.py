"""Strings that break naive code, for the fuzz tests of both environments.

Standard library only, and no project imports: the back office's fuzz tests load this file
by path (``backoffice/tests/fuzz/naughty.py``), so the one list serves both projects.

``NAUGHTY`` holds Python strings that survive any encoding. ``LONE_SURROGATE_JSON`` holds
JSON texts spelling half of a UTF-16 pair, which a JSON parser turns into a Python string
that cannot be encoded as UTF-8: they can only be sent as raw JSON bodies.
"""

from __future__ import annotations

DIRECTION = [
    "\u200f",  # right-to-left mark
    "\u200e",  # left-to-right mark
    "invoice\u202egnp.exe",  # right-to-left override: shows as "invoiceexe.png"
    "\u2067\u0645\u0631\u062d\u0628\u0627\u2069 street 12",  # isolate around Arabic
    "שלום lamp 5",
    "\u202a\u202b\u202c\u202d\u202e",
]
INVISIBLE = [
    "\u200b",  # zero-width space
    "lamp\u200dpost",  # zero-width joiner inside a word
    "\u200c\u2060\ufeff",  # non-joiner, word joiner, byte-order mark
    "\ufeffstreet_light",
    "CD-7K3M9Q\u200b",
    "\u00ad",  # soft hyphen
]
COMBINING = [
    "e\u0301",  # é as two code points
    "Z\u0336\u0337\u0338\u0334" * 25,  # stacked marks
    "\u0301 starts with a mark",
    "a" + "\u0308" * 500,
]
EMOJI = [
    "👍🏽",
    "👩🏾\u200d🔧",  # skin tone and a joined profession
    "🏳️\u200d🌈",
    "🇨🇳🇬🇧",
    "💡❌ the lamp 💀",
    "🙂" * 500,
]
CONTROL = [
    "\x00",
    "lamp\x00dark",
    "\x1b[31mred\x1b[0m",
    "\r\n\r\n",
    "\t",
    "\x07\x08\x7f",
    "line\u2028separator\u2029",
    "\ud7ff\ue000\uffff\ufffd",  # edges of the planes, the replacement character
]
INJECTION = [
    "' OR '1'='1",
    "'; DROP TABLE tickets; --",
    '" OR ""="',
    "1; SELECT pg_sleep(10); --",
    "%' AND 1=0 UNION SELECT password_hash FROM staff_users --",
    "\\'; \\\\",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "javascript:alert(1)",
    "]]><evil/><![CDATA[",
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
    "&lt;b&gt;&#60;&#x3C;",
    "{{ 7*7 }}",
    "{% for x in range(10**9) %}{% endfor %}",
    "{{ config.__class__.__init__.__globals__ }}",
    "${7*7}",
    "#{7*7}",
    "{0}{1}{name}",
    "{0.__class__.__mro__}",
    "%s%s%s%s%n",
    "%(message)s",
    "{slot_name}",
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/dev/zero",
    "CON",
    "file:///etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
]
CHAT = [
    '/EXTERNAL_ticket_update{"status": "closed"}',
    '/choose_option{"choice": "submit"}',
    "/restart",
    "/session_start",
    '/report_issue{"service_code": "other_problem"}',
    "/",
    "//",
    "/share_photo",
]
LOOKALIKE = [
    "".join(chr(ord(c) + 0xFEE0) for c in "CD-7K3M9Q"),  # a reference in full-width forms
    "cd-7k3m9q",
    "".join(chr(0x1D586 + ord(c) - ord("a")) for c in "hellolamp"),  # Fraktur letters
    "İstanbul ß ǅ ﬁ",
    "路灯不亮了，已经一个星期",
    "NaN",
    "Infinity",
    "-0",
    "1e309",
    "9" * 400,
    "true",
    "null",
    "0x7fffffff",
]
EMPTY = ["", " ", "   \t\n", "\u3000", "\u00a0\u00a0", "\n"]
HUGE = [
    "x" * 100_000,
    "路灯" * 30_000,
    "e\u0301" * 40_000,
    "🙂" * 30_000,
]

NAUGHTY: list[str] = (
    DIRECTION + INVISIBLE + COMBINING + EMOJI + CONTROL + INJECTION + CHAT + LOOKALIKE + EMPTY
)
"""Everything but the huge ones (send those on purpose: they cost time)."""

LONE_SURROGATE_JSON = ['"\\ud800"', '"lamp \\udfff dark"', '"\\ud83d"', '"\\udc00\\ud800"']


def json_with(field: str, raw_json_value: str, **others: str) -> bytes:
    """A JSON object body with ``field`` set to ``raw_json_value`` as written (so a lone
    surrogate's escape reaches the server unchanged) and ``others`` as JSON strings."""
    import json

    parts = [f"{json.dumps(name)}: {json.dumps(value)}" for name, value in others.items()]
    parts.append(f"{json.dumps(field)}: {raw_json_value}")
    return ("{" + ", ".join(parts) + "}").encode()


__all__ = [
    "CHAT",
    "COMBINING",
    "CONTROL",
    "DIRECTION",
    "EMOJI",
    "EMPTY",
    "HUGE",
    "INJECTION",
    "INVISIBLE",
    "LONE_SURROGATE_JSON",
    "LOOKALIKE",
    "NAUGHTY",
    "json_with",
]
