"""The simulated citizen: answers each question from what their scenario says they know.

Two modes. A *tapping* citizen presses the button that means what they know whenever there is
one, and types only what no button can say (a place, a phone number). A *typing* citizen
never presses a button: they answer every question in their own words, as the scenario
writes them, and fall back on the number of an option only when the bot has shown a
numbered list after not understanding them.

The citizen knows the catalogue as a reader of the city's website would: the questions of
their service and which group it is listed under (to browse by topic when tapping).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from evals.bot_messages import Button, Reply
from evals.scenarios import Scenario

# "voice" answers as "type" does, through the voice channel (evals/voice_channel.py).
Mode = Literal["tap", "type", "voice"]
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


@dataclass(frozen=True)
class Catalogue:
    """What a citizen can read about the services: groups, and each question's attribute."""

    groups: dict[str, str]  # service code -> group
    # (service code, question text) -> attribute code, the questions in every language
    questions: dict[tuple[str, str], str]
    # language -> service code -> group, where the group is written otherwise than in English
    localised_groups: dict[str, dict[str, str]] = field(default_factory=dict)

    def group_of(self, service: str, language: str) -> str:
        return self.localised_groups.get(language, self.groups).get(service, "")


# What a citizen says when the scenario has no words of its own for it, by language.
SAYS = {
    "en": {
        "other_services": "none of those, show me other ones",
        "dont_know": "i don't know",
        "thats_all": "that's all",
        "no_place": "I am not sure",
        "no_photo": "i don't have a photo, sorry",
        "decline": "no thanks",
        "no": "no",
        "no_name": "I'd rather not give my name",
        "send": "yes that's right, please send it",
        "more": "more",
        "still_there": "hello?",
    },
    "zh-Hans": {
        "other_services": "都不是，还有别的吗",
        "dont_know": "不知道",
        "thats_all": "就这些",
        "no_place": "我不太清楚",
        "no_photo": "没有照片，不好意思",
        "decline": "不用了",
        "no": "不",
        "no_name": "名字就不留了",
        "send": "对的，请提交",
        "more": "还有别的吗",
        "still_there": "在吗？",
    },
}


def says(language: str, what: str) -> str:
    return SAYS.get(language, SAYS["en"])[what]


