"""Checking a citizen's answer to one Open311 attribute question, by its datatype.

A list question's answer is matched to its options by ``actions/answer_matching.py``.

The questions come from the chosen service's Open311 definition and travel in the
``service_questions`` slot as plain dictionaries (see :func:`question_from_attribute`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from actions.answer_matching import (
    CHINESE_CHARACTERS,
    CHINESE_RUN,
    context_words,
    denies,
    fold,
    label_core,
    match_option,
    with_chinese_synonyms,
)
from open311_schema import MAX_DESCRIPTION_CHARS, ServiceAttribute, format_datetime

MAX_STRING_CHARS = 255
MAX_NUMBER = 1_000_000

Question = dict[str, Any]
Answer = tuple[tuple[str, ...] | None, str | None]

_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
_NUMBER_WORDS = {
    word: index
    for index, word in enumerate(
        (
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
        )
    )
}
_NUMBER_WORDS.update({"single": 1, "dozen": 12})
_NUMBER_WORDS.update(
    {
        word: 13 + index
        for index, word in enumerate(
            ["thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
        )
    }
)
_TENS = {
    word: 20 + 10 * index
    for index, word in enumerate(
        ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
    )
}
_NUMBER_WORDS.update(_TENS)
_COMPOUND = re.compile(
    r"\b(" + "|".join(_TENS) + r")[\s-]+(one|two|three|four|five|six|seven|eight|nine)\b"
)
_WORDS = re.compile(r"[a-z]+")
_LEADING_NUMBER = re.compile(
    r"^\W*(\d+(?:[.,]\d+)?|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
    # The separator ends the number: "12.40" is one number, "three, me and ..." a count first.
    r"(?![.,]\d)\s*[,:;.-](?=\s|$)"
)
# A number said as the whole count: "three of us, me and the two kids", "we are 4", "5 in total".
_TOTAL_NUMBER = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
    r"\s+(?:of us|in total|altogether|all together|people in all)\b"
    r"|\bwe(?:'re| are)\s+(\d+|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b"
)
_COUPLE = re.compile(r"\ba couple\b|\bpair\b")
_HOW_MANY = re.compile(r"\bhow many ([A-Za-z]+)", re.IGNORECASE)
_AGO = re.compile(
    r"(\d+|an?|one|two|three|four|five|six)\s+(minute|hour|day|week)s?\s+(?:ago|before|back|earlier)"
)
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})")
_ONLY_TOGETHER = re.compile(
    r"\W*(both|all|all of them|both of them|them both|too|as well|also|each|the two|"
    r"都要|都|全部|全要|两个都要|都需要|也要)\W*",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(
    r"\s*(?:,|;|/|\+|&|\band\b|\bn\b|\bplus\b|\bas well as\b|\bbut\b"
    r"|(?=\b(?:except|excluding|apart from|other than|not)\b)"
    # Chinese lists: 、，； and 和, 跟, 还有, 以及 (a part saying 不要 before or after its
    # item leaves it out: see _LEFT_OUT and _LEFT_OUT_AFTER).
    r"|[、，；]|和|跟|还有|以及|另外)\s*"
)
# A part of a list answer that leaves an option out: "gas and electric, not the water".
_LEFT_OUT = re.compile(
    r"\W*(but\s+)?(not|no|never|except|excluding|without|apart from|other than)\b"
    r"|\W*(?:但是?)?(不要|不用|除了|不包括|没有)",
    re.IGNORECASE,
)
# A part that says an option is fine as it is: "the water is already okay", "heating's fine".
_ALREADY_FINE = re.compile(
    r"(?:\b(?:is|are|was|were)|'s|'re)\s+(?:already\s+|all\s+|still\s+)?"
    r"(?:ok|okay|fine|sorted|working|good|done|not needed|not a problem)\b"
    r"|\bno problem with\b|\b(?:can|should|will|is to) stay(?: on)?\b",
    re.IGNORECASE,
)
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def question_from_attribute(attribute: ServiceAttribute) -> Question:
    """The slot-friendly form of one attribute question."""
    return {
        "code": attribute.code,
        "datatype": attribute.datatype,
        "question": attribute.description or attribute.code,
        "hint": attribute.datatype_description or "",
        "choices": [[value.key, value.name] for value in attribute.values],
    }


def is_question(value: Any) -> bool:
    """True for a well-formed question dictionary (slot values are re-checked, not trusted)."""
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("code"), str)
        and isinstance(value.get("datatype"), str)
        and isinstance(value.get("question"), str)
        and isinstance(value.get("choices", []), list)
    )


def choices(question: Question) -> list[tuple[str, str]]:
    return [(str(pair[0]), str(pair[1])) for pair in question.get("choices") or []]


def parse_answer(
    question: Question,
    raw: Any,
    *,
    now: Callable[[], datetime] | None = None,
    service_name: str = "",
) -> Answer:
    """Return ``(values, None)`` or ``(None, response key explaining the problem)``.

    ``service_name`` is the chosen service's: its words say which service, not which option
    ("bin" in "New, replacement or extra bin" does not choose "I need a larger or extra bin"
    over "Mine was stolen"), so they choose an option only when nothing else does.
    """
    if not isinstance(raw, str):
        return None, "utter_answer_empty"
    text = _CONTROL_CHARACTERS.sub("", raw).strip()
    if not text:
        return None, "utter_answer_empty"
    datatype = question.get("datatype")
    corrected = _after_correction(text)
    if corrected and datatype in ("number", "datetime", "singlevaluelist", "multivaluelist"):
        # "one day, actually make it two": what they finally say, if it answers.
        values, problem = parse_answer({**question}, corrected, now=now, service_name=service_name)
        if values is not None:
            return values, problem
    if datatype == "number":
        number = _parse_number(text, unit=_unit_asked(question))
        return ((number,), None) if number is not None else (None, "utter_answer_not_a_number")
    if datatype == "datetime":
        moment = _parse_datetime(text, (now or _utc_now)())
        return ((moment,), None) if moment is not None else (None, "utter_answer_not_a_date")
    if datatype == "singlevaluelist":
        key = _match_choice(text, choices(question), service_name)
        return ((key,), None) if key is not None else (None, "utter_answer_not_a_choice")
    if datatype == "multivaluelist":
        keys = _list_parts(text, choices(question), service_name)
        if not keys or any(key is None for key in keys):
            return None, "utter_answer_not_a_choice"
        return tuple(dict.fromkeys(key for key in keys if key is not None)), None
    limit = MAX_DESCRIPTION_CHARS if datatype == "text" else MAX_STRING_CHARS
    if len(text) > limit:
        return None, "utter_answer_too_long"
    return (text,), None


def display_answer(question: Question, values: tuple[str, ...] | list[str]) -> str:
    """The answer as the citizen would recognise it (choice names, not keys)."""
    names = dict(choices(question))
    return ", ".join(names.get(value, value) for value in values)


def _unit_asked(question: Question) -> str:
    """The thing a "how many" question counts, singular ("For how many days?": "day")."""
    found = _HOW_MANY.search(str(question.get("question") or ""))
    return found.group(1).casefold().removesuffix("s") if found else ""


def _parse_number(text: str, unit: str = "") -> str | None:
    """The one number ``text`` says, in digits or words ("2", "about 2.5", "just the one",
    "a couple"); None when it says none or more than one ("3 or 4", "one sofa and one bed").
    Of several, the one said with the ``unit`` asked about, if only one is ("14 days, two
    weeks" for days)."""
    text = _chinese_amounts_in_figures(_CHINESE_COUNT.sub(_chinese_count, text))
    people = {m.group(1) for m in _CHINESE_PEOPLE.finditer(text)}
    if len(people) == 1 and len(_CHINESE_PEOPLE.findall(text)) > 1:
        # "一家三口 三个人": one count of people said twice.
        text = _CHINESE_PEOPLE.sub("", text, count=len(_CHINESE_PEOPLE.findall(text)) - 1)
    lowered = _COMPOUND.sub(
        lambda m: str(_NUMBER_WORDS[m.group(1)] + _NUMBER_WORDS[m.group(2)]), text.casefold()
    )
    lowered = re.sub(
        r"\b("
        + "|".join(_TENS)
        + r"|"
        + "|".join(w for w in _NUMBER_WORDS if w.isalpha())
        + r")\b",
        lambda m: str(_NUMBER_WORDS[m.group(1)]),
        lowered,
    )
    money = _MONEY.search(lowered)
    if money:
        lowered = _MONEY.sub(f"{money.group(1)}.{int(money.group(2)):02d}", lowered, count=1)
    leading = _LEADING_NUMBER.match(lowered) or _CHINESE_LEADING_NUMBER.match(lowered)
    found = [match.group(0) for match in _NUMBER.finditer(lowered)]
    found += [word for word in _WORDS.findall(lowered) if word in _NUMBER_WORDS]
    if _COUPLE.search(lowered):
        found.append("2")
    total = _TOTAL_NUMBER.search(lowered)
    if total:
        found = [total.group(1) or total.group(2)]
    elif leading:
        # "three, me and my two children": the number said first is the answer.
        found = [leading.group(1)]
    in_unit = _in_unit(lowered, found, unit) if unit else None
    if in_unit is not None:
        value = in_unit
    elif len(found) != 1:
        return None
    else:
        value = _value(found[0])
    if abs(value) > MAX_NUMBER:
        return None
    return str(int(value)) if value.is_integer() else str(value)


# Where an answer corrects itself: what follows the last of these is what the citizen means.
_CORRECTION = re.compile(
    r"\b(?:actually|i mean|or rather|make (?:it|that)|no wait|scratch that|correction|"
    r"sorry,? (?:i mean|no)|no,? sorry|so just|so only)\b|,\s*no\s*,"
    # "4张，哦不5张……算了就4张吧": 算了 settles on what follows it.
    r"|不对|我是说|应该是|改成|说错了|哦不|噢不|呃不|不不|算了",
    re.IGNORECASE,
)


def _after_correction(text: str) -> str | None:
    parts = _CORRECTION.split(text)
    return parts[-1].strip(" ,.;:!?") or None if len(parts) > 1 else None


# Years said in words: "twenty twenty three", "nineteen eighty four", "two thousand and five".
_UNITS_WORDS = "one|two|three|four|five|six|seven|eight|nine"
_YEAR_IN_WORDS = re.compile(
    r"\b(nineteen|twenty)[\s-]+(?:(oh)[\s-]+(" + _UNITS_WORDS + r")|(ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)|(twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety)(?:[\s-]+(" + _UNITS_WORDS + r"))?)\b"
    r"|\btwo thousand(?:\s+and)?\s+(" + _UNITS_WORDS + r"|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty(?:[\s-]+(?:" + _UNITS_WORDS + r"))?)\b"
)
_ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}
_ORDINAL_IN_WORDS = re.compile(r"\b(?:(twenty|thirty)[\s-]+)?(" + "|".join(_ORDINAL_WORDS) + r")\b")


