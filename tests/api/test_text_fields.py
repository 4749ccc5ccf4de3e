"""
The text fields by example: the messages on-call engineers read (each names the field and the fix),
the parse-time email shape check, and how long values are cut short in messages.
"""

from __future__ import annotations

import pytest

from moengage_provider.api.text_fields import (
    InvalidBusinessEventError,
    plain_text,
    short,
    validate_event_name,
    validate_triggered_by,
)


def _refusal(check, value, **kwargs) -> str:
    with pytest.raises(InvalidBusinessEventError) as info:
        check(value, **kwargs)
    return str(info.value)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (12, "event_name: must be a string (the business event's name in MoEngage), got int."),
        ("", "event_name: is empty; set it to the name of a business event created in MoEngage."),
        ("   ", "event_name: is empty; set it to the name of a business event created in MoEngage."),
        (
            " NewSeriesAlert",
            "event_name: ' NewSeriesAlert' has leading or trailing whitespace; MoEngage matches names exactly.",
        ),
        (
            "New\u200bSeries",
            "event_name: holds the invisible or control character U+200B at position 3; names are matched "
            "exactly in MoEngage, so use visible characters only.",
        ),
        ("New\x00", "event_name: holds a NUL character (U+0000), which many JSON readers refuse."),
        (
            "New\udc80",
            "event_name: holds a lone surrogate (U+DC80 at position 3), which UTF-8 cannot carry; the text was "
            "probably decoded wrongly upstream.",
        ),
    ],
    ids=["not text", "empty", "blank", "padded", "zero width", "NUL", "surrogate"],
)
def test_event_name_refusals_say_what_to_fix(name, message):
    assert _refusal(validate_event_name, name) == message


def test_a_str_subclass_is_read_as_plain_text():
    class Name(str):
        def __str__(self) -> str:
            return "something else"

    name = validate_event_name(Name("NewSeriesAlert"))
    assert type(name) is str and name == "NewSeriesAlert"
    assert type(plain_text(Name("x"), "f", name=False)) is str


@pytest.mark.parametrize(
    ("email", "message"),
    [
        (5, "triggered_by: must be an email address string or None, got int."),
        (
            "ops@exämple.com",
            "triggered_by: 'ops@exämple.com' is not plain ASCII; MoEngage takes RFC 5321 addresses (write an "
            "internationalized domain in its xn-- form).",
        ),
        (
            "ops@example.com\n",
            "triggered_by: holds the invisible or control character U+000A at position 15; names are matched "
            "exactly in MoEngage, so use visible characters only.",
        ),
        (
            "abc",
            "triggered_by: 'abc' is not an email address MoEngage accepts (An email address must have an "
            "@-sign.); use e.g. 'data-team@example.com' or leave it unset.",
        ),
    ],
    ids=["not text", "not ASCII", "control character", "no @"],
)
def test_triggered_by_refusals_say_what_to_fix(email, message):
    assert _refusal(validate_triggered_by, email) == message


@pytest.mark.parametrize(
    "email",
    ["ops@example.com", "a@b.co", "first.last+tag@sub.example.org", "ops@example.invalid", "ops@X.io"],
)
def test_the_parse_time_shape_check_takes_what_looks_like_an_address(email):
    """``strict=False`` (DAG parse): the shape only; the strict reader runs in the task."""
    assert validate_triggered_by(email, strict=False) == email
    assert validate_triggered_by(None, strict=False) is None


@pytest.mark.parametrize(
    "email",
    ["abc", "@example.com", "a@b@example.com", "a@example", "a@.com.", "a b@example.com", "a@exam ple.com"],
)
def test_the_parse_time_shape_check_refuses_what_is_not_an_address(email):
    assert _refusal(validate_triggered_by, email, strict=False) == (
        f"triggered_by: {email!r} is not an email address MoEngage accepts (an address needs one @, a name "
        "before it and a dotted domain after it, no spaces); use e.g. 'data-team@example.com' or leave it unset."
    )


def test_the_strict_check_refuses_what_the_shape_check_lets_through():
    assert "special-use or reserved name" in _refusal(validate_triggered_by, "ops@example.invalid")


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("x" * 60, "x" * 60),
        ("x" * 61, "x" * 57 + "..."),
        (12, "12"),
        (Unprintable(), "a Unprintable"),
    ],
    ids=["at the limit", "over it", "not text", "no text"],
)
def test_values_in_messages_are_cut_at_60_characters(value, shown):
    assert short(value) == shown
    assert short("abcdef", limit=5) == "ab..."


def test_the_error_names_the_field_first():
    err = InvalidBusinessEventError("event_attributes.season", "is None.")
    assert (err.field, err.problem, str(err)) == (
        "event_attributes.season",
        "is None.",
        "event_attributes.season: is None.",
    )