@dataclass
class Citizen:
    scenario: Scenario
    mode: Mode
    catalogue: Catalogue
    asked: dict[str, int] = field(default_factory=dict)
    pages_seen: int = 0
    # The option keys the citizen meant at the last question, for a numbered list of them.
    meant: tuple[str, ...] = ()

    @property
    def service(self) -> str:
        return self.scenario.expect.service_code

    def _says(self, what: str) -> str:
        return says(self.scenario.language, what)

    def _position(self, position: int) -> str:
        """ "the second one" (or "第2个"), for the 0-based ``position`` in a list."""
        if self.scenario.language == "zh-Hans":
            return f"第{position + 1}个"
        return f"the {_ORDINALS[position]} one" if position < len(_ORDINALS) else self._says("more")

    def answer(self, reply: Reply) -> str:
        """The next message to send after ``reply`` (a button payload when tapping)."""
        step = reply.step or "unknown"
        key = f"{step}:{reply.question}"
        self.asked[key] = self.asked.get(key, 0) + 1
        again = self.asked[key] > 1
        handler = getattr(self, f"_{step}", self._unknown)
        if step != "numbered":
            self.meant = self._meant(step, reply)
        return str(handler(reply, again))

    def _meant(self, step: str, reply: Reply) -> tuple[str, ...]:
        if step == "service":
            return (self.service,)
        if step == "contact_choice":
            return ("anonymous",) if self.scenario.contact.says is None else ("contact",)
        if step == "attribute":
            code = self._attribute_code(reply)
            answer = self.scenario.answers.get(code) if code else None
            return tuple(answer.keys) if answer else ()
        return ()

    def _numbered(self, reply: Reply, again: bool) -> str:
        # The last question's options as a numbered list, after answers the bot did not take:
        # the citizen presses, or types the number of, what they meant.
        numbered = _numbered_choices(reply)
        for key in self.meant:
            if key in numbered:
                found = _button(reply.buttons, key)
                if self.mode == "tap" and found is not None:
                    return found.payload
                return str(numbered.index(key) + 1)
        return self._unknown(reply, again)

    # Each step's answer; ``again`` when the same question was asked before.

    def _description(self, reply: Reply, again: bool) -> str:
        return self.scenario.description

    def _service(self, reply: Reply, again: bool) -> str:
        offered = [b for b in reply.buttons if b.choice == self.service]
        group = self.catalogue.group_of(self.service, self.scenario.language)
        if self.mode == "tap":
            if offered:
                return offered[0].payload
            for wanted in (f"group:{group}", "topics" if self.pages_seen >= 1 else "more"):
                found = _button(reply.buttons, wanted)
                if found is not None:
                    self.pages_seen += 1
                    return found.payload
            found = _button(reply.buttons, "topics") or _button(reply.buttons, "none")
            return found.payload if found else self.scenario.description
        services = [b for b in reply.buttons if b.choice and b.choice not in _SERVICE_MOVES]
        if offered:
            if self.scenario.service_says and not again:
                return self.scenario.service_says
            position = services.index(offered[0])
            return self._position(position)
        self.pages_seen += 1
        if self.pages_seen == 1:
            return self._says("other_services")
        if self.pages_seen == 2 and group:
            return group
        return self.scenario.description

    def _attribute(self, reply: Reply, again: bool) -> str:
        code = self._attribute_code(reply)
        answer = self.scenario.answers.get(code) if code else None
        if answer is None:
            # Not a question the scenario foresaw: a citizen would say they do not know.
            return "/skip" if self.mode == "tap" else self._says("dont_know")
        if answer.keys:
            by_key = [b for b in reply.buttons if b.choice in answer.keys]
            if self.mode == "tap" and by_key:
                return by_key[0].payload
            if again and by_key:
                numbered = _numbered_choices(reply)
                if answer.keys[0] in numbered:
                    return str(numbered.index(answer.keys[0]) + 1)
        return answer.say

    def _attribute_more(self, reply: Reply, again: bool) -> str:
        # "Anything else?" after a tapped option of "choose all that apply".
        # A typing citizen types the words of the option they still want, as they read it.
        offered = {b.choice: b for b in reply.buttons}
        for answer in self.scenario.answers.values():
            wanted = [key for key in answer.keys if key in offered]
            if wanted:
                button = offered[wanted[0]]
                return button.payload if self.mode == "tap" else button.title
        done = next((b for b in reply.buttons if b.choice == "_all_done"), None)
        return done.payload if done is not None and self.mode == "tap" else self._says("thats_all")

    def _attribute_code(self, reply: Reply) -> str | None:
        found = self.catalogue.questions.get((self.service, reply.question.strip()))
        if found is not None:
            return found
        # The question may carry a hint after it; match on its start.
        for (service, question), code in self.catalogue.questions.items():
            if service == self.service and reply.question.startswith(question):
                return code
        # Otherwise: the only attribute whose keys are among the buttons.
        choices = {b.choice for b in reply.buttons}
        for code, answer in self.scenario.answers.items():
            if answer.keys and set(answer.keys) & choices:
                return code
        return None

    def _place(self, reply: Reply, again: bool) -> str:
        return self.scenario.place or self._says("no_place")

    def _photo(self, reply: Reply, again: bool) -> str:
        if self.mode == "tap":
            found = next((b for b in reply.buttons if b.payload == "/skip"), None)
            if found is not None:
                return found.payload
        return self._says("no_photo")

    def _contact_choice(self, reply: Reply, again: bool) -> str:
        # The question asks for the details themselves: no button can say a phone number, so
        # a tapping citizen who gives them types them straight away, as a typing one does.
        contact = self.scenario.contact
        if self.mode == "tap" and contact.says is None:
            found = _button(reply.buttons, "anonymous")
            if found is not None:
                return found.payload
        if contact.says is None:
            return contact.decline or self._says("decline")
        return contact.says

    def _contact_details(self, reply: Reply, again: bool) -> str:
        return self.scenario.contact.says or self.scenario.contact.decline or self._says("no")

    def _contact_name(self, reply: Reply, again: bool) -> str:
        if self.scenario.contact.name:
            return self.scenario.contact.name
        if self.mode == "tap":
            found = _button(reply.buttons, "no_name")
            if found is not None:
                return found.payload
        return self._says("no_name")

    def _confirm(self, reply: Reply, again: bool) -> str:
        if self.mode == "tap":
            found = _button(reply.buttons, "submit")
            if found is not None:
                return found.payload
        return self._says("send")

    def _unknown(self, reply: Reply, again: bool) -> str:
        # A reply with no question the citizen recognises: they say what they came for again.
        return self.scenario.description


_SERVICE_MOVES = frozenset({"more", "topics", "none", "matches"})
_NUMBERED = re.compile(r"^\s*(\d+)[.)]\s+(.+?)\s*$", re.MULTILINE)


def _button(buttons: tuple[Button, ...], choice: str) -> Button | None:
    return next((b for b in buttons if b.choice == choice), None)


def _numbered_choices(reply: Reply) -> list[str | None]:
    """The choices of the buttons, in the order of a numbered list the bot wrote out, else in
    the order of the question's own buttons (a "did you mean" before it has its own)."""
    titles = {b.title.casefold(): b.choice for b in reply.buttons}
    listed = [
        titles.get(title.casefold()) for text in reply.texts for _, title in _NUMBERED.findall(text)
    ]
    return listed or [b.choice for b in reply.question_buttons or reply.buttons]