def _spoken_year(match: re.Match[str]) -> str:
    century, oh, oh_unit, teen, tens, unit, thousands = match.groups()
    if thousands is not None:
        words = thousands.replace("-", " ").split()
        return str(2000 + sum(_NUMBER_WORDS[w] for w in words))
    first = 1900 if century == "nineteen" else 2000
    if oh:
        return str(first + _NUMBER_WORDS[oh_unit])
    if teen:
        return str(first + _NUMBER_WORDS[teen])
    return str(first + _NUMBER_WORDS[tens] + (_NUMBER_WORDS[unit] if unit else 0))


def _spoken_ordinal(match: re.Match[str]) -> str:
    tens, ordinal = match.groups()
    return f"{(_NUMBER_WORDS[tens] if tens else 0) + _ORDINAL_WORDS[ordinal]}th"


def spoken_dates_in_figures(lowered: str) -> str:
    """ "the twelfth of may twenty twenty three" as "the 12th of may 2023"."""
    return _ORDINAL_IN_WORDS.sub(_spoken_ordinal, _YEAR_IN_WORDS.sub(_spoken_year, lowered))


# An amount of money with its smaller unit: "23 pounds 50", "£4.20", "twelve euros fifty".
# (Chinese amounts, whose smaller unit is tenths, are _CHINESE_DECIMAL's.)
_MONEY = re.compile(
    r"(\d+)\s*(?:pounds?|quid|dollars?|euros?|yuan)\s*(?:and\s+)?(\d{1,2})\b"
    r"(?:\s*(?:pence|p|cents?))?"
)


