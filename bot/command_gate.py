"""The NLU's last word on routing: a command must look like one, else it is a need.

The intent model tells the commands apart (a ticket's status, withdrawing or reopening it, a
rating, adding information, help, greetings). It also files some needs under them: "I lost
my job, is there any support" under check_status, "i need help paying my rent" under
withdraw_ticket, "hi, the lamp outside my door is broken" under greet. This component runs
after the classifiers and keeps a command only when the message says it in the command's own
words (its *cue*, a pattern in config.yml) or is short enough to be nothing else; any other
message that says something is re-labelled as an intake intent, so it reaches the catalogue
search (``bot/rules/report_issue.yml``). The intake intent is the best one in the model's
ranking (report_issue, request_service or give_feedback), which only words the replies.

A message naming a ticket reference always keeps its command.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message

INTAKE_INTENTS = ("report_issue", "request_service", "give_feedback")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Chinese is written without spaces: a run of Chinese characters is counted as words of two
# characters each (most Chinese words are), once the filler in it is taken out.
CHINESE_CHARACTERS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CHINESE_RUN = re.compile(f"[{CHINESE_CHARACTERS}]+")


def words_of(text: str, filler: frozenset[str]) -> list[str]:
    """The words of ``text`` that are not ``filler``: English words by spaces, Chinese by
    pairs of characters after taking out each filler phrase ("请问", "一下", "的")."""
    found = [w for w in _WORD.findall(_CHINESE_RUN.sub(" ", text)) if w not in filler]
    phrases = sorted((f for f in filler if _CHINESE_RUN.fullmatch(f)), key=len, reverse=True)
    for run in _CHINESE_RUN.findall(text):
        for phrase in phrases:
            run = run.replace(phrase, " ")
        for piece in run.split():
            found += [piece[i : i + 2] for i in range(0, len(piece), 2)]
    return found


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class CommandGate(GraphComponent):
    """Re-labels a command intent as an intake intent when the message is not that command.

    Config: ``cues`` maps a command intent to a regular expression (case-insensitive) that
    a message of that command contains; ``filler`` lists words that say nothing by
    themselves (greetings, "please", "can you"); ``max_other_words`` is how many other words
    a command without its cue may still have (a bare "help me please" stays help);
    ``cue_only`` lists the commands kept only by their cue, however short the message (the ways
    out of a form's step, where "one" or "next Thursday" is an answer).
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"cues": {}, "filler": [], "max_other_words": 1, "cue_only": []}

    def __init__(self, config: dict[str, Any]) -> None:
        self._cues = {
            str(intent): re.compile(str(pattern), re.IGNORECASE)
            for intent, pattern in (config.get("cues") or {}).items()
        }
        self._filler = frozenset(str(word).casefold() for word in config.get("filler") or [])
        self._max_other_words = int(config.get("max_other_words", 1))
        self._cue_only = frozenset(str(intent) for intent in config.get("cue_only") or [])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CommandGate:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._gate(message)
        return messages

    def is_command(self, intent: str, text: str, entities: list[dict[str, Any]]) -> bool:
        """Whether ``text``, classified ``intent``, is that command (True for non-commands)."""
        cue = self._cues.get(intent)
        if cue is None or text.startswith("/"):
            return True
        if any(entity.get("entity") == "reference" for entity in entities):
            return True
        if cue.search(text):
            return True
        if intent in self._cue_only:
            return False
        return len(words_of(text.casefold(), self._filler)) <= self._max_other_words

    def _gate(self, message: Message) -> None:
        intent = message.get("intent") or {}
        name = intent.get("name")
        text = message.get("text") or ""
        if not isinstance(name, str) or self.is_command(
            name, str(text), message.get("entities") or []
        ):
            return
        ranking = message.get("intent_ranking") or []
        intake = next(
            (entry for entry in ranking if entry.get("name") in INTAKE_INTENTS),
            {"name": INTAKE_INTENTS[0], "confidence": 0.0},
        )
        relabelled = {"name": intake["name"], "confidence": intake.get("confidence", 0.0)}
        message.set("intent", relabelled, add_to_output=True)
        message.set(
            "intent_ranking",
            [relabelled, *(e for e in ranking if e.get("name") != intake["name"])],
            add_to_output=True,
        )
