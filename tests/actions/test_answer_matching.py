"""How typed words pick an option (actions/answer_matching.py)."""

from __future__ import annotations

import pytest

from actions.answer_matching import OptionMatch, declines, match_option, position_in, word_count

SIDES = [("road", "Road surface"), ("pavement", "Pavement"), ("verge", "Grass verge")]
BINS = [
    ("full", "A public bin is full or overflowing"),
    ("damaged", "A bin is damaged"),
    ("graffiti", "Graffiti on a wall"),
]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("road", "road"),  # a button's payload
        ("ROAD", "road"),
        ("Grass verge", "verge"),  # a name as shown
        ("grass verge.", "verge"),
        ("Pavement!", "pavement"),
    ],
)
def test_an_option_is_named_by_its_key_or_its_name(text: str, key: str) -> None:
    assert match_option(text, SIDES) == OptionMatch(key)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("1", "road"),
        ("2", "pavement"),
        ("no. 2", "pavement"),
        ("number 3 please", "verge"),
        ("the second one", "pavement"),
        ("2nd", "pavement"),
        ("third", "verge"),
        ("the first", "road"),
        ("one", "road"),
        ("the last one", "verge"),
        ("option 2", "pavement"),
    ],
)
def test_an_option_is_named_by_its_place_in_the_list(text: str, key: str) -> None:
    assert match_option(text, SIDES).key == key


@pytest.mark.parametrize(("text", "count"), [("4", 3), ("0", 3), ("the fifth one", 3)])
def test_a_place_beyond_the_list_names_no_option(text: str, count: int) -> None:
    assert position_in(text, count) is None
    assert match_option(text, SIDES[:count]).key is None


def test_two_numbers_are_not_a_place() -> None:
    assert position_in("2 or 3", 3) is None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("the bin is overflowing and smells", "full"),
        ("it is damaged", "damaged"),
        ("someone sprayed graffiti", "graffiti"),
        ("the bins are overflowing", "full"),  # plural endings
    ],
)
def test_an_option_is_named_by_its_words(text: str, key: str) -> None:
    found = match_option(text, BINS)

    assert found.key == key
    assert found.score > found.runner_up


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("it is broken", "damaged"),  # broken ~ damaged
        ("smashed", "damaged"),
        ("it is packed", "full"),  # packed ~ full
    ],
)
def test_common_synonyms_count(text: str, key: str) -> None:
    found = match_option(text, BINS)

    assert found.key == key
    assert found.score == pytest.approx(0.9), "a synonym counts a little less than the word"


def test_a_synonym_works_both_ways() -> None:
    options = [("litter", "Litter in the street"), ("dog", "Dog fouling")]

    assert match_option("rubbish", options).key == "litter"
    assert match_option("trash", options).key == "litter"
    assert match_option("litter", [("rubbish", "Rubbish not collected"), *options[1:]]).key == (
        "rubbish"
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("pavemnet", "pavement"),  # a swap of neighbours is one edit
        ("pavment", "pavement"),
        ("overflowng bin", "full"),
        ("grafiti", "graffiti"),
    ],
)
def test_typos_are_forgiven(text: str, key: str) -> None:
    options = SIDES if key in dict(SIDES) else BINS

    assert match_option(text, options).key == key


def test_short_words_allow_no_typo() -> None:
    # "rod" is one edit from "road", but words under four letters must be typed right.
    assert match_option("rod", SIDES).key is None


def test_the_start_of_a_word_names_it() -> None:
    found = match_option("pave", SIDES)

    assert found.key == "pavement"
    assert found.score == pytest.approx(0.8)


def test_a_start_shorter_than_four_letters_does_not() -> None:
    assert match_option("pav", SIDES).key is None


def test_a_tie_gives_the_tied_options_and_no_key() -> None:
    found = match_option("the bin", BINS)

    assert found.key is None
    assert found.tied == ("full", "damaged")


def test_words_that_fit_nothing_are_given_back() -> None:
    found = match_option("purple elephant", BINS)

    assert found == OptionMatch(None, unknown_words=("purple", "elephant"))


def test_the_words_that_fit_are_not_among_the_unknown_ones() -> None:
    found = match_option("the purple bin", BINS)

    assert found.key is None
    assert found.tied == ("full", "damaged")
    assert found.unknown_words == ("purple",)


def test_an_apostrophe_leaves_no_stray_letter_among_the_unknown_words() -> None:
    assert match_option("it's purple", BINS).unknown_words == ("purple",)


@pytest.mark.parametrize("text", ["", "   ", "the", "please"])
def test_nothing_meaningful_names_no_option(text: str) -> None:
    assert match_option(text, BINS) == OptionMatch(None)


def test_no_options_match_nothing() -> None:
    assert match_option("road", []) == OptionMatch(None)


@pytest.mark.parametrize("text", ["2", "the second one", "last"])
def test_without_positions_a_place_is_not_read(text: str) -> None:
    assert match_option(text, SIDES, by_position=False).key is None


