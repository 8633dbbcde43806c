"""One tokenizer for English and Chinese messages, and for messages that mix the two.

Rasa's WhitespaceTokenizer does worse than leave an unspaced Chinese sentence as one token:
its emoji filter drops every word made only of characters in U+24C2-U+1F251, a range that
holds all of Chinese, so "我家楼下的路灯坏了" has no token at all (and the whole message becomes
one) and "编号CD-E5BW2X" keeps only its Latin part when a Chinese word stands alone. Rasa's
JiebaTokenizer segments everything with jieba, which changes how English is split (and so
the English model). This one splits a message exactly as the WhitespaceTokenizer does, except
that a word with Chinese characters in it is kept and cut: each run of Chinese characters
into words by jieba, the pieces between runs kept as they are, less Chinese punctuation
(，。、！？ and the like) and pieces that are only emoji ("编号CD-E5BW2X" is ``编号`` and
``CD-E5BW2X``). A message without Chinese characters gets the WhitespaceTokenizer's tokens,
offsets included.

On a training example the annotated entities' edges are also word edges: jieba may glue a
place to the word before it ("在体育西路" as one word), and the CRF learns nothing from an
entity that does not start and end on a token. A message being parsed has no entities yet,
so only training is affected.

jieba builds its prefix dictionary (about a second) the first time it segments; ``create``
and ``load`` do it, so it happens when the model loads, not on a citizen's first Chinese
turn. The built dictionary is cached in ``cache_dir`` (config; default
``$CIVICDESK_JIEBA_CACHE``, else ``$XDG_CACHE_HOME/civicdesk`` or ``~/.cache/civicdesk``),
falling back to the system's temporary folder when that cannot be created.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import jieba
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.command_gate import CHINESE_CHARACTERS

logger = logging.getLogger(__name__)

_CHINESE_RUN = re.compile(f"[{CHINESE_CHARACTERS}]+")
# Chinese punctuation and full-width symbols (full-width letters and digits are not in it),
# curly quotes and the ellipsis an input method types.
_CHINESE_PUNCTUATION = (
    "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65\u2018-\u201f\u2026"
)
# A word with Chinese in it is read as runs of Chinese and runs of anything else but
# Chinese punctuation.
_RUNS = re.compile(
    f"(?P<chinese>[{CHINESE_CHARACTERS}]+)|[^{CHINESE_CHARACTERS}{_CHINESE_PUNCTUATION}]+"
)
_CACHE_FILE = "jieba.cache"


def default_cache_dir() -> Path:
    """Where jieba's built dictionary is kept unless the config says otherwise."""
    configured = os.environ.get("CIVICDESK_JIEBA_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "civicdesk"


def writable_dir(wanted: Path) -> Path:
    """``wanted`` if it exists or can be made and written to, else the temporary folder."""
    try:
        wanted.mkdir(parents=True, exist_ok=True)
        if os.access(wanted, os.W_OK):
            return wanted
    except OSError:
        pass
    fallback = Path(tempfile.gettempdir())
    logger.warning("jieba cache folder %s is not writable; using %s", wanted, fallback)
    return fallback


def segmenter(cache_dir: Path) -> jieba.Tokenizer:
    """A jieba segmenter with its dictionary built (or read from the cache) now."""
    # jieba logs each dictionary load at DEBUG through its own stderr handler.
    jieba.setLogLevel(logging.WARNING)
    built = jieba.Tokenizer()
    built.tmp_dir = str(writable_dir(cache_dir))
    built.cache_file = _CACHE_FILE
    built.initialize()
    return built


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class MixedScriptTokenizer(WhitespaceTokenizer):
    """The WhitespaceTokenizer's tokens, with runs of Chinese characters segmented by jieba.

    Config: the WhitespaceTokenizer's options, and ``cache_dir`` for jieba's built dictionary
    (see the module docstring for the default).
    """

    @staticmethod
    def not_supported_languages() -> list[str] | None:
        return None

    @staticmethod
    def required_packages() -> list[str]:
        return ["jieba"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**WhitespaceTokenizer.get_default_config(), "cache_dir": None}

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        cache_dir = config.get("cache_dir")
        self._jieba = segmenter(Path(cache_dir) if cache_dir else default_cache_dir())

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MixedScriptTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        tokens = super().tokenize(message, attribute)
        if not any(_CHINESE_RUN.search(token.text) for token in tokens):
            return tokens
        edges: set[int] = set()
        if attribute == TEXT:
            for entity in message.get(ENTITIES) or []:
                edges.update((entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]))
        return [piece for token in tokens for piece in self._split(token, edges)]

    def remove_emoji(self, text: str) -> str:
        # The emoji range of the WhitespaceTokenizer holds all Chinese characters.
        return text if _CHINESE_RUN.search(text) else super().remove_emoji(text)

    def _split(self, token: Token, edges: set[int]) -> list[Token]:
        """``token`` cut at its Chinese runs, each run segmented by jieba (and at ``edges``)."""
        if not _CHINESE_RUN.search(token.text):
            return [token]
        pieces: list[Token] = []
        for run in _RUNS.finditer(token.text):
            if run.group("chinese"):
                pieces += self._segment(token, run.start(), run.end(), edges)
            elif super().remove_emoji(run.group()):
                pieces.append(self._piece(token, run.start(), run.end()))
        return pieces

    def _segment(self, token: Token, start: int, end: int, edges: set[int]) -> list[Token]:
        """The words of ``token.text[start:end]``, a run of Chinese characters."""
        cuts = sorted(
            {start, end, *(e - token.start for e in edges if start < e - token.start < end)}
        )
        words: list[Token] = []
        for left, right in itertools.pairwise(cuts):
            for _, word_start, word_end in self._jieba.tokenize(token.text[left:right]):
                words.append(self._piece(token, left + word_start, left + word_end))
        return words

    @staticmethod
    def _piece(token: Token, start: int, end: int) -> Token:
        return Token(token.text[start:end], token.start + start, token.start + end)
