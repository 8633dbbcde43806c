"""How the bot matches what a citizen typed to the options of a question.

Every question with buttons (an attribute's values, the services offered, the summary's
"send it / change", a follow-up's yes/no) also takes the answer in words. The order of the
checks:

1. the option itself: its key (a button's payload) or its name, as shown;
2. its place in the list: "2", "no. 2", "the second one", "2nd", "the last one";
   then not knowing ("no idea", "not sure"): the "I do not know" option if there is one;
3. the words: each word typed is compared with the option's words, allowing for plural
   endings, common synonyms ("rubbish" for "litter", "broken" for "damaged") and typos
   (one edit in a word of 4 letters or more, two in one of 8 or more). The option with the
   most words in common wins when it has strictly more than the next one.

When two options fit equally, or none does, the answer is :class:`OptionMatch` with no key,
the tied options and the words that matched nothing, so the bot can ask "did you mean ...
or ...?" or say which words it did not understand, instead of only repeating the question.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

Option = tuple[str, str]  # (key, name as shown)

# A word, with an apostrophe inside it kept ("it's", "don't").
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*", re.UNICODE)
# Chinese characters (CJK unified ideographs, extension A, compatibility), one or a run.
CHINESE_CHARACTERS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CHINESE_RUN = re.compile(f"[{CHINESE_CHARACTERS}]+")
CHINESE_RUN = _CHINESE_RUN  # for the modules that read Chinese answers too
# Chinese that says nothing about which option is meant, longest first: taken out of a run
# of characters before it is cut into pairs.
_CHINESE_FILLER = (
    "我们",
    "你们",
    "这个",
    "那个",
    "一个",
    "一张",
    "一下",
    "一点",
    "就是",
    "还是",
    "应该",
    "可能",
    "好像",
    "的",
    "了",
    "吗",
    "呢",
    "啊",
    "吧",
    "呀",
    "嗯",
    "哦",
    "是",
    "我",
    "您",
    "你",
    "他",
    "她",
    "它",
    "很",
    "都",
    "也",
    "在",
    "有",
    "请",
)
# A place in a list said in Chinese: "第二个", "第2项", "二", "最后一个".
_CHINESE_DIGITS = {
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
    "十": 10,
}
_CHINESE_POSITION = re.compile(
    r"^\W*(?:选|选择|就)?(?:第\s*)?(\d+|[一二两三四五六七八九十])\s*(?:个|项|条|种|号)?(?:吧|吗|啊|的)?\W*$"
)
_CHINESE_LAST = re.compile(r"^\W*(?:选|就)?最后(?:一个|一项|那个)?(?:吧)?\W*$")
_ORDINAL_WORDS = {
    "first": 1,
    "1st": 1,
    "one": 1,
    "second": 2,
    "2nd": 2,
    "two": 2,
    "third": 3,
    "3rd": 3,
    "three": 3,
    "fourth": 4,
    "4th": 4,
    "four": 4,
    "fifth": 5,
    "5th": 5,
    "five": 5,
    "sixth": 6,
    "6th": 6,
    "six": 6,
    "seventh": 7,
    "7th": 7,
    "seven": 7,
    "eighth": 8,
    "8th": 8,
    "eight": 8,
    "ninth": 9,
    "9th": 9,
    "nine": 9,
    "tenth": 10,
    "10th": 10,
    "ten": 10,
}
# Words around a position that add nothing: "the second one", "number 2 please", "option b".
_POSITION_FILLER = frozenset(
    [
        "the",
        "a",
        "an",
        "one",
        "option",
        "choice",
        "number",
        "no",
        "nr",
        "num",
        "it",
        "is",
        "its",
        "that",
        "this",
        "please",
        "pls",
        "i",
        "want",
        "pick",
        "choose",
        "take",
        "select",
        "button",
        "thanks",
        "thank",
        "you",
        "ok",
        "okay",
    ]
)
_LAST = frozenset({"last", "final", "bottom"})
# A comparison of equal size, whose size word says nothing about bigger or smaller.
_AS_BIG_AS = re.compile(r"\b(?:as|so)\s+(?:big|large|small|wide|deep|long|tall|high|little)\s+as\b")

# Words that say nothing about which option is meant.
_FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "it's",
        "this",
        "that",
        "there",
        "here",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "by",
        "with",
        "and",
        "or",
        "but",
        "so",
        "my",
        "our",
        "your",
        "i",
        "i'm",
        "im",
        "we",
        "you",
        "me",
        "us",
        "they",
        "them",
        "he",
        "she",
        "his",
        "her",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "just",
        "really",
        "very",
        "quite",
        "too",
        "also",
        "please",
        "pls",
        "thanks",
        "thank",
        "ok",
        "okay",
        "yes",
        "yeah",
        "well",
        "um",
        "uhm",
        "er",
        "hmm",
        "like",
        # Wanting or needing says that something is asked for, not which thing ("we need one
        # new" is no more "I need a larger or extra bin" than "I have just moved in").
        "need",
        "needs",
        "needed",
        "want",
        "wants",
        "wanted",
        "wanna",
        "think",
        "guess",
        "maybe",
        "one",
        "some",
        "any",
        "all",
        "which",
        "what",
        "where",
        "when",
        "who",
        "how",
        "about",
        "can",
        "could",
        "would",
        "will",
        "should",
        "might",
        "must",
        "got",
        "get",
        "gets",
        "getting",
        "been",
        "being",
        "am",
        "from",
        "up",
        "out",
        "into",
        "over",
        "again",
        "still",
        "now",
    ]
)

# Common words citizens use for the words options are written in (both directions).
_SYNONYM_GROUPS = (
    "broken damaged broke damage smashed cracked bust busted ruined wrecked faulty",
    "full overflowing overflow overfilled overflowed spilling packed rammed crammed stuffed",
    # No "stole": one letter from "stone".
    "missing gone stolen lost disappeared removed steal nicked pinched robbed taken took",
    # "Completely dead" and "unlit" say the lights are off.
    "off dead unlit",
    # Outdoors is a public place.
    "outside outdoors public",
    "loose rocking rocks wobbly wobbles wobble wobbling unstable",
    "building builder builders construction renovation renovating workmen",
    "visitor visitors visiting guest guests staying visit",
    "rubbish litter trash garbage waste junk refuse",
    "dirty filthy messy mess dirt grime",
    "big large huge massive enormous bigger larger",
    "small little tiny minor smaller",
    "dangerous unsafe hazard hazardous risky",
    "loud noisy noise",
    "night nighttime evening overnight dark",
    "day daytime daylight",
    "child children kid kids baby babies son daughter",
    "old elderly senior pensioner retired aged",
    "relative family parent mother mum mom father dad husband wife partner spouse gran nan "
    "grandmother grandfather grandad grandpa grandma",
    "taxi cab minicab",
    "car vehicle motor auto automobile",
    "house home flat apartment property indoors",
    "plan instalment instalments installments monthly month parts",
    "new first",
    "renew renewal extend",
    "replace replacement lost stolen",
    "doctor gp physician",
    "dog dogs puppy",
    "tree trees branch branches",
    "water flood flooding leak leaking",
    "street road lane avenue",
    "book booking appointment reserve",
    "change cancel move reschedule",
    "yes yeah yep yup sure correct right ok okay fine send submit confirm",
    "no nope nah not don't dont",
    "help support assistance",
    "money payment paid pay cash",
)
_SYNONYMS: dict[str, frozenset[str]] = {}
for _group in _SYNONYM_GROUPS:
    _members = frozenset(_group.split())
    for _word in _members:
        _SYNONYMS[_word] = _SYNONYMS.get(_word, frozenset()) | _members
_NO_WORDS = _SYNONYMS["no"]


# The share of a sentence's meaningful words that must fit an option for it to be read off
# a sentence said for another purpose, when a single word fits it.
CLEAR_SHARE = 0.15


@dataclass(frozen=True)
class OptionMatch:
    """The option an answer names, or why none could be chosen."""

    key: str | None
    tied: tuple[str, ...] = ()
    unknown_words: tuple[str, ...] = ()
    # Share of the typed meaningful words that fit the chosen option (1.0 for a key or place).
    strength: float = 1.0
    # The word scores of the best option and of the next one (0 for a key or place).
    score: float = 0.0
    runner_up: float = 0.0

    @property
    def clear(self) -> bool:
        """Chosen by its words with a wide margin: safe to take from a sentence said for
        another purpose (the description, the answer to another question).

        One word in a long story is not enough ("... put the cones and the temporary lights
        up ..." does not say the lights are the problem): the option's words must be a fair
        share of what was said, or more than one.
        """
        return (
            self.key is not None
            and self.score >= 1.0
            and self.score - self.runner_up >= 0.5
            and (self.strength >= CLEAR_SHARE or self.score >= 1.8)
        )


def fold(text: str) -> str:
    """Lower case, accents and curly apostrophes folded, for comparing words."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def stem(word: str) -> str:
    """Plural, possessive and common endings folded: "lights" -> "light", "flooding" ->
    "flood", "doctor's" -> "doctor"."""
    if word.endswith("'s"):
        word = word[:-2]
    for ending, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(ending) and len(word) - len(ending) >= 3 and not word.endswith("ss"):
            word = word[: len(word) - len(ending)] + keep
            break
    # A silent "e" goes too, so "recycle" meets "recycling" and "house" meets "houses".
    if word.endswith("e") and len(word) >= 5:
        word = word[:-1]
    return word


def meaningful_words(text: str) -> list[str]:
    """The words of ``text`` that can say which option is meant, in order.

    Chinese, written without spaces, gives its pairs of neighbouring characters once its
    filler is out ("垃圾桶满了" gives 垃圾, 圾桶, 桶满, then 垃, 圾, 桶, 满), so an answer and an
    option meet on the pairs and characters they share whatever the words' boundaries.
    """
    found: list[str] = []
    for word in _WORD.findall(fold(text)):
        if not _CHINESE_RUN.search(word):
            if word not in _FILLER:
                found.append(word)
            continue
        for part in _CHINESE_RUN.split(word):
            if part and part not in _FILLER:
                found.append(part)  # a word in other letters, next to Chinese ("A4纸")
        for run in _CHINESE_RUN.findall(word):
            found += _chinese_pairs(run)
    return found


def word_count(text: str) -> int:
    """How many words ``text`` says, for telling a short reply from a description: a Chinese
    run counts a word per two characters (its pairs and characters are many more)."""
    count = 0
    for word in meaningful_words(text):
        if not _CHINESE_RUN.fullmatch(word):
            count += 1
    for run in _CHINESE_RUN.findall(fold(text)):
        count += -(-len(run) // 2)
    return count


# Chinese words with the same meaning, each written as the one the catalogue's options use, so
# "马路" meets "在车行道上" (applied before a run is cut into pairs).
_CHINESE_SYNONYMS = {
    "马路中间": "车行道",
    "机动车道": "车行道",
    "马路": "车行道",
    "非机动车道": "自行车道",
    "单车道": "自行车道",
    "便道": "人行道",
    "步行道": "人行道",
    "垃圾箱": "垃圾桶",
    "街灯": "路灯",
    "废物": "垃圾",
    "轮子": "轮胎",
    "车轮": "轮胎",
    "没了": "不见",
    "丢了": "不见",
    "掉了": "不见",
    "找不到": "不见",
    "找不着": "不见",
    "被偷": "被盗",
    # Weekdays as the options write them.
    "礼拜天": "星期日",
    "礼拜日": "星期日",
    "星期天": "星期日",
    "周日": "星期日",
    "周天": "星期日",
    "周一": "星期一",
    "周二": "星期二",
    "周三": "星期三",
    "周四": "星期四",
    "周五": "星期五",
    "周六": "星期六",
    "周末": "星期六星期日",
    # Places that serve food are the options' 餐馆.
    "烧烤店": "餐馆",
    "饭店": "餐馆",
    "饭馆": "餐馆",
    "餐厅": "餐馆",
    "小吃店": "餐馆",
    # Something in the food.
    "里有东西": "里有异物",
    "里面有东西": "里有异物",
    "饭里": "食物里",
    "菜里": "食物里",
    # A family member is the options' 亲戚 (relative).
    "母亲": "亲戚",
    "父亲": "亲戚",
    "妈妈": "亲戚",
    "爸爸": "亲戚",
    "我妈": "我亲戚",
    "我爸": "我亲戚",
    "爷爷": "亲戚",
    "奶奶": "亲戚",
    "外婆": "亲戚",
    "外公": "亲戚",
    "姥姥": "亲戚",
    "老伴": "亲戚",
    # An animal that threatens.
    "很凶": "威胁",
    "挺凶": "威胁",
    "太凶": "威胁",
    "身上扑": "威胁人",
    "凶得很": "威胁",
    "吓人": "威胁人",
    "扑人": "威胁人",
    # Water that does not come.
    "不出水": "没有水",
    "没水": "没有水",
    "停水": "没有水",
    "断水": "没有水",
    "水出不来": "没有水",
    # A doctor's appointment ("约个号") and an alarm to call for help.
    "挂号": "预约门诊",
    "约个号": "预约门诊",
    "约号": "预约门诊",
    "叫人的": "呼叫器",
    "呼救": "紧急呼叫",
    "一键呼叫": "紧急呼叫器",
    # For or against.
    "不同意": "反对",
    "不赞成": "反对",
    "不支持": "反对",
    "同意": "支持",
    "赞成": "支持",
    # Characters miswritten for others that sound the same (同音字), as dictation and
    # pinyin input write them.
    "景盖": "井盖",
    "井改": "井盖",
    "路等": "路灯",
    "拉圾": "垃圾",
    "垃级": "垃圾",
    # Dust.
    "到处是灰": "到处扬尘",
    "全是灰": "全是扬尘",
    "都是灰": "都是扬尘",
    "灰大": "扬尘大",
    "灰尘": "扬尘",
    "粉尘": "扬尘",
    "尘土": "扬尘",
}


# Longest first, so "非机动车道" is not read as "机动车道" with a 非 before it.
_CHINESE_SYNONYM_ORDER = sorted(_CHINESE_SYNONYMS, key=len, reverse=True)


def with_chinese_synonyms(text: str) -> str:
    """``text`` with its Chinese words written as the options write them (周六 as 星期六)."""
    for word in _CHINESE_SYNONYM_ORDER:
        text = text.replace(word, _CHINESE_SYNONYMS[word])
    return text


def _chinese_pairs(run: str) -> list[str]:
    run = with_chinese_synonyms(run)
    for phrase in _CHINESE_FILLER:
        run = run.replace(phrase, " ")
    pairs: list[str] = []
    for piece in run.split():
        pairs += [piece[i : i + 2] for i in range(len(piece) - 1)]
        # Each character too, as weaker evidence (see word_fit): "弄坏" meets "坏了" on 坏;
        # not the characters that only build sentences (或, 和, 的), which many options have.
        pairs += [char for char in piece if char not in _GRAMMAR_CHARACTERS or len(piece) == 1]
    return pairs


# Characters that carry no meaning of their own in an answer: "or", "and", particles, measure
# words. As a pair with another they still count ("或者"). Negations do mean something alone
# ("没" meets "完全没有水").
_GRAMMAR_CHARACTERS = frozenset("或和与及也都就还很太是在了着过的地得个些吗呢吧")


def position_in(text: str, count: int) -> int | None:
    """The 1-based position ``text`` names among ``count`` options ("2", "the second one",
    "第二个")."""
    chinese = _CHINESE_POSITION.match(text)
    if chinese is not None:
        said = chinese.group(1)
        number = int(said) if said.isdigit() else _CHINESE_DIGITS[said]
        return number if 1 <= number <= count else None
    if _CHINESE_LAST.match(text):
        return count
    found = _WORD.findall(fold(text))
    rest = [w for w in found if w not in _POSITION_FILLER]
    # "one", "number one", "option one please": the first; "the one", "that one" name none.
    if not rest and "one" in found and not {"the", "that", "this", "just"} & set(found):
        rest = ["one"]
    if len(rest) != 1:
        return None
    word = rest[0]
    if word.isdigit():
        number = int(word)
    elif word in _ORDINAL_WORDS:
        number = _ORDINAL_WORDS[word]
    elif word in _LAST:
        number = count
    else:
        return None
    return number if 1 <= number <= count else None


@lru_cache(maxsize=4096)
def _edits_within(a: str, b: str, limit: int) -> bool:
    """Whether ``a`` becomes ``b`` in at most ``limit`` edits (a swap of neighbours is one)."""
    if abs(len(a) - len(b)) > limit:
        return False
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        if min(current) > limit:
            return False
        previous2, previous = previous, current
    return previous[-1] <= limit


def _typo_limit(word: str) -> int:
    return 2 if len(word) >= 8 else 1 if len(word) >= 4 else 0


def word_fit(said: str, option_word: str) -> float:
    """How well one typed word stands for one word of an option, from 1 (the same) to 0.

    The same word or stem 1; a synonym 0.9; a typo of the word, or its start ("pave" for
    "pavement", four letters at least) 0.8; a typo of a synonym 0.7. One Chinese character
    (see :func:`meaningful_words`) 0.5: a pair of characters says more.
    """
    if said == option_word:
        return 0.5 if len(said) == 1 and _CHINESE_RUN.match(said) else 1.0
    if stem(said) == stem(option_word):
        return 1.0
    synonyms = _SYNONYMS.get(option_word) or _SYNONYMS.get(stem(option_word), frozenset())
    if said in synonyms or stem(said) in {stem(s) for s in synonyms}:
        return 0.9
    if _typo_of(said, option_word) or (len(said) >= 4 and option_word.startswith(said)):
        return 0.8
    # Not a typo of a word of "no": "none" is not "nope", nor "not" in "does not work".
    if option_word not in _NO_WORDS and any(_typo_of(said, synonym) for synonym in synonyms):
        return 0.7
    return 0.0


def _typo_of(said: str, word: str) -> bool:
    limit = min(_typo_limit(said), _typo_limit(word))
    return bool(limit) and said[0] == word[0] and _edits_within(said, word, limit)


def _option_words(key: str, name: str) -> set[str]:
    return set(meaningful_words(name)) | set(meaningful_words(key.replace("_", " ")))


def _options_fitting(word: str, options: Sequence[Option]) -> int:
    return sum(
        any(word_fit(word, own) for own in _option_words(key, name)) for key, name in options
    )


def match_option(
    text: str,
    options: Sequence[Option],
    *,
    by_position: bool = True,
    ignore: frozenset[str] = frozenset(),
    distinct_only: bool = False,
) -> OptionMatch:
    """The option ``text`` names: by key or name, by its place in the list, or by its words.

    ``by_position`` False leaves out "2" and "the second one", for reading a sentence that
    was not an answer to this list; ``ignore`` holds stems of words that count for no option
    there (see :func:`context_words`), and ``distinct_only`` drops the words that fit more than
    one option ("new" in "Connect a new supply" and "Move my account to my new home").
    """
    wanted = fold(text).strip().strip(".!")
    if not wanted or not options:
        return OptionMatch(None)
    for key, name in options:
        if wanted in (fold(key), fold(name)):
            return OptionMatch(key)
    position = position_in(wanted, len(options)) if by_position else None
    if position is not None:
        return OptionMatch(options[position - 1][0])
    not_known = _SAYS_NOT_KNOWN.search(wanted)
    if not_known:
        # "no idea, that's what I'm asking" takes an "I do not know" option; without one the
        # words of not knowing ("no", "not") say nothing about the others.
        option = next((key for key, name in options if means_not_known(key, name)), None)
        if option is not None:
            return OptionMatch(option)
        wanted = _SAYS_NOT_KNOWN.sub(" ", wanted)
    if by_position:
        plain = _yes_or_no(wanted, options)
        if plain is not None:
            return OptionMatch(plain)
    # "as big as a car wheel" is about that size, not bigger than it.
    wanted = _AS_BIG_AS.sub(" ", wanted)
    wanted = _without_negated_clauses(wanted, options)
    whole = _chinese_label_said(wanted, options, ignore)
    if whole is not None:
        return OptionMatch(whole, score=2.0)
    said = [word for word in meaningful_words(wanted) if stem(word) not in ignore]
    # A word said twice is one piece of evidence: "Stanley Street ... in the street" is not
    # two words for "A cycle lane". Read off a story, so is one thing said in two words of
    # one meaning: "in my street ... to the road" says where, not "a road or path" twice. In
    # an answer to the question, two such words still count ("my two daughters, for the
    # children" is the child benefit, not "Another payment").
    said = _first_of_each_meaning(said) if distinct_only else _first_of_each_stem(said)
    if distinct_only:
        said = [word for word in said if _options_fitting(word, options) <= 1]
    if not said:
        return OptionMatch(None)
    scores: list[tuple[float, str]] = []
    fitting: dict[str, set[str]] = {}
    for key, name in options:
        words = _option_words(key, name)
        score = 0.0
        for word in said:
            best = max((word_fit(word, own) for own in words), default=0.0)
            if best:
                fitting.setdefault(key, set()).add(word)
            score += best
        scores.append((score, key))
    ranked = sorted(scores, key=lambda item: -item[0])
    best_score, best_key = ranked[0]
    unknown = tuple(w for w in said if not any(w in found for found in fitting.values()))
    if best_score <= 0:
        return OptionMatch(None, unknown_words=unknown)
    tied = tuple(key for score, key in ranked if score == best_score)
    if len(tied) > 1:
        return OptionMatch(None, tied=tied, unknown_words=unknown)
    return OptionMatch(
        best_key,
        strength=len(fitting[best_key]) / len(said),
        score=best_score,
        runner_up=ranked[1][0] if len(ranked) > 1 else 0.0,
    )


# A leading "I" in a Chinese option's label ("我反对"): the citizen says "……我反对" or "反对".
_LEADING_PRONOUN = re.compile(r"^(?:我们|我家|本人|我)")
# Labels that catch what the others do not ("其他原因"): said in passing, they name nothing.
_CHINESE_OTHER = re.compile(r"^(?:其他|其它|别的)")


def label_core(name: str) -> str:
    """An option's label as a citizen would say it back: folded, less a leading 我 ("我反对":
    "反对")."""
    return _LEADING_PRONOUN.sub("", fold(name).strip())


def _chinese_label_said(text: str, options: Sequence[Option], ignore: frozenset[str]) -> str | None:
    """The one option whose whole Chinese label (less a leading 我) ``text`` says word for
    word: "……我要说一下我反对" names 我反对, although 我有意见要说 shares more single characters
    (要, 说) with it. Chinese is read in characters and pairs of them, so a longer label
    gathers such chance evidence; a label said whole is better evidence than any of it.

    Labels of one character, "other" labels, labels made only of the service name's words
    (``ignore``) and labels said inside another said label ("有水" in "没有水") do not count;
    two labels said whole name neither."""
    if not _CHINESE_RUN.search(text):
        return None
    said: list[tuple[str, str]] = []
    for key, name in options:
        core = label_core(name)
        if len(core) < 2 or not _CHINESE_RUN.fullmatch(core) or _CHINESE_OTHER.match(core):
            continue
        pairs = {core[i : i + 2] for i in range(len(core) - 1)}
        if pairs <= ignore or core not in text:
            continue
        said.append((key, core))
    said = [(key, core) for key, core in said if not any(core != c and core in c for _, c in said)]
    return said[0][0] if len(said) == 1 else None


# A Chinese clause that says what is not so: "还没咬到人", "不是我自己", "也没找到新工作".
# Clauses end at punctuation or a space; a question mark stays with its clause.
_CHINESE_CLAUSES = re.compile(r"(?<=[？?])|[\s,，。；;！!、]+")
_QUESTION_BACK = re.compile(r"[？?]\s*$")
# A subject of up to four characters may come first ("新房没通燃气"); "没了" (is gone) says
# what is so, not what is not. "不光乱跑" (not only loose) points past itself too.
_NEGATED_CLAUSE = re.compile(
    r"^(?:但是?|可是?|而且|并且)?(?:[\u4e00-\u9fff]{1,4}?)??(?:还|也|并|都|从)?(没有?|不是|未|不光|不仅|不只|不止)(?![了啦])"
)
# A citizen correcting themselves within an answer.
_CHINESE_CORRECTION = re.compile(
    r"(?:^|[\s,.，。…!！]+)(?:不对不对|不对|说错了|哦不|噢不|不不)(?=[\s,.，。…!！]|$)"
)
# A clause that speaks to the listener ("你们是管马路的吧", "您能不能"), not about the matter.
_ADDRESSING = re.compile(r"^(?:喂+)?(?:你们|您们|你|您)(?:这里|这边)?(?:是|管|负责|能|可以|会)")


def denies(clause: str, options: Sequence[Option]) -> bool:
    """Whether a Chinese ``clause`` says what is not so ("新房没通燃气"), where no option
    itself says that denial (then the clause names that option: "没有水")."""
    denial = _NEGATED_CLAUSE.match(clause.strip())
    return denial is not None and not any(denial.group(1) in fold(name) for _, name in options)


def _without_negated_clauses(text: str, options: Sequence[Option]) -> str:
    """``text`` without its Chinese clauses that deny something ("它冲人叫 还没咬到人": not
    bitten), unless an option itself says that denial ("没有", "不是本人"), and without the
    questions it asks back ("什么意思？是问新开还是过户？新开": the answer is 新开).

    In English, a clause after the first that starts with a denial ("Rats. Big ones, not
    little mice", "by the bins, not inside my flat") goes too, unless an option says it."""
    if not _CHINESE_RUN.search(text):
        return _without_english_denials(text, options)
    # "在外面乱跑……不对 不光乱跑 它老往人身上扑": what follows a correction is the answer.
    corrected = _CHINESE_CORRECTION.split(text)
    if (
        len(corrected) > 1
        and corrected[-1].strip()
        and not any(_CHINESE_CORRECTION.search(fold(name)) for _, name in options)
    ):
        text = corrected[-1]
    kept = []
    for clause in _CHINESE_CLAUSES.split(text):
        if denies(clause, options) or _ADDRESSING.match(clause):
            continue
        kept.append(clause)
    answers = [clause for clause in kept if clause.strip() and not _QUESTION_BACK.search(clause)]
    return " ".join(answers or kept) if any(kept) else text


_ENGLISH_CLAUSES = re.compile(r"[.,;!?]+\s*|\s+but\s+", re.IGNORECASE)
_ENGLISH_DENIAL = re.compile(r"^\W*(?:and\s+|but\s+)?(not|never|no)\b", re.IGNORECASE)


def _without_english_denials(text: str, options: Sequence[Option]) -> str:
    clauses = [clause for clause in _ENGLISH_CLAUSES.split(text) if clause.strip()]
    if len(clauses) < 2:
        return text
    kept = [clauses[0]]
    for clause in clauses[1:]:
        denial = _ENGLISH_DENIAL.match(clause)
        said = denial.group(1).casefold() if denial else ""
        if denial and not any(re.search(rf"\b{said}\b", fold(name)) for _, name in options):
            continue
        kept.append(clause)
    return " ".join(kept)


def _first_of_each_stem(words: list[str]) -> list[str]:
    """``words`` in their order, each stem kept once (at its first word)."""
    seen: set[str] = set()
    kept: list[str] = []
    for word in words:
        if stem(word) not in seen:
            seen.add(stem(word))
            kept.append(word)
    return kept


def _meaning(word: str) -> str | frozenset[str]:
    """What ``word`` stands for when counting evidence: its synonyms, or else its stem."""
    return _SYNONYMS.get(word) or _SYNONYMS.get(stem(word)) or stem(word)


def _first_of_each_meaning(words: list[str]) -> list[str]:
    """``words`` in their order, each meaning kept once (at its first word)."""
    seen: set[str | frozenset[str]] = set()
    kept: list[str] = []
    for word in words:
        meaning = _meaning(word)
        if meaning not in seen:
            seen.add(meaning)
            kept.append(word)
    return kept


# Saying one does not know, and an option that means it ("I do not know", "Not sure").
_SAYS_NOT_KNOWN = re.compile(
    r"\b(no idea|no clue|not a clue|not sure|unsure|(don'?t|do not|dont) know|dunno|idk|"
    r"not certain|can'?t say|cannot say|haven'?t a clue)\b|不知道|不清楚|不确定|说不好|不晓得"
)
_NOT_KNOWN_OPTION = re.compile(
    r"\b(do not know|don'?t know|not sure|unknown|no idea|cannot say)\b|不知道|不清楚|不确定"
)


def means_not_known(key: str, name: str) -> bool:
    """Whether an option is the one for a citizen who does not know."""
    return key == "unknown" or bool(_NOT_KNOWN_OPTION.search(fold(name)))


_YES = frozenset({"yes", "yeah", "yep", "yup", "sure", "correct", "definitely"})
# A Chinese answer starts with its yes or no: "是的，孩子们天天走这条路", "不是".
_CHINESE_YES_NO = re.compile(
    r"^\W*(?:(?P<no>不是|不对|没有|不|否|没)|是|对|好的|可以|嗯|确认|没错)"
)
_NO = frozenset({"no", "nope", "nah", "never"})
_NOT_AN_ANSWER = frozenset({"idea", "clue"})  # "no idea" does not say "No"


def _yes_or_no(text: str, options: Sequence[Option]) -> str | None:
    """ "yes, it's the path the children take" to a question whose options are Yes and No
    (in English, or 是 and 否)."""
    names = {fold(name).strip(".!。！"): key for key, name in options}
    if {"是", "否"} <= names.keys():
        names = {**names, "yes": names["是"], "no": names["否"]}
    words = _WORD.findall(text)
    if not words or not {"yes", "no"} <= names.keys() or _NOT_AN_ANSWER & set(words[1:2]):
        return None
    chinese = _CHINESE_YES_NO.match(text)
    if chinese is not None:
        return names["no"] if chinese.group("no") else names["yes"]
    if words[0] in _YES:
        return names["yes"]
    if words[0] in _NO:
        return names["no"]
    return None


# Words that frame a description rather than say what is wrong ("the place looked dirty"):
# in a sentence said for another purpose they point at no option.
_FRAMING = frozenset(
    stem(word)
    for word in [
        "place",
        "look",
        "looked",
        "looks",
        "looking",
        "seem",
        "seems",
        "seemed",
        "thing",
        "things",
        "something",
        "stuff",
        "way",
        "kind",
        "sort",
        "lot",
        "bit",
        "area",
        "people",
        "person",
        "someone",
        "somebody",
        "time",
    ]
)


def context_words(*texts: str) -> frozenset[str]:
    """Stems that cannot tell a list's options apart in a description: framing words, and
    the words of the chosen service's own name ("doctor" in a request for a doctor's
    appointment says which service, not which of its options)."""
    return _FRAMING | frozenset(stem(word) for text in texts for word in meaningful_words(text))


# Declining in plain words, at a step that may be declined (being contacted, a name).
_DECLINE = re.compile(
    r"\b(?:no|nope|nah|not|don'?t|do not|rather not|prefer not|anonymous(?:ly)?|"
    r"no thanks?|no thank you|skip|none|nothing|never mind|keep it private|private|"
    r"just (?:reply|answer|write) here|here only|in (?:this|the) chat|needn'?t|no need|"
    r"(?:i'?ll |i will )?leave (?:it|that)|i'?ll pass|(?:don'?t|do not) bother)\b"
    r"|不用|不留|不要联系|匿名|不方便|不需要|不想(留|给|说)|算了|^\W*没有\W*$|没有(照片|图片|相片)|没照片|没图",
    re.IGNORECASE,
)


def declines(text: str) -> bool:
    """True when ``text`` says no ("I'd rather not say", "anonymous please", "no thanks")."""
    return bool(_DECLINE.search(fold(text)))