def _value(word: str) -> float:
    return float(_NUMBER_WORDS[word]) if word in _NUMBER_WORDS else float(word.replace(",", "."))


# How many of a counted unit another unit holds: "two weeks" answers "how many days?" as 14.
_UNITS_IN = {"day": {"day": 1, "week": 7}, "hour": {"hour": 1, "day": 24}, "week": {"week": 1}}
_NUMBER_AND_WORD = re.compile(r"\b(\d+(?:[.,]\d+)?|[a-z]+)\s+([a-z]+?)s?\b")


def _in_unit(lowered: str, found: list[str], unit: str) -> float | None:
    """The amount of ``unit`` (a time unit) that every number ``found`` says alike, each with
    its unit ("14 days, two weeks": 14 days); None when one has no unit or they differ."""
    units = _UNITS_IN.get(unit)
    if not units or not found:
        return None
    amounts = [
        _value(number) * units[word]
        for number, word in _NUMBER_AND_WORD.findall(lowered)
        if word in units and (number in _NUMBER_WORDS or _NUMBER.fullmatch(number))
    ]
    if len(amounts) != len(found) or len(set(amounts)) != 1:
        return None
    return amounts[0]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_TODAY = re.compile(r"\b(now|right now|just now|today|this (morning|afternoon|evening)|tonight)\b")
