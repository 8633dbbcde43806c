"""Reading phone, email and name from one message (actions/contact_details.py)."""

from __future__ import annotations

from typing import Any

import pytest

from actions.contact_details import (
    ContactDetails,
    check_email,
    check_name,
    check_phone,
    name_in,
    read_contact,
    split_name,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Li Na, 13912345678", ContactDetails(phone="13912345678", name="Li Na")),
        (
            "Harold Green, telephone 01632 960 456",
            ContactDetails(phone="01632 960 456", name="Harold Green"),
        ),
        ("13912345678 li na", ContactDetails(phone="13912345678", name="li na")),
        (
            "email me at jo@example.org, I'm Jo Lin",
            ContactDetails(email="jo@example.org", name="Jo Lin"),
        ),
        (
            "my name is Tom Baker and my number is 0612 345 678",
            ContactDetails(phone="0612 345 678", name="Tom Baker"),
        ),
        (
            "call 139 1234 5678 or write to jo@example.org",
            ContactDetails(phone="139 1234 5678", email="jo@example.org"),
        ),
        ("+86 138 0013 8000", ContactDetails(phone="+86 138 0013 8000")),
        ("jo.lin@example.com.", ContactDetails(email="jo.lin@example.com")),
        # When to call, beside the details, is neither a second number nor part of the name.
        (
            "Paul Reeves 07700 900741, ring after 10 please",
            ContactDetails(phone="07700 900741", name="Paul Reeves"),
        ),
        ("call 0612 345 678 after 6pm", ContactDetails(phone="0612 345 678")),
        (
            "You can reach me, Sandra Okafor, on 07700 900734 after 5 please",
            ContactDetails(phone="07700 900734", name="Sandra Okafor"),
        ),
        (
            "evenings only, 0612 345 678, Jo Lin",
            ContactDetails(phone="0612 345 678", name="Jo Lin"),
        ),
    ],
)
def test_phone_email_and_name_come_from_one_message(text: str, expected: ContactDetails) -> None:
    details = read_contact(text)

    assert details == expected
    assert details is not None
    assert details.usable


@pytest.mark.parametrize(
    "text",
    [
        "call 12345",  # too short for a phone number
        "1234567890123456",  # longer than E.164 allows
        "jo@example",  # no domain ending
        "jo..lin@example.com",
        ".jo@example.com",
        "jo@example.com, jo@example.org",  # which one?
        "0612 345 678 or 0612 999 000",  # which one?
        "Jo Lin, jo@example.com, 1234",  # a good email does not save a broken number
        "Li Na 13912345678, li@na",  # nor a good number a broken email
        '/inform{"phone": "0612345678"}',
        "",
        None,
        42,
    ],
)
def test_a_broken_or_doubtful_detail_refuses_the_whole_message(text: Any) -> None:
    assert read_contact(text) is None


@pytest.mark.parametrize("text", ["call me tomorrow", "Li Na", "I'd rather not say"])
def test_a_name_alone_is_no_way_to_reach_anyone(text: str) -> None:
    details = read_contact(text)

    assert details == ContactDetails()
    assert not details.usable


def test_a_number_with_a_letter_typed_into_it_is_refused() -> None:
    assert read_contact("Li Na, 139-1234-567a") is None


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("my name is Li Na", "Li Na"),
        ("I'm Jo", "Jo"),
        ("I am Jo Lin", "Jo Lin"),
        ("li na", "li na"),  # kept as typed
        ("this is Anne-Marie O'Neil", "Anne-Marie O'Neil"),
        ("McDonald", "McDonald"),  # a name in the citizen's own capitals is kept
        ("Zoë Müller", "Zoë Müller"),
    ],
)
def test_a_name_is_read_without_the_words_around_it(text: str, name: str) -> None:
    assert name_in(text) == name


@pytest.mark.parametrize(
    "text", ["no", "I'd rather not say", "12345", "/choose_option", "", None, "my name is"]
)
def test_no_name_is_read_from_what_is_not_one(text: Any) -> None:
    assert name_in(text) is None


def test_a_given_name_that_is_also_a_common_word_is_kept() -> None:
    details = read_contact("May Lin, 13912345678")

    assert details == ContactDetails(phone="13912345678", name="May Lin")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  0612  345 678 ", "0612 345 678"),
        ("+86 (138) 0013-8000", "+86 (138) 0013-8000"),
        ("12345", None),
        ("1234567890123456", None),
        ("0612 345 678 ext", None),
        (612345678, None),
    ],
)
def test_check_phone(value: Any, expected: str | None) -> None:
    assert check_phone(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jo@example.org", "jo@example.org"),
        ("jo.lin+city@mail.example.co.uk", "jo.lin+city@mail.example.co.uk"),
        ("jo@example", None),
        ("jo.@example.org", None),
        ("jo@@example.org", None),
        (f"{'a' * 250}@example.org", None),
    ],
)
def test_check_email(value: Any, expected: str | None) -> None:
    assert check_email(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Lin Mei", "Lin Mei"),
        ("J. R. Smith", "J. R. Smith"),
        ("Li Na 2", None),
        ("<script>", None),
        ("x" * 101, None),
    ],
)
def test_check_name(value: Any, expected: str | None) -> None:
    assert check_name(value) == expected


def test_a_name_is_split_for_open311_at_the_first_space() -> None:
    assert split_name("Lin Mei Hua") == ("Lin", "Mei Hua")
    assert split_name("Jo") == ("Jo", None)


@pytest.mark.parametrize(
    ("text", "phone", "email", "name"),
    [
        ("我叫李娜，手机13912345678", "13912345678", None, "李娜"),
        ("李娜 13912345678", "13912345678", None, "李娜"),
        ("联系人：王先生，电话 020-12345678", "020-12345678", None, "王先生"),
        ("邮箱 lina@example.org 李娜", None, "lina@example.org", "李娜"),
        ("13912345678", "13912345678", None, None),
        # An email right after Chinese punctuation; who they are before the name.
        ("社区志愿者何静，hejing@example.org", None, "hejing@example.org", "何静"),
        ("邮箱是hejing@example.org。", None, "hejing@example.org", None),
        ("三楼业主张伟 13912345678", "13912345678", None, "张伟"),
        ("我是业主，13912345678", "13912345678", None, None),
    ],
)
def test_chinese_details_in_one_message(
    text: str, phone: str | None, email: str | None, name: str | None
) -> None:
    assert read_contact(text) == ContactDetails(phone=phone, email=email, name=name)


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("我电话是一三九零五七一二三四五", "13905712345"),
        ("幺三八 一二三四 五六七八", "138 1234 5678"),
        ("一共两件", None),  # a count, not a number to ring
    ],
)
def test_a_phone_number_in_chinese_numerals_is_read_as_its_digits(
    text: str, phone: str | None
) -> None:
    found = read_contact(text)
    assert (found.phone if found else None) == phone