def test_without_positions_words_and_names_still_are() -> None:
    assert match_option("the pavement", SIDES, by_position=False).key == "pavement"
    assert match_option("Grass verge", SIDES, by_position=False).key == "verge"


def test_a_clear_match_needs_a_whole_word_and_a_margin() -> None:
    assert match_option("the bin is overflowing", BINS).clear
    assert not match_option("pave", SIDES).clear, "a word's start is not enough"
    assert not match_option("2", SIDES).clear, "a place belongs to the list shown"
    assert not match_option("the bin", BINS).clear


@pytest.mark.parametrize(
    "text",
    [
        "I'd rather not say",
        "You needn't ring me, I've said my piece.",
        "no need to get back to me",
        "anonymous please",
        "no thanks",
        "No",
        "nope",
        "just reply here",
        "I'll leave it thanks",
        "i'll pass",
        "don't bother, just answer here",
        "skip",
        "keep it private",
        "I prefer not to",
    ],
)
def test_declining_in_plain_words(text: str) -> None:
    assert declines(text)


@pytest.mark.parametrize(
    "text",
    ["yes call me", "sure", "13912345678", "jo@example.org", "Li Na", "Nora Nott", "snowy"],
)
def test_what_is_not_a_no(text: str) -> None:
    assert not declines(text)


@pytest.mark.parametrize(
    "text", ["no idea, that is what I am asking you", "i have no clue", "dunno", "not sure"]
)
def test_not_knowing_takes_the_i_do_not_know_option_not_no(text: str) -> None:
    options = [("yes", "Yes"), ("no", "No"), ("unknown", "I do not know")]

    assert match_option(text, options).key == "unknown"


def test_not_knowing_says_nothing_about_the_other_options() -> None:
    assert match_option("no idea", [("yes", "Yes"), ("no", "No")]).key is None
    options = [("broken", "Broken"), ("missing", "Missing")]
    assert match_option("not sure, I think it has gone missing", options).key == "missing"


@pytest.mark.parametrize(
    ("text", "key"), [("the one for recycle", "recycling"), ("houses", "house")]
)
def test_a_silent_e_does_not_hide_a_word(text: str, key: str) -> None:
    options = [("general", "General rubbish"), ("recycling", "Recycling"), ("house", "A house")]

    assert match_option(text, options).key == key


BINS_ZH = [
    ("overflowing_bin", "公共垃圾桶满了或溢出"),
    ("damaged_bin", "公共垃圾桶坏了或不见了"),
    ("litter", "街道或人行道上有垃圾"),
]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("垃圾桶满了都溢出来了", "overflowing_bin"),
        ("桶被人弄坏了", "damaged_bin"),
        ("人行道上好多垃圾", "litter"),
        ("第二个", "damaged_bin"),
        ("选第3个", "litter"),
        ("3", "litter"),
        ("最后一个", "litter"),
    ],
)
def test_a_chinese_answer_meets_an_option_on_the_characters_they_share(text: str, key: str) -> None:
    assert match_option(text, BINS_ZH).key == key


@pytest.mark.parametrize(
    ("text", "key"),
    [("是的，孩子们天天走这条路", "yes"), ("不是", "no"), ("没有", "no"), ("好几天了", None)],
)
def test_a_chinese_yes_or_no_starts_the_answer(text: str, key: str | None) -> None:
    for options in ([("yes", "是"), ("no", "否")], [("yes", "Yes"), ("no", "No")]):
        assert match_option(text, options).key == key


@pytest.mark.parametrize(
    ("text", "declined"), [("不用了，谢谢", True), ("匿名", True), ("13912345678", False)]
)
def test_declining_in_chinese(text: str, declined: bool) -> None:
    assert declines(text) is declined


def test_a_loose_stone_is_not_a_missing_kerb() -> None:
    """ "stone" is one letter from "stole", so "stole" is no synonym of "missing"."""
    hazards = [
        ("loose_slab", "A loose or rocking paving slab"),
        ("kerb", "A broken or missing kerb"),
    ]

    assert match_option("the stone wobbles about when you step on it", hazards).key == "loose_slab"


def test_as_big_as_is_not_bigger() -> None:
    sizes = [("medium", "The size of a car tyre"), ("large", "Bigger than a car tyre")]

    equal = match_option("as big as a car tyre", sizes)
    assert equal.key is None, "not bigger: the size is asked again between the two"
    assert equal.tied == ("medium", "large")
    assert equal.unknown_words == ()
    assert match_option("it's huge, way bigger than a tyre", sizes).key == "large"


def test_two_words_of_one_meaning_count_twice_in_an_answer() -> None:
    payments = [("child", "Child benefit"), ("other", "Another payment")]

    said = "It's the payment I get for my two daughters, for the children."
    assert match_option(said, payments).key == "child"