_YESTERDAY = re.compile(r"\b(yesterday|yday|yest|ystrdy|last night)\b")
_TOMORROW = re.compile(r"\b(tomorrow|tmrw|tmr)\b")
_LAST_WEEK = re.compile(r"\b(last week|a week ago)\b")
_NEXT_WEEK = re.compile(r"\bnext week\b")
_OF_A_MONTH = re.compile(
    r"\b(\d{1,2}|first|second|third|fourth|fifth|tenth|fifteenth|twentieth)(?:st|nd|rd|th)?"
    r"\s+of\s+(this|next|last)\s+month\b"
)
_ORDINAL_DAYS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "tenth": 10,
    "fifteenth": 15,
    "twentieth": 20,
}
_IN_SOME = re.compile(r"\bin (\d+|an?|one|two|three|four|five|six)\s+(day|week)s?\b")
_WEEKDAY = re.compile(r"\b(next |this |coming )?(" + "|".join(_WEEKDAYS) + r")\b")
_DAY_MONTH = (
    # "12 May", "3rd of June 2027"; then "May 12", "June 3rd, 2027"
    re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]{3})[a-z]*\.?(?:,?\s+(\d{4}))?\b"),
    re.compile(r"\b([a-z]{3})[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?\b"),
)
# A date given in figures or words may lie ahead (an appointment, a journey, an event), but
# not by years: "2030" for an event is a typing slip, not a plan.
_FURTHEST_AHEAD = timedelta(days=2 * 366)


def _parse_datetime(text: str, now: datetime) -> str | None:
    """A moment from "today", "yesterday", "3 days ago", "last week", "on monday" (the last
    one), "tomorrow", "next thursday", "in 2 weeks", "12 May", "12/11/2026" or ISO 8601.

    Words that point ahead give a moment ahead; a bare weekday is the last one, as a problem
    is reported after it happened. None for anything else or more than two years ahead.
    """
    if _CHINESE.search(text):
        said = _chinese_moment(text, now)
        if said is not None and said <= now + _FURTHEST_AHEAD:
            return format_datetime(said)
        return None
    lowered = spoken_dates_in_figures(text.casefold())
    ago = _AGO.search(lowered)
    if ago:
        amount_text, unit = ago.groups()
        amount = int(amount_text) if amount_text.isdigit() else _NUMBER_WORDS.get(amount_text, 1)
        return format_datetime(now - timedelta(**{f"{unit}s": amount}))
    ahead = _IN_SOME.search(lowered)
    if ahead:
        amount_text, unit = ahead.groups()
        amount = int(amount_text) if amount_text.isdigit() else _NUMBER_WORDS.get(amount_text, 1)
        if amount * (7 if unit == "week" else 1) <= _FURTHEST_AHEAD.days:
            return format_datetime(now + timedelta(**{f"{unit}s": amount}))
        return None
    if _YESTERDAY.search(lowered):
        return format_datetime(now - timedelta(days=1))
    if _TOMORROW.search(lowered):
        return format_datetime(now + timedelta(days=1))
    if _LAST_WEEK.search(lowered):
        return format_datetime(now - timedelta(days=7))
    if _NEXT_WEEK.search(lowered):
        return format_datetime(now + timedelta(days=7))
    of_a_month = _OF_A_MONTH.search(lowered)
    if of_a_month:
        day_text, which = of_a_month.groups()
        shift = {"last": -1, "this": 0, "next": 1}[which]
        year, month = divmod(now.year * 12 + now.month - 1 + shift, 12)
        day = _ORDINAL_DAYS.get(day_text) or int(day_text)
        try:
            return format_datetime(datetime(year, month + 1, day, tzinfo=now.tzinfo))
        except ValueError:
            return None
    if _TODAY.search(lowered):
        return format_datetime(now)
    try:
        # A date said with its weekday ("14 January, a Thursday"): the date says which day.
        written = _written_date(text, lowered, now)
    except ValueError:
        return None
    if written is not None:
        return format_datetime(written) if written <= now + _FURTHEST_AHEAD else None
    weekday = _WEEKDAY.search(lowered)
    if weekday:
        wanted = _WEEKDAYS.index(weekday.group(2))
        if weekday.group(1):
            return format_datetime(now + timedelta(days=(wanted - now.weekday()) % 7 or 7))
        return format_datetime(now - timedelta(days=(now.weekday() - wanted) % 7 or 7))
    try:
        moment = _month_only(lowered, now)
    except ValueError:
        return None
    if moment is None or moment > now + _FURTHEST_AHEAD:
        return None
    return format_datetime(moment)


_CHINESE = re.compile(f"[{CHINESE_CHARACTERS}]")
_CHINESE_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CHINESE_NUMBER = r"(\d{1,2}|[零一二两三四五六七八九十]{1,3})"
_CHINESE_DAY_WORDS = {
    "大前天": -3,
    "前天": -2,
    "昨天": -1,
    "昨晚": -1,
    "昨日": -1,
    "今天": 0,
    "今晚": 0,
    "今早": 0,
    "今日": 0,
    "刚才": 0,
    "现在": 0,
    "明天": 1,
    "明早": 1,
    "明晚": 1,
    "后天": 2,
    "大后天": 3,
}
_CHINESE_WEEKDAYS = "一二三四五六日天"
_CHINESE_WEEKDAY = re.compile(
    r"(上上|上|这|本|下下|下)?(?:个)?(?:周|星期|礼拜)([一二三四五六日天])"
)
_CHINESE_SPAN = re.compile(
    _CHINESE_NUMBER + r"\s*(?:个)?(天|周|星期|礼拜|个月)(前|以前|之前|后|以后|之后)"
)
_CHINESE_WEEK = re.compile(r"(上|下)(?:个)?(?:周|星期|礼拜)")
_CHINESE_DATE = re.compile(
    r"(?:(\d{4})年)?" + _CHINESE_NUMBER + r"月" + _CHINESE_NUMBER + r"(?:日|号)"
)
_CHINESE_TIME = re.compile(
    r"(凌晨|早上|上午|中午|下午|傍晚|晚上|夜里)?\s*"
    + _CHINESE_NUMBER
    + r"\s*(?:点|时)(半|"
    + _CHINESE_NUMBER
    + r"分?)?"
)


