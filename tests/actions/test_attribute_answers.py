"""Answers to Open311 attribute questions, checked by datatype."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from actions.attribute_answers import Question, answers_in, parse_answer, partly_chosen

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=timezone.utc)
DAMAGE: Question = {
    "code": "damage",
    "datatype": "multivaluelist",
    "question": "What is damaged?",
    "hint": "",
    "choices": [["glass", "Broken glass"], ["seat", "The seat"], ["roof", "The roof"]],
}


def question(datatype: str, *choices: str) -> Question:
    return {
        "code": "q",
        "datatype": datatype,
        "question": "?",
        "hint": "",
        "choices": [[key, f"{key.title()} thing"] for key in choices],
    }


@pytest.mark.parametrize(
    ("datatype", "raw", "expected"),
    [
        ("number", "3", ("3",)),
        ("number", "about 2.5 metres", ("2.5",)),
        ("number", "three", ("3",)),
        ("number", "3 or 4", None),
        ("number", "lots", None),
        ("number", "just the one", ("1",)),
        ("number", "a couple of them", ("2",)),
        ("number", "prob 15cm deep", ("15",)),
        ("number", "one sofa and one bed", None),
        ("number", "three, me and my two children", ("3",)),
        ("number", "three of us, me and the two kids", ("3",)),
        ("number", "we are 4, me, my wife and 2 kids", ("4",)),
        ("number", "me and my 2 sons, so 3 in total", ("3",)),
        ("number", "fifteen years", ("15",)),
        ("number", "she's eighty-three", ("83",)),
        ("datetime", "yesterday", ("2026-05-09T12:00:00Z",)),
        ("datetime", "2 hours ago", ("2026-05-10T10:00:00Z",)),
        ("datetime", "01/05/2026", ("2026-05-01T00:00:00Z",)),
        ("datetime", "2026-05-08T22:30:00+01:00", ("2026-05-08T22:30:00+01:00",)),
        ("datetime", "next year", None),
        ("datetime", "about one week before", ("2026-05-03T12:00:00Z",)),
        ("datetime", "on friday", ("2026-05-08T12:00:00Z",)),
        # Ahead, for an appointment, a journey or an event.
        ("datetime", "next Thursday", ("2026-05-14T12:00:00Z",)),
        ("datetime", "tomorrow please", ("2026-05-11T12:00:00Z",)),
        ("datetime", "in 2 weeks", ("2026-05-24T12:00:00Z",)),
        ("datetime", "12 May", ("2026-05-12T00:00:00Z",)),
        ("datetime", "the 3rd of June 2027", ("2027-06-03T00:00:00Z",)),
        ("datetime", "mornings are better", None),
        ("datetime", "the 3rd of next month", ("2026-06-03T00:00:00Z",)),
        ("datetime", "yday bout quarter to 4", ("2026-05-09T12:00:00Z",)),
        ("datetime", "on the first of this month", ("2026-05-01T00:00:00Z",)),
        ("datetime", "the 28th of last month", ("2026-04-28T00:00:00Z",)),
        ("datetime", "from the middle of june, after the holidays", ("2026-06-15T00:00:00Z",)),
        ("datetime", "since february", ("2026-02-01T00:00:00Z",)),
        ("datetime", "you may come any time", None),
        ("datetime", "2030-01-01", None),
        ("string", " SL-1042 ", ("SL-1042",)),
        ("string", "x" * 300, None),
        ("text", "", None),
    ],
)
def test_scalar_datatypes(datatype: str, raw: str, expected: tuple[str, ...] | None) -> None:
    values, problem = parse_answer(question(datatype), raw, now=lambda: NOW)

    assert values == expected
    assert (problem is None) == (expected is not None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("road", ("road",)),
        ("Pavement thing", ("pavement",)),
        ("2", ("pavement",)),
        ("pave", ("pavement",)),
        ("thing", None),
        ("4", None),
        ("sky", None),
    ],
)
def test_single_value_lists_accept_keys_names_and_numbers(
    raw: str, expected: tuple[str, ...] | None
) -> None:
    assert parse_answer(question("singlevaluelist", "road", "pavement", "crossing"), raw)[0] == (
        expected
    )


def named(datatype: str, *options: tuple[str, str]) -> Question:
    return {
        "code": "q",
        "datatype": datatype,
        "question": "?",
        "hint": "",
        "choices": [list(pair) for pair in options],
    }


BIN_REASONS = named(
    "singlevaluelist",
    ("moved", "I have just moved in"),
    ("stolen", "Mine was stolen"),
    ("damaged", "Mine is damaged"),
    ("larger", "I need a larger or extra bin"),
)
PETS = named("singlevaluelist", ("dog", "A dog"), ("cat", "A cat"))


@pytest.mark.parametrize(
    ("q", "service_name", "raw", "expected"),
    [
        # "bin" names the service, not the larger bin; "took" and "gone" say stolen.
        (BIN_REASONS, "New, replacement or extra bin", "it got took, the bin was gone", "stolen"),
        (BIN_REASONS, "New, replacement or extra bin", "we need a bigger bin", "larger"),
        # Only the service's own word fits: it still chooses.
        (PETS, "Dog or pet licence", "the dog", "dog"),
    ],
)
def test_the_services_own_words_choose_an_option_only_when_nothing_else_does(
    q: Question, service_name: str, raw: str, expected: str
) -> None:
    assert parse_answer(q, raw, service_name=service_name)[0] == (expected,)


def test_without_the_services_name_its_words_count_like_any_other() -> None:
    # What the name changes: here "bin" (1.0) outweighs "nicked" (a synonym, 0.9).
    assert parse_answer(BIN_REASONS, "someone nicked the bin")[0] == ("larger",)
    named_service = {"service_name": "New, replacement or extra bin"}
    assert parse_answer(BIN_REASONS, "someone nicked the bin", **named_service)[0] == ("stolen",)


SIGNALS = named(
    "singlevaluelist",
    ("all_off", "All lights are off"),
    ("stuck", "Stuck on one colour"),
    ("crossing", "The crossing button does not work"),
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("none of them are on, completely dead", ("all_off",)),
        ("the button is not working", ("crossing",)),
    ],
)
def test_dead_lights_are_off_and_none_is_no_typo_of_not(
    raw: str, expected: tuple[str, ...]
) -> None:
    assert parse_answer(SIGNALS, raw)[0] == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("一共两件", ("2",)),
        ("三个人", ("3",)),
        ("一百二十块", ("120",)),
        ("一百零五块", ("105",)),
        ("估计一百来人吧", ("100",)),  # said roughly: 来, 多, 几, 左右
        ("五十多个", ("50",)),
        ("二十左右", ("20",)),
        ("一百二", ("120",)),
        ("两件沙发和一个床垫", None),  # two counts: which is the answer?
        ("一下子说不清", None),
        ("两棵，都是香樟", ("2",)),  # any measure word; what follows the comma explains it
        ("五盏灯不亮", ("5",)),
        ("两千五百块", ("2500",)),
        ("两千五", ("2500",)),
        ("一万二", ("12000",)),
        ("三四个", None),  # a range: asked again
        ("一家三口", ("3",)),  # 一家 is the family, not a count of households
    ],
)
def test_counts_in_chinese_numerals(raw: str, expected: tuple[str, ...] | None) -> None:
    assert parse_answer(question("number"), raw)[0] == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("4块6", ("4.6",)),  # the smaller unit of 块 is tenths (毛), not hundredths
        ("4块6毛5", ("4.65",)),
        ("4元6角5分", ("4.65",)),
        ("12块80", ("12.8",)),
        ("十块五", ("10.5",)),
        ("5毛", ("0.5",)),
        ("一米五", ("1.5",)),
        ("4块6，多扣的那一次", ("4.6",)),  # the amount said first, then which time
        ("twelve euros fifty", ("12.5",)),
        ("4 pounds 6", ("4.06",)),
    ],
)
def test_chinese_amounts_with_their_smaller_unit(raw: str, expected: tuple[str, ...]) -> None:
    assert parse_answer(question("number"), raw)[0] == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("4张，哦不5张……算了就4张吧", ("4",)),  # 算了 settles on what follows
        ("3个，说错了，是5个", ("5",)),
        ("就两张算了", ("2",)),
        ("算了，不知道", None),
    ],
)
def test_a_chinese_count_corrected_in_the_answer(
    raw: str, expected: tuple[str, ...] | None
) -> None:
    assert parse_answer(question("number"), raw)[0] == expected


def test_multi_value_lists() -> None:
    q = question("multivaluelist", "glass", "paper", "food")

    assert parse_answer(q, "glass, food and glass")[0] == ("glass", "food")
    assert parse_answer(q, "glass, bricks")[0] is None


def test_non_text_answers_are_refused() -> None:
    assert parse_answer(question("string"), {"choice": "x"}) == (None, "utter_answer_empty")


FOOD_CONCERN: Question = {
    "code": "concern",
    "datatype": "singlevaluelist",
    "question": "What is your concern?",
    "hint": "",
    "choices": [
        ["illness", "I was ill after eating there"],
        ["hygiene", "The place looked dirty or unhygienic"],
        ["date", "Food past its use-by date"],
    ],
}
DOCTOR_REQUEST: Question = {
    "code": "request",
    "datatype": "singlevaluelist",
    "question": "What would you like to do?",
    "hint": "",
    "choices": [
        ["book", "Book an appointment"],
        ["change", "Change or cancel an appointment"],
        ["register", "Register with a doctor"],
    ],
}


@pytest.mark.parametrize(
    ("description", "question", "service_name", "expected"),
    [
        # Framing words ("that place", "looked") say nothing about the concern.
        (
            "we ate at that noodle place and all three of us were ill the next day",
            FOOD_CONCERN,
            "Food safety or hygiene problem",
            {"concern": ["illness"]},
        ),
        (
            "the kitchen was dirty, mouse droppings by the fridge",
            FOOD_CONCERN,
            "Food safety or hygiene problem",
            {"concern": ["hygiene"]},
        ),
        # "doctor" names the service, not one of its options: the question is asked.
        (
            "hello, is this where i can see a doctor? my knee has been bad for weeks",
            DOCTOR_REQUEST,
            "Book a doctor's appointment",
            {},
        ),
    ],
)
def test_a_description_answers_only_what_it_clearly_says(
    description: str, question: Question, service_name: str, expected: dict[str, list[str]]
) -> None:
    assert answers_in(description, [question], service_name=service_name) == expected


def test_words_that_fit_several_options_or_name_the_service_answer_nothing() -> None:
    request: Question = {
        "code": "request",
        "datatype": "singlevaluelist",
        "question": "What do you need?",
        "hint": "",
        "choices": [
            ["connect", "Connect a new supply"],
            ["transfer", "Move my account to my new home"],
        ],
    }
    reason: Question = {
        "code": "reason",
        "datatype": "singlevaluelist",
        "question": "Why are you applying?",
        "hint": "",
        "choices": [["first", "It is my first ID card"], ["renewal", "My card will expire"]],
    }

    assert answers_in("new flat, need electric n water set up", [request]) == {}
    assert (
        answers_in("my ID card is finish, I need new one", [reason], service_words="id card") == {}
    )
    assert answers_in("moving to my new home, move the account", [request]) == {
        "request": ["transfer"]
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("yes, it's the path the children walk to school on", ("yes",)),
        ("nope, nowhere near", ("no",)),
        ("it's near the school gate", None),
    ],
)
def test_a_sentence_starting_yes_or_no_answers_a_yes_no_question(
    raw: str, expected: tuple[str, ...] | None
) -> None:
    yes_no = {
        "code": "near",
        "datatype": "singlevaluelist",
        "question": "Is it near a school?",
        "hint": "",
        "choices": [["yes", "Yes"], ["no", "No"]],
    }
    assert parse_answer(yes_no, raw)[0] == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("the glass and the seat, both", ("glass", "seat")),
        ("glass, seat, all of them", ("glass", "seat")),
        ("glass n seat", ("glass", "seat")),
        ("both", None),
    ],
)
def test_a_list_answer_may_say_both(raw: str, expected: tuple[str, ...] | None) -> None:
    assert parse_answer(DAMAGE, raw)[0] == expected


def test_the_parts_of_a_list_answer_that_name_options_are_kept() -> None:
    assert partly_chosen(DAMAGE, "the glass, and the whole thing wobbles") == (
        ["glass"],
        "the whole thing wobbles",
    )
    assert partly_chosen(DAMAGE, "wobbly") == ([], "wobbly")


def test_one_word_in_a_long_story_answers_nothing() -> None:
    works: Question = {
        "code": "problem",
        "datatype": "singlevaluelist",
        "question": "What is the problem with the works?",
        "hint": "",
        "choices": [
            ["signs", "Signs, lights or diversion are missing or wrong"],
            ["overrunning", "The works are taking too long"],
        ],
    }
    story = (
        "they dug a trench outside the chemist in October, put the cones and the temporary "
        "lights up, and nobody has been seen working on it since, the buses queue for ages"
    )
    assert answers_in(story, [works]) == {}
    assert answers_in("the temporary lights are broken", [works]) == {"problem": ["signs"]}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("the seat and the roof, not the glass", ("seat", "roof")),
        ("roof but not the seat", ("roof",)),
        ("the seat, no glass", ("seat",)),
        ("seat except the roof", ("seat",)),
        ("everything except the roof", None),
        ("the seat and the roof, the glass is already okay", ("seat", "roof")),
        ("roof, the glass's fine", ("roof",)),
        ("the seat and the roof, the glass can stay for now", ("seat", "roof")),
    ],
)
def test_a_list_answer_may_leave_options_out(raw: str, expected: tuple[str, ...] | None) -> None:
    assert parse_answer(DAMAGE, raw)[0] == expected


def test_an_option_that_says_not_is_still_chosen_by_its_words() -> None:
    fault = {
        "code": "fault",
        "datatype": "multivaluelist",
        "question": "What is wrong with it?",
        "hint": "",
        "choices": [["off", "Not working at all"], ["flickering", "Flickering"]],
    }
    assert parse_answer(fault, "flickering, and not working at all some nights")[0] == (
        "flickering",
        "off",
    )


def test_a_story_names_list_options_clause_by_clause_but_not_in_passing() -> None:
    behaviour: Question = {
        "code": "behaviour",
        "datatype": "multivaluelist",
        "question": "What is happening? Choose all that apply.",
        "hint": "",
        "choices": [
            ["groups", "Groups gathering and causing trouble"],
            ["drinking", "Street drinking"],
            ["dealing", "Drug dealing"],
        ],
    }
    story = "I don't want to cause trouble, but they are drinking. Drug dealing as well"

    assert answers_in(story, [behaviour], lists=True) == {"behaviour": ["drinking", "dealing"]}
    assert answers_in(story, [behaviour]) == {}, "lists only when asked for"
    long_clause = "we sat on the bench near the shops waiting for the bus while drinking tea"
    assert answers_in(long_clause, [behaviour], lists=True) == {}


def test_a_word_said_twice_in_a_story_counts_once() -> None:
    """ "Stanley Street ... in the street" is one word near "lane", not two."""
    parking: Question = {
        "code": "request",
        "datatype": "singlevaluelist",
        "question": "What would you like?",
        "hint": "",
        "choices": [
            ["racks", "Cycle racks"],
            ["hangar", "A secure bike hangar"],
            ["lane", "A cycle lane"],
        ],
    }
    story = (
        "None of us on Stanley Street have anywhere to keep our bikes. Could we get one of "
        "those lockable bike hangars in the street?"
    )
    name = "Request bike parking or a cycle route"
    assert answers_in(story, [parking], service_name=name, service_words="bike bikes") == {}
    assert answers_in("a cycle lane please, a proper cycle lane", [parking], service_name=name) == {
        "request": ["lane"]
    }


def test_one_thing_said_in_two_words_of_the_same_meaning_counts_once() -> None:
    """ "in my street ... to the road" says where, once: not two words for "a road or path"."""
    problem: Question = {
        "code": "problem",
        "datatype": "singlevaluelist",
        "question": "What can you see?",
        "hint": "",
        "choices": [
            ["leak", "Clean water leaking from a pipe or the ground"],
            ["flooding", "Water is flooding a road or path"],
        ],
    }
    story = "in my street there is water coming out of the floor, it goes running to the road"

    assert answers_in(story, [problem], service_name="Water leak or blocked drain") == {}


def test_wanting_or_needing_names_no_option() -> None:
    reason: Question = {
        "code": "reason",
        "datatype": "singlevaluelist",
        "question": "Why do you need it?",
        "hint": "",
        "choices": [
            ["new_home", "I have just moved in"],
            ["stolen", "Mine was stolen"],
            ["larger", "I need a larger or extra bin"],
        ],
    }
    name = "New, replacement or extra bin"

    assert answers_in(
        "Our recycling bin was stolen, we need one new", [reason], service_name=name
    ) == {"reason": ["stolen"]}
    assert answers_in("we need one new please", [reason], service_name=name) == {}
    assert parse_answer(reason, "somebody steal it")[0] == ("stolen",)
    assert parse_answer(reason, "we need a bigger one")[0] == ("larger",)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("14 days, two weeks", ("14",)),
        ("two weeks", ("14",)),
        ("10 days", ("10",)),
        ("3 or 4 days", None),
        ("5 days and 2 skips", None),
    ],
)
def test_a_count_of_days_said_in_weeks_or_twice_in_two_units(
    raw: str, expected: tuple[str, ...] | None
) -> None:
    days: Question = {"code": "days", "datatype": "number", "question": "For how many days?"}

    assert parse_answer(days, raw)[0] == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("昨天", "2026-05-09T12:00:00Z"),
        ("明天下午三点", "2026-05-11T15:00:00Z"),
        ("三天前", "2026-05-07T12:00:00Z"),
        # 10 May 2026 is a Sunday: last week's Saturday, next week's Monday, the last Wednesday.
        ("上周六", "2026-05-02T12:00:00Z"),
        ("下星期一", "2026-05-11T12:00:00Z"),
        ("周三", "2026-05-06T12:00:00Z"),
        ("5月12日", "2026-05-12T12:00:00Z"),
        ("十二月二十五号", "2026-12-25T12:00:00Z"),
        ("后天上午九点半", "2026-05-12T09:30:00Z"),
        ("今晚8点", "2026-05-10T20:00:00Z"),
        ("不记得了", None),
    ],
)
def test_a_moment_said_in_chinese(raw: str, expected: str | None) -> None:
    moment: Question = {"code": "when", "datatype": "datetime", "question": "什么时候？"}

    values, _ = parse_answer(
        moment, raw, now=lambda: datetime(2026, 5, 10, 12, tzinfo=timezone.utc)
    )
    assert values == ((expected,) if expected else None)


@pytest.mark.parametrize(
    ("question", "raw", "expected"),
    [
        ("How much are you asking back?", "twenty three pounds fifty", ("23.5",)),
        ("How much are you asking back?", "£12.40", ("12.4",)),
        ("For how many days?", "one day, actually make it two to be safe, is that ok?", ("2",)),
        ("How many people?", "about 40, no, 50 I think", ("50",)),
        ("How many people?", "three, me and my two children", ("3",)),
    ],
)
def test_numbers_in_words_money_and_answers_that_correct_themselves(
    question: str, raw: str, expected: tuple[str, ...]
) -> None:
    assert parse_answer({"code": "n", "datatype": "number", "question": question}, raw)[0] == (
        expected
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("the twelfth of may twenty twenty three", "2023-05-12T00:00:00Z"),
        ("3rd of june two thousand and nineteen", "2019-06-03T00:00:00Z"),
        ("twenty first of march", "2026-03-21T00:00:00Z"),
    ],
)
def test_a_date_said_in_words(raw: str, expected: str) -> None:
    born: Question = {
        "code": "born",
        "datatype": "datetime",
        "question": "When was the child born?",
    }

    values, _ = parse_answer(born, raw, now=lambda: datetime(2026, 5, 10, 12, tzinfo=timezone.utc))
    assert values == (expected,)


@pytest.mark.parametrize(
    ("datatype", "choices", "raw", "expected"),
    [
        (
            "multivaluelist",
            [["water", "Water"], ["electricity", "Electricity"], ["gas", "Gas"]],
            "gas and electric not the water the landlord does that",
            ("gas", "electricity"),
        ),
        (
            "multivaluelist",
            [
                ["furniture", "Furniture: sofa or bed"],
                ["fridge", "Fridges"],
                ["appliance", "Washing machines"],
            ],
            "the sofa and the fridge, and the washing machine, no actually my brother's taking "
            "the washing machine, so just the sofa and fridge",
            ("furniture", "fridge"),
        ),
        (
            "singlevaluelist",
            [
                ["resident", "Resident permit"],
                ["visitor", "Visitor permits"],
                ["change", "Change the car"],
            ],
            "a permit for my car, no sorry, for theirs while they're staying",
            ("visitor",),
        ),
    ],
)
def test_a_list_answer_that_leaves_out_or_corrects_itself(
    datatype: str, choices: list[list[str]], raw: str, expected: tuple[str, ...]
) -> None:
    question: Question = {
        "code": "q",
        "datatype": datatype,
        "question": "Which?",
        "choices": choices,
    }

    assert parse_answer(question, raw)[0] == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("水和电都要过户", ("water", "electricity")),
        ("水、电，燃气不用", ("water", "electricity")),
        ("燃气不要，要水跟电", ("water", "electricity")),
        ("水跟电 新房没通燃气", ("water", "electricity")),  # a clause that denies
    ],
)
def test_a_chinese_list_answer_with_what_it_leaves_out(raw: str, expected: tuple[str, ...]) -> None:
    supply: Question = {
        "code": "utility",
        "datatype": "multivaluelist",
        "question": "是哪种？",
        "choices": [["water", "自来水"], ["electricity", "电"], ["gas", "燃气"]],
    }

    assert parse_answer(supply, raw)[0] == expected


DECEMBER_7 = datetime(2026, 12, 7, 15, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("上个月18号 不对 是19号 那天拿的钥匙搬进去的", ("2026-11-19T12:00:00Z",)),
        ("19号", ("2026-11-19T12:00:00Z",)),  # alone: the latest 19th
        ("这个月3号", ("2026-12-03T12:00:00Z",)),
        ("下个月5号上午十点", ("2027-01-05T10:00:00Z",)),
        ("上个月31号", None),  # November has no 31st
    ],
)
def test_a_chinese_day_of_the_month_without_its_month(
    raw: str, expected: tuple[str, ...] | None
) -> None:
    assert parse_answer(question("datetime"), raw, now=lambda: DECEMBER_7)[0] == expected


WEEKDAYS = {
    "code": "days",
    "datatype": "multivaluelist",
    "question": "?",
    "hint": "",
    "choices": [
        [key, name]
        for key, name in zip(
            ("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
            ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"),
            strict=True,
        )
    ],
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("就周六周日两天 平时要上班", ("sat", "sun")),  # no separator between the two
        ("周末", ("sat", "sun")),
        ("礼拜三", ("wed",)),
    ],
)
def test_chinese_options_written_one_after_another_are_all_chosen(
    raw: str, expected: tuple[str, ...]
) -> None:
    assert parse_answer(WEEKDAYS, raw)[0] == expected


UTILITIES = {
    "code": "utility",
    "datatype": "multivaluelist",
    "question": "?",
    "hint": "",
    "choices": [["water", "水"], ["electricity", "电"], ["gas", "燃气"]],
}
SITE = {
    "code": "problem",
    "datatype": "multivaluelist",
    "question": "?",
    "hint": "",
    "choices": [
        ["mud", "马路上有泥土或碎渣"],
        ["dust", "工地扬尘"],
        ["hours", "不在允许的时间施工：太早、太晚或夜里"],
    ],
}


@pytest.mark.parametrize(
    ("q", "raw", "expected"),
    [
        # Clauses left apart by spaces: one that says it is already there is left out.
        (UTILITIES, "电和燃气 水已经有了", ("electricity", "gas")),
        (
            SITE,
            "马路上全是工地带出来的泥 风一吹到处是灰 还有就是晚上十一点以后还在施工",
            ("mud", "dust", "hours"),
        ),
        (UTILITIES, "网", None),
    ],
)
def test_chinese_clauses_apart_by_spaces_are_parts_of_the_list(
    q: Question, raw: str, expected: tuple[str, ...] | None
) -> None:
    assert parse_answer(q, raw)[0] == expected


def test_a_comma_part_that_names_nothing_is_still_said_back() -> None:
    assert partly_chosen(UTILITIES, "电，网") == (["electricity"], "网")


def test_a_count_of_people_said_twice_is_one_count() -> None:
    assert parse_answer(question("number"), "我们一家三口 三个人")[0] == ("3",)


def test_a_clause_of_context_is_neither_chosen_nor_said_back() -> None:
    assert partly_chosen(UTILITIES, "电 平时要上班，网") == (["electricity"], "网")


def test_a_keyword_that_is_an_options_whole_label_still_names_it() -> None:
    # The consultation service is found by 反对 and 支持, and they are also two of its options:
    # "……我要说一下我反对" takes 我反对, not 我有意见要说 (which shares 要 and 说 with it).
    position: Question = {
        "code": "position",
        "datatype": "singlevaluelist",
        "choices": [["support", "我支持"], ["object", "我反对"], ["neutral", "我有意见要说"]],
    }
    story = "看到公示说老公交场站那块地要盖一栋二十层的楼，我要说一下我反对。"
    keywords = "征求意见 规划 公示 发表意见 反对 支持"
    found = answers_in(
        story, [position], service_name="对规划或征求意见发表看法", service_words=keywords
    )
    assert found == {"position": ["object"]}
    # A story that only gives its view in other words takes no option.
    assert answers_in("公示说那块地要盖楼，我想说说", [position], service_words=keywords) == {}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("明年1月14号，礼拜四", "2027-01-14T12:00:00Z"),  # the year said by where it lies
        ("去年5月1日", "2025-05-01T12:00:00Z"),
        ("1月14号，星期三", "2026-01-14T12:00:00Z"),  # the date, not last Wednesday
        ("14 January next year", "2027-01-14T00:00:00Z"),
        ("Wednesday 14 January", "2026-01-14T00:00:00Z"),
        ("last year, 3 March", "2025-03-03T00:00:00Z"),
    ],
)
def test_a_date_said_with_its_weekday_or_year_word(raw: str, expected: str) -> None:
    assert parse_answer(question("datetime"), raw, now=lambda: NOW)[0] == (expected,)