@pytest.mark.parametrize(
    ("text", "key"),
    [("就在马路中间车走的地方", "road"), ("非机动车道上", "cycle_lane"), ("便道上", "pavement")],
)
def test_chinese_words_of_one_meaning_meet_the_options_word(text: str, key: str) -> None:
    positions = [
        ("road", "在车行道上"),
        ("cycle_lane", "在自行车道上"),
        ("pavement", "在人行道上"),
        ("crossing", "在人行横道上"),
    ]

    assert match_option(text, positions).key == key


@pytest.mark.parametrize(
    ("text", "declined"),
    [("没有照片，不好意思", True), ("没有", True), ("没有问题，打13912345678", False)],
)
def test_having_none_in_chinese_declines_only_when_it_says_so(text: str, declined: bool) -> None:
    assert declines(text) is declined


@pytest.mark.parametrize(
    ("text", "position"),
    [("number one", 1), ("option one please", 1), ("one please", 1), ("the one", None)],
)
def test_one_said_with_its_framing_is_the_first(text: str, position: int | None) -> None:
    assert position_in(text, 3) == position


@pytest.mark.parametrize(
    ("text", "count"),
    [("none of those, show me other ones", 5), ("按类别找吧", 3), ("A4纸没了", 3)],
)
def test_a_chinese_run_counts_a_word_per_two_characters(text: str, count: int) -> None:
    assert word_count(text) == count


DOG = [
    ("loose", "有狗在外面乱跑"),
    ("aggressive", "有狗在威胁人或其他动物"),
    ("bite", "有人被咬了"),
]
FOR_WHOM = [("self", "给我自己"), ("relative", "给亲戚或朋友")]
BENEFIT = [("claim", "新申请"), ("found_work", "告诉你们我找到工作了")]
HAVE = [("yes", "有"), ("no", "没有")]
DRAIN = [
    ("blocked_drain", "下水道或雨水口堵了"),
    ("flooding", "马路或路面积水"),
    ("missing_cover", "下水道井盖不见了或坏了"),
]
POSITION = [("support", "我支持"), ("object", "我反对"), ("neutral", "我有意见要说")]


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        # A clause that denies names nothing: not bitten, not for me, no new job yet.
        ("它冲人叫 还追小孩 还没咬到人 但是很凶", DOG, "aggressive"),
        ("给我妈申请的 不是我自己", FOR_WHOM, "relative"),
        ("申请领钱 还没找到新工作", BENEFIT, "claim"),
        # Unless an option says the denial itself.
        ("没有", HAVE, "no"),
        # A subject may come before the denial; "没了" (is gone) is no denial.
        ("是新申请 我家里没找到工作", BENEFIT, "claim"),
        ("井盖没了", DRAIN, "missing_cover"),
        # A clause speaking to the listener is not about the matter.
        ("喂喂 你们是管马路的吧 下水道的井盖不见了", DRAIN, "missing_cover"),
        # Miswritten characters that sound the same (景盖 for 井盖).
        ("景盖被人搬走了", DRAIN, "missing_cover"),
        ("不同意 坚决不能改", POSITION, "object"),
        # What follows a correction is the answer; "not only X" points past X.
        ("在外面乱跑……不对 它老往人身上扑 挺凶", DOG, "aggressive"),
        ("同意", POSITION, "support"),
    ],
)
def test_a_chinese_clause_that_denies_names_no_option(
    text: str, options: list[tuple[str, str]], expected: str
) -> None:
    assert match_option(text, options).key == expected


PESTS = [("rats", "Rats"), ("mice", "Mice"), ("cockroaches", "Cockroaches")]
PEST_PLACE = [
    ("home", "In my home"),
    ("street", "In the street or a public place"),
    ("business", "At a shop or restaurant"),
]


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        # A later clause that denies names nothing: not the mice, not the flat.
        ("Rats. Big ones, not little mice.", PESTS, "rats"),
        ("Outside by the bins, not inside my flat thank goodness.", PEST_PLACE, "street"),
        ("in the street, but not at the shop", PEST_PLACE, "street"),
        # The first clause is the answer, whatever it starts with.
        ("not sure, maybe mice", PESTS, "mice"),
    ],
)
def test_an_english_clause_that_denies_names_no_option(
    text: str, options: list[tuple[str, str]], expected: str
) -> None:
    assert match_option(text, options).key == expected


POSITION_ZH = [("support", "我支持"), ("object", "我反对"), ("neutral", "我有意见要说")]
WATER_ZH = [("none", "没有水"), ("some", "有水")]


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        # The whole label said outweighs the single characters a longer label shares.
        ("看到公示说要盖二十层的楼，我要说一下我反对。", POSITION_ZH, "object"),
        ("反对", POSITION_ZH, "object"),
        ("我有意见要说", POSITION_ZH, "neutral"),
        # A label said inside another said label ("有水" in "没有水") does not count.
        ("今天一早起来就没有水", WATER_ZH, "none"),
    ],
)
def test_a_chinese_label_said_whole_names_its_option(
    text: str, options: list[tuple[str, str]], expected: str
) -> None:
    assert match_option(text, options, by_position=False).key == expected