# Measure words a Chinese count is said with ("两棵", "三个人", "十二岁", "五盏灯").
_MEASURE_WORDS = (
    "个|件|张|只|台|辆|次|回|趟|遍|天|周|年|岁|人|位|名|户|块|元|米|层|栋|座|口|箱|袋|包|瓶|"
    "桶|盒|本|份|条|把|套|间|棵|株|盆|盏|根|支|颗|处|匹|双|对|扇|节|架|部|"
    "小时|分钟|星期|礼拜|月|平方|公斤|千克|斤|公里|厘米|吨"
)
# A count in Chinese numerals: before a measure word or at the end ("一共五"), also said
# roughly ("一百来人", "五十多个", "二十左右", "两千五"); not 一 in words such as 一共, 一下,
# 一些, 统一.
_CHINESE_COUNT = re.compile(
    r"(?<![零一二两三四五六七八九十百千万])([零一二两三四五六七八九十百千万]{1,7})"
    r"(?=\s*(?:来|多|几|余)?\s*(?:左右|上下|出头)?\W*$"
    r"|\s*(?:来|多|几|余)?\s*(?:" + _MEASURE_WORDS + r"))"
)
# The number said first, with its measure word, before a Chinese comma or stop: "2棵，都是香樟",
# "4.6，多扣的那1次" (what follows explains it).
_CHINESE_LEADING_NUMBER = re.compile(
    r"^\W*(\d+(?:\.\d+)?)\s*(?:" + _MEASURE_WORDS + r")?\s*[，、；：。！…]"
)
# Chinese amounts whose smaller unit is tenths, once their numerals are digits: "4块6" (4.6),
# "4块6毛5" (4.65), "12块80", "十块五" (10.5), "一米五" (1.5 m).
_CHINESE_DECIMAL = re.compile(
    r"(\d+)\s*(?:块|元|米)\s*(?:(\d\d)|(\d)\s*(?:毛|角)?\s*(?:(\d)\s*分?)?)(?![\d.])"
)
# A Chinese amount of 毛/角 alone: "5毛" (0.5).
_CHINESE_TENTHS = re.compile(r"(?<![\d.])(\d)\s*(?:毛|角)")
_CHINESE_POWERS = {"十": 10, "百": 100, "千": 1000}
# A count of people in Chinese, once its numerals are digits: "3口", "3个人", "3位".
_CHINESE_PEOPLE = re.compile(r"(\d+)\s*(?:口|个人|人|位)")


def _chinese_amounts_in_figures(text: str) -> str:
    def decimal(match: re.Match[str]) -> str:
        whole, hundredths, tenths, then = match.groups()
        return f"{whole}.{hundredths or tenths + (then or '')}"

    return _CHINESE_TENTHS.sub(r"0.\1", _CHINESE_DECIMAL.sub(decimal, text))


def _chinese_count(match: re.Match[str]) -> str:
    """A count's numerals as digits; two numbers side by side ("三四个") as the two, so that
    the answer says more than one number and is asked again."""
    said = match.group(1)
    value = _chinese_value(said)
    if value is None:
        return "或".join(str(_CHINESE_DIGITS[c]) for c in said if c in _CHINESE_DIGITS)
    return str(value)


def _chinese_value(said: str) -> int | None:
    """ "12", "十二", "二十五", "两", "一百二十", "一百二" (120), "一百零五", "两千五" (2500),
    "三万" as a number; None for digits side by side ("三四", a range)."""
    if said.isdigit():
        return int(said)
    total = section = 0
    digit: int | None = None
    last_power = 0
    after_zero = False
    for character in said:
        if character == "零":
            after_zero = True
        elif character in _CHINESE_DIGITS:
            if digit is not None:
                return None
            digit = _CHINESE_DIGITS[character]
        elif character in _CHINESE_POWERS:
            last_power = _CHINESE_POWERS[character]
            section += (1 if digit is None else digit) * last_power
            digit, after_zero = None, False
        elif character == "万":
            total += (section + (digit or 0) or 1) * 10000
            section, digit, last_power, after_zero = 0, None, 10000, False
    if digit is not None:
        # A lone digit after hundreds or more is the next place down: "两千五" is 2500.
        section += digit * last_power // 10 if last_power >= 100 and not after_zero else digit
    return total + section


