"""Reading a citizen's contact details from what they typed: phone, email and name.

People give them in one message and in any order ("Li Na, 13912345678", "email me at
jo@example.org, I'm Jo Lin", "13912345678 li na"), or say they would rather not ("I'd rather
not say", "anonymous"). :func:`read_contact` takes all three from one message; the checks of
each field are the ones the submission re-runs on the slots.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from actions.answer_matching import CHINESE_CHARACTERS, declines
from actions.form_steps import clean_text

MAX_NAME_CHARS = 100
MAX_EMAIL_CHARS = 254
MIN_PHONE_DIGITS = 6
MAX_PHONE_DIGITS = 15  # the longest number E.164 allows

# An email address as people type it; checked further by `check_email`. Chinese is written
# without spaces, so Chinese characters and full-width punctuation end it too ("何静，a@b.cn").
_NOT_IN_EMAIL = r"\s@,;<>()\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_EMAIL = re.compile(rf"[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}]+")
_EMAIL_SHAPE = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63}"
)
# A phone number as people type it: digits with spaces, dots, dashes or brackets, maybe a "+".
_PHONE = re.compile(r"\+?\(?\d[\d\s().-]*\d")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
# A digit glued to a letter: a mistyped number. Chinese is written without spaces, so a
# digit next to a Chinese character ("手机13912345678") is not glued.
_GLUED = re.compile(r"\d[^\W\d_]|[^\W\d_]\d")
_CHINESE = re.compile(f"[{CHINESE_CHARACTERS}]")
# A Chinese name: two to four characters, or a name with a middle dot ("阿依·木沙").
_CHINESE_NAME = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff]{2,4}|[\u3400-\u4dbf\u4e00-\u9fff]{1,6}·[\u3400-\u4dbf\u4e00-\u9fff]{1,6}"
)
# What Chinese speakers say around their details, longest first; never part of a name.
_CHINESE_FILLER = re.compile(
    r"我的名字是|我的名字叫|名字是|名字叫|我叫|我是|我姓|姓名|联系人|称呼|手机号码|手机号|电话号码|"
    r"号码|手机|电话|邮箱|邮件|微信|联系方式|联系我|打这个|打给我|可以|请|您|你|就|叫|是|的|吧"
)
_TIME = re.compile(r"\b\d{1,2}(?:[:.]\d{2})?\s?(?:am|pm)\b", re.IGNORECASE)  # "after 6pm"
_NAME = re.compile(r"[^\W\d_]+(?:[ .'\u2019-]+[^\W\d_]+)*\.?")
# What people say around their details, which is not part of a name.
_FILLER = re.compile(
    r"\b(?:yes|yeah|sure|ok(?:ay)?|please|thanks?|thank you|you can|you|your|can|could|may|"
    r"call|ring|phone|text|message|contact|reach|email|e-mail|mail|write|me|at|on|to|by|or|"
    r"and|my|name|number|mobile|cell|cellphone|tel|telephone|landline|whatsapp|wechat|is|"
    r"it'?s|i'?m|i am|this is|here|the|it|via|"
    r"address|details|are|use|best|fine|good|am|i|this|that|name'?s|called|"
    # When to call, said beside the details ("ring after 10", "evenings only").
    r"after|before|until|till|between|any ?time|only|not|o'?clock|pm|"
    r"mornings?|afternoons?|evenings?|nights?|weekdays?|weekends?|lunch ?time)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ContactDetails:
    phone: str | None = None
    email: str | None = None
    name: str | None = None

    @property
    def usable(self) -> bool:
        """A way to reach the citizen: a phone number or an email address."""
        return bool(self.phone or self.email)


def check_phone(value: Any) -> str | None:
    """A phone number kept as typed (spaces normalised), or None when it is not one.

    6 to 15 digits, optionally after "+" (or "00"), with spaces, dots, dashes or brackets.
    """
    text = clean_text(value)
    if text is None or not _PHONE.fullmatch(text):
        return None
    digits = _PHONE_SEPARATORS.sub("", text).removeprefix("+")
    if not digits.isdigit() or not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        return None
    return text


def check_email(value: Any) -> str | None:
    """An email address (``name@domain.tld``, at most 254 characters), or None."""
    text = clean_text(value)
    if text is None or len(text) > MAX_EMAIL_CHARS or not _EMAIL_SHAPE.fullmatch(text):
        return None
    local = text.split("@")[0]
    if ".." in text or local.startswith(".") or local.endswith("."):
        return None
    return text


def check_name(value: Any) -> str | None:
    """A person's name (letters, with spaces, dots, hyphens or apostrophes), or None."""
    text = clean_text(value)
    if text is None or len(text) > MAX_NAME_CHARS or not _NAME.fullmatch(text):
        return None
    return text


