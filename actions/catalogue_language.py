"""The language the catalogue is read in for the action being run.

A conversation in Chinese (the ``language`` slot is ``zh-Hans``, see bot/language.py) should
see service names, questions and options in Chinese. Every catalogue read of
:class:`actions.open311_client.Open311Client` asks the back office for the language of the
action call it serves (``?locale=zh-Hans``; docs/backoffice-api.md, "Languages"), and keeps
each language's copy apart. The action server sets it once per call from the tracker the call
carries (``actions/__main__.py``); outside a call (the outbox relay) it is English.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

CHINESE = "zh-Hans"
# Only languages the bot speaks; anything else reads the catalogue in its own language.
SPOKEN = frozenset({CHINESE})

catalogue_locale: ContextVar[str | None] = ContextVar("catalogue_locale", default=None)


def locale_of_call(call: Any) -> str | None:
    """The catalogue language of an action call's tracker: ``zh-Hans``, or None (English)."""
    tracker = call.get("tracker") if isinstance(call, Mapping) else None
    slots = tracker.get("slots") if isinstance(tracker, Mapping) else None
    language = slots.get("language") if isinstance(slots, Mapping) else None
    return language if language in SPOKEN else None


# Button titles the actions compose themselves (every other text is a domain response, with
# its Chinese variation in domain.yml). Each has both languages: tests/actions check it.
BUTTON_TITLES: dict[str, dict[str, str]] = {
    "more_services": {"en": "See other services", CHINESE: "看看其他服务"},
    "browse_topics": {"en": "Browse by topic", CHINESE: "按类别查找"},
    "no_service_fits": {"en": "None of these", CHINESE: "都不是"},
    "best_matches": {"en": "Back to the best matches", CHINESE: "回到最符合的几项"},
    "all_done": {"en": "That's all", CHINESE: "就这些"},
    # The numbered lists of the steps whose buttons are a domain response's.
    "reply_in_chat": {"en": "Reply in this chat only", CHINESE: "只在本聊天回复"},
    "give_contact": {"en": "Give a phone number or email", CHINESE: "留电话或邮箱"},
    "send_it": {"en": "Send it", CHINESE: "确认提交"},
    "change_something": {"en": "Change something", CHINESE: "修改内容"},
    "withdraw_yes": {"en": "Yes, withdraw it", CHINESE: "是的，撤回"},
    "withdraw_no": {"en": "No, keep it", CHINESE: "不撤回，保留"},
}


def in_chinese() -> bool:
    """Whether the action call being run is for a conversation in Chinese."""
    return catalogue_locale.get() == CHINESE


def button_title(name: str) -> str:
    """The title of one of :data:`BUTTON_TITLES` in the language of the action call."""
    return BUTTON_TITLES[name][catalogue_locale.get() or "en"]