def _chinese_number(said: str) -> int:
    """ "12", "十二", "二十五", "两", "一百二十" as a number (0 when it says none)."""
    return _chinese_value(said) or 0


# A day of the month without the month's number: "上个月19号", "这个月3号", "19号".
_CHINESE_DAY_OF_MONTH = re.compile(
    r"(上个?月|这个?月|本月|下个?月)?\s*" + _CHINESE_NUMBER + r"\s*(?:号|日)"
)


def _day_of_month(which: str | None, number: int, now: datetime) -> datetime | None:
    """The ``number``-th of last, this or next month; said alone, the latest one not after
    today (the 19th, said on 7 December, is 19 November), as a bare weekday is."""
    months = {"上": -1, "这": 0, "本": 0, "下": 1}.get((which or " ")[0])
    if months is None:
        months = 0 if number <= now.day else -1
    year, month = divmod(now.month - 1 + months, 12)
    try:
        return datetime(now.year + year, month + 1, number, 12, tzinfo=now.tzinfo)
    except ValueError:
        return None


# A year said by where it lies from this one: "明年1月14号" is next January.
_CHINESE_YEARS = {"前年": -2, "去年": -1, "今年": 0, "明年": 1, "后年": 2}


def _chinese_date(date: re.Match[str], text: str, now: datetime) -> datetime | None:
    year_text, month_text, day_text = date.groups()
    before = text[: date.start()]
    shift = next((shift for word, shift in _CHINESE_YEARS.items() if word in before), None)
    year = int(year_text) if year_text else now.year + (shift or 0)
    try:
        day = datetime(
            year, _chinese_number(month_text), _chinese_number(day_text), 12, tzinfo=now.tzinfo
        )
    except ValueError:
        return None
    if not year_text and shift is None and day > now + _FURTHEST_AHEAD:
        day = day.replace(year=year - 1)
    return day


def _chinese_moment(text: str, now: datetime) -> datetime | None:
    """A moment said in Chinese: 昨天, 前天, 明天下午三点, 三天前, 上周六, 下星期一, 5月12日."""
    day: datetime | None = None
    for word in sorted(_CHINESE_DAY_WORDS, key=len, reverse=True):
        if word in text:
            day = now + timedelta(days=_CHINESE_DAY_WORDS[word])
            break
    span = _CHINESE_SPAN.search(text)
    weekday = _CHINESE_WEEKDAY.search(text)
    week = _CHINESE_WEEK.search(text)
    date = _CHINESE_DATE.search(text)
    of_month = _CHINESE_DAY_OF_MONTH.search(text)
    if day is None and span:
        amount, unit, direction = span.groups()
        days = _chinese_number(amount) * {"天": 1, "周": 7, "星期": 7, "礼拜": 7, "个月": 30}[unit]
        day = now + timedelta(days=days if direction.endswith("后") else -days)
    elif day is None and date:
        # A date said with its weekday ("1月14号，礼拜四"): the date says which day.
        day = _chinese_date(date, text, now)
        if day is None:
            return None
    elif day is None and weekday:
        which, name = weekday.groups()
        wanted = min(_CHINESE_WEEKDAYS.index(name), 6)
        weeks = {"上上": -2, "上": -1, "这": 0, "本": 0, "下": 1, "下下": 2}.get(which or "")
        if weeks is None:  # a bare weekday is the last one, as a problem is reported after it
            day = now - timedelta(days=(now.weekday() - wanted) % 7 or 7)
        else:
            monday = now - timedelta(days=now.weekday())
            day = monday + timedelta(days=7 * weeks + wanted)
    elif day is None and week:
        day = now + timedelta(days=-7 if week.group(1) == "上" else 7)
    elif day is None and of_month:
        day = _day_of_month(of_month.group(1), _chinese_number(of_month.group(2)), now)
        if day is None:
            return None
    time = _CHINESE_TIME.search(text)
    if time is None:
        return day
    part, hour_text, minutes_text = time.groups()[:3]
    hour = _chinese_number(hour_text)
    evening = part in ("下午", "傍晚", "晚上", "夜里") or (part is None and "晚" in text)
    if evening and hour < 12:
        hour += 12
    minutes = (
        30
        if minutes_text == "半"
        else _chinese_number(minutes_text.rstrip("分"))
        if minutes_text
        else 0
    )
    if hour > 23 or minutes > 59:
        return None
    return (day or now).replace(hour=hour, minute=minutes, second=0, microsecond=0)


_PART_OF_MONTH = re.compile(
    r"\b(?:(early|start|beginning|mid|middle|late|end)\w*\s+(?:of\s+)?)?"
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b"
)
_DAY_IN_PART = {"mid": 15, "middle": 15, "late": 25, "end": 28}