# Words that are never part of a name, even capitalised at the start of a sentence.
_NEVER_NAMES = frozenset(
    {"i", "i'm", "im", "my", "it's", "its", "this", "hi", "hello", "you", "your"}
)
_TOKEN = re.compile(r"[^\W\d_]+(?:['\u2019.-][^\W\d_]+)*\.?")


def name_in(text: Any) -> str | None:
    """The name in "my name is Li Na", "I'm Jo", "li na", or None when there is none.

    Words like "call", "me", "may" are dropped, except where a capitalised one stands next
    to another capitalised word that is not one of them: "May Lin", "Sue To" keep theirs.
    """
    line = clean_text(text)
    if line is None or line.startswith("/") or declines(line):
        return None
    if _CHINESE.search(line):
        return _chinese_name_in(line)
    tokens = _TOKEN.findall(line)
    kept: list[str] = []
    for index, token in enumerate(tokens):
        if not _FILLER.fullmatch(token):
            kept.append(token)
            continue
        neighbours = tokens[max(index - 1, 0) : index] + tokens[index + 1 : index + 2]
        if (
            token[0].isupper()
            and token.casefold() not in _NEVER_NAMES
            and any(n[0].isupper() and not _FILLER.fullmatch(n) for n in neighbours)
        ):
            kept.append(token)
    rest = " ".join(part.strip(".-'") for part in kept)
    return check_name(rest) if rest else None


# Who someone is, said before their name ("社区志愿者何静", "三楼业主张伟"): not part of it.
_CHINESE_ROLE = re.compile(
    r"(?:[一二三四五六七八九十\d]+楼|社区|小区|街道|村里?的?)?"
    r"(?:志愿者|居委会|业主|家长|居民|负责人|工作人员|店主|老板|房东|租户|住户)"
    r"(?=[\u3400-\u4dbf\u4e00-\u9fff]{2})"
)

_CHINESE_ROLE_ALONE = re.compile(
    r"(?:社区|小区)?(?:志愿者|居委会|业主|家长|居民|负责人|工作人员|店主|老板|房东|租户|住户)"
)


def _chinese_name_in(line: str) -> str | None:
    """The name in "我叫李娜", "李娜", "联系人：王先生", "社区志愿者何静", or None."""
    rest = _CHINESE_FILLER.sub(" ", _CHINESE_ROLE.sub(" ", line))
    names = [
        part
        for part in re.split(r"[^\w·]+", rest)
        if _CHINESE_NAME.fullmatch(part) and not _CHINESE_ROLE_ALONE.fullmatch(part)
    ]
    return names[0] if len(names) == 1 else None


def read_contact(text: Any) -> ContactDetails | None:
    """The phone, email and name in one message; None when it holds a broken one.

    "call 0612 345 678" and "Li Na, 13912345678" are read; "name@example" or "12345" is
    refused (None) rather than half-read, so the citizen is asked again.
    """
    line = clean_text(text)
    if line is None or line.startswith("/"):
        return None
    line = _SPOKEN_DIGITS.sub(lambda m: m.group().translate(_DIGIT_OF), line)
    emails = _EMAIL.findall(line)
    email = check_email(emails[0].rstrip(".")) if len(emails) == 1 else None
    if emails and email is None:
        return None
    rest = _TIME.sub(" ", _EMAIL.sub(" ", line))
    if _GLUED.search(_CHINESE.sub(" ", rest)):
        return None  # "139-1234-567a": a mistyped number, not a number and a name
    numbers = [m.group().strip() for m in _PHONE.finditer(rest)]
    # Beside a number long enough to call, a short one is a time or a house number ("ring
    # after 10"); alone, it is a broken phone number and refused.
    callable_numbers = [n for n in numbers if _digits(n) >= MIN_PHONE_DIGITS] or numbers
    phone = check_phone(callable_numbers[0]) if len(callable_numbers) == 1 else None
    if callable_numbers and phone is None:
        return None
    name = None
    if phone or email:
        # The name is in the first part that has one: "Paul Reeves 07700 900741, evenings".
        parts = _CLAUSES.split(_PHONE.sub(" ", rest))
        name = next((found for part in parts if (found := name_in(part))), None)
    return ContactDetails(phone=phone, email=email, name=name)


_CLAUSES = re.compile(r"[,;\n，；。]")
# A phone number said in Chinese numerals, as dictation writes it ("一三九零五七一二三四五",
# 幺 for one, the ideographic zero for zero): six digits or more, spaces allowed, read as digits.
_DIGIT_OF = str.maketrans("零\u3007一幺二三四五六七八九", "001123456789")
_SPOKEN_DIGITS = re.compile(
    "[零\u3007一幺二三四五六七八九](?:\\s*[零\u3007一幺二三四五六七八九]){5,}"
)


def _digits(text: str) -> int:
    return sum(char.isdigit() for char in text)


def split_name(name: str) -> tuple[str, str | None]:
    """Open311 ``first_name`` and ``last_name`` from a name typed in one line."""
    first, _, last = name.partition(" ")
    return first, last.strip() or None