def _month_only(lowered: str, now: datetime) -> datetime | None:
    """A month named without a day ("in april", "the middle of april", "end of may"): its
    first day, middle or end, in whichever year puts it nearest to now."""
    for found in _PART_OF_MONTH.finditer(lowered):
        part, month_text = found.groups()
        if month_text == "may" and part is None and "in may" not in lowered:
            continue  # "may" is far more often the verb
        month = _MONTHS.index(month_text) + 1
        day = _DAY_IN_PART.get(part or "", 1)
        nearest = min(
            (
                datetime(year, month, day, tzinfo=now.tzinfo)
                for year in (now.year - 1, now.year, now.year + 1)
            ),
            key=lambda moment: abs(moment - now),
        )
        return nearest
    return None


_YEAR_SHIFT = re.compile(r"\b(last|this|next) year\b")


def _year_shift(lowered: str) -> int:
    """-1, 0 or 1 for a date said with "last year", "this year" or "next year"."""
    said = _YEAR_SHIFT.search(lowered)
    return {"last": -1, "this": 0, "next": 1}[said.group(1)] if said else 0


def _written_date(text: str, lowered: str, now: datetime) -> datetime | None:
    """A date in figures ("12/11/2026"), in words ("12 May", "May 12th 2027") or ISO 8601."""
    day_month_year = _DAY_MONTH_YEAR.search(lowered)
    if day_month_year:
        day, month, year = (int(part) for part in day_month_year.groups())
        return datetime(year, month, day, tzinfo=now.tzinfo)
    for index, pattern in enumerate(_DAY_MONTH):
        for found in pattern.finditer(lowered):
            day_text, month_text, year_text = found.groups()
            if index:
                month_text, day_text = day_text, month_text
            if month_text in _MONTHS:
                year = int(year_text) if year_text else now.year + _year_shift(lowered)
                month = _MONTHS.index(month_text) + 1
                return datetime(year, month, int(day_text), tzinfo=now.tzinfo)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=now.tzinfo)


def _match_choice(text: str, options: list[tuple[str, str]], service_name: str = "") -> str | None:
    """The option a direct answer names: first by words other than the service's own."""
    if service_name:
        found = match_option(text, options, ignore=context_words(service_name))
        if found.key is not None:
            return found.key
    return match_option(text, options).key


def _list_parts(
    text: str, options: list[tuple[str, str]], service_name: str = ""
) -> list[str | None]:
    """The options a multi-value answer names, one per part ("glass, paper and food"); a part
    that only says "both" or "all of them" names none and is left out."""
    chosen: list[str | None] = []
    for part, context in _chosen_parts(text, options):
        whole = _named_whole(part, options)
        key = _match_choice(part, options, service_name)
        if len(whole) > 1:
            chosen += whole
        elif key is not None or not context:
            chosen.append(key)
    return chosen if any(chosen) else chosen or [None]


def _named_whole(part: str, options: list[tuple[str, str]]) -> list[str]:
    """The options whose whole Chinese name a part writes, in the part's order: "周六周日"
    names 星期六 and 星期日 with no separator between them."""
    if not CHINESE_RUN.search(part):
        return []
    written = with_chinese_synonyms(fold(part))
    found: list[tuple[int, str]] = []
    for key, name in options:
        own = with_chinese_synonyms(fold(name).strip())
        if own and own in written:
            found.append((written.find(own), key))
    return [key for _, key in sorted(found)]


def _chosen_parts(text: str, options: list[tuple[str, str]]) -> list[tuple[str, bool]]:
    """The parts of a list answer that name something chosen: not the empty ones, not "both"
    or "all of them", and not the ones that leave an option out ("not the water", "the water
    is already okay"), unless an option itself says that word ("Not working at all").

    Each comes with whether it may be context: Chinese dictation leaves clauses apart with
    spaces ("电和燃气 水已经有了", "就周六周日两天 平时要上班"); such a clause that names no
    option is what the citizen adds, not a part of the list that was not understood.
    """
    parts: list[tuple[str, bool]] = []
    for part in _SEPARATORS.split(text):
        clauses = [c for c in _CHINESE_CLAUSE_GAP.split(part) if c.strip()]
        parts += [(clause, len(clauses) > 1) for clause in clauses]
    return [
        (part, context)
        for part, context in parts
        if not _ONLY_TOGETHER.fullmatch(part) and not _leaves_out(part, options)
    ]


_CHINESE_CLAUSE_GAP = re.compile(rf"(?<=[{CHINESE_CHARACTERS}])\s+(?=[{CHINESE_CHARACTERS}])")


# Chinese says what is left out after it: "燃气不用", "水就不要了".
_LEFT_OUT_AFTER = re.compile(
    r"(不用|不要|不需要|不必|没问题)了?\W*$|已经(?:有|开通|通|开|装|办)(?:好)?了?|本来就有"
)


def _leaves_out(part: str, options: list[tuple[str, str]]) -> bool:
    if _ALREADY_FINE.search(part) or _LEFT_OUT_AFTER.search(part) or denies(part, options):
        return True
    found = _LEFT_OUT.match(part)
    if found is None:
        return False
    said = found.group(2) or found.group(3)
    # An option that itself says the word ("Not working at all", "没有水") is chosen by it.
    word = re.compile(
        rf"\b{re.escape(said)}\b" if said.isascii() else re.escape(said), re.IGNORECASE
    )
    return not any(word.search(name) for _, name in options)


def partly_chosen(question: Question, raw: Any, service_name: str = "") -> tuple[list[str], str]:
    """For "choose all that apply": the options the recognised parts of an answer name, and
    the parts that named none ("mud everywhere, and they start way too early")."""
    if question.get("datatype") != "multivaluelist" or not isinstance(raw, str):
        return [], ""
    options = choices(question)
    keys: list[str] = []
    unknown: list[str] = []
    for part, context in _chosen_parts(raw, options):
        key = _match_choice(part, options, service_name)
        if key is None:
            if not context:
                unknown.append(part.strip())
        elif key not in keys:
            keys.append(key)
    return keys, ", ".join(unknown)


def not_a_choice(question: Question, raw: Any) -> tuple[str, dict[str, Any]]:
    """Why a typed answer picked no option, as a response key and its values.

    Two options fit equally: "did you mean ... or ...?" with those two as buttons. None fits:
    which of the words typed it did not understand.
    """
    text = raw if isinstance(raw, str) else ""
    options = choices(question)
    parts = _SEPARATORS.split(text) if question.get("datatype") == "multivaluelist" else [text]
    for part in parts:
        found = match_option(part, options)
        if found.key is not None:
            continue
        names = dict(options)
        if found.tied:
            return "utter_answer_tied", {
                "options": " or ".join(f'"{names[key]}"' for key in found.tied),
                "buttons": [{"title": names[key], "payload": _payload(key)} for key in found.tied],
            }
        if found.unknown_words:
            return "utter_answer_words_not_understood", {"words": " ".join(found.unknown_words)}
    return "utter_answer_not_a_choice", {}


def _payload(key: str) -> str:
    return "/choose_option" + json.dumps({"choice": key})


def answers_in(
    text: str,
    questions: list[Question],
    *,
    service_name: str = "",
    service_words: str = "",
    lists: bool = False,
) -> dict[str, list[str]]:
    """Answers to list questions that a sentence said for another purpose already gives.

    "The bin is overflowing and smells", said to describe the problem, answers "What is the
    problem?" with "A public bin is full or overflowing". Only an option chosen by its words
    with a wide margin counts (:attr:`OptionMatch.clear`); framing words ("the place looked
    ..."), the words of the service's name and one-word keywords (``service_words``), and words
    that fit several options do not count; positions ("the second one") never do, as they
    belonged to another list. With ``lists``, "choose all that apply" questions are read too,
    clause by clause ("glass everywhere and the seat is snapped": the glass, the seat).
    """
    keywords = service_words.split()
    found: dict[str, list[str]] = {}
    for question in questions:
        datatype = question.get("datatype")
        options = choices(question)
        # A keyword that is one option's whole label ("反对" of a consultation, for 我反对)
        # says that option, not only the service.
        labels = {label_core(name) for _, name in options}
        ignore = context_words(
            service_name, " ".join(word for word in keywords if fold(word) not in labels)
        )
        if datatype == "singlevaluelist":
            keys = [_clearly_named(text, options, ignore)]
        elif datatype == "multivaluelist" and lists:
            # Each clause of a story may name one more option of "choose all that apply".
            keys = [
                _clearly_named(clause, options, ignore, share=CLAUSE_SHARE)
                for clause in _CLAUSES.split(text)
                if not _NEGATED.search(clause)
            ]
        else:
            continue
        chosen = list(dict.fromkeys(key for key in keys if key is not None))
        if chosen:
            found[question["code"]] = chosen
    return found


# Where a story moves on to another thing: a sentence's end, a comma, "and", "but", "also".
_CLAUSES = re.compile(r"[.!?;,]+\s*|\s+(?:and|but|also|plus|as well as|n)\s+", re.IGNORECASE)


# A clause names an option of "choose all that apply" only when at least this share of its
# meaningful words fit it: a clause is short, so one word among many ("I want to start to sell
# cakes" for "Sell packaged food") is not enough. A clause that denies ("I don't want to
# cause trouble") names nothing.
CLAUSE_SHARE = 0.34
_NEGATED = re.compile(
    r"\b(not|no|never|don'?t|dont|didn'?t|isn'?t|wasn'?t|aren'?t|without)\b", re.IGNORECASE
)


def _clearly_named(
    text: str, options: list[tuple[str, str]], ignore: frozenset[str], *, share: float = 0.0
) -> str | None:
    match = match_option(text, options, by_position=False, ignore=ignore, distinct_only=True)
    return match.key if match.clear and match.strength >= share else None
