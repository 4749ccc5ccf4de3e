"""
Every refusal of api/payload.py, word for word: the on-call engineer reads these in a failed task's
log, so each says what is wrong and how to fix it, and a test reads each (field, message).
"""

from __future__ import annotations

import datetime as dt
import decimal
import fractions
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from moengage_provider.api.payload import (
    V5_RULES,
    InvalidBusinessEventError,
    normalize_event_attributes,
    prepare_trigger,
)

BOOLEAN = (
    "is a boolean, which the legacy API (api_version v1.0) cannot carry (types: string, int, float, "
    "array, date); send 'true'/'false' as a string or 1/0 as an int, or set the connection's "
    "api_version to v5, whose attributes may be booleans."
)
NOT_A_NUMBER = "which JSON cannot carry as a number; send a finite number."
BEYOND_64_BITS = "beyond the 64-bit range MoEngage stores; send it as a string."


class Unknown:
    pass


class IsoformatNotText(dt.date):
    def isoformat(self) -> Any:  # type: ignore[override]
        return 5


class FloatFails(float):
    def __float__(self) -> float:
        raise RuntimeError("x" * 200)


class FloatFailsWithoutText(float):
    def __float__(self) -> float:
        raise RuntimeError()


class Silent(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


class FloatFailsSilently(float):
    def __float__(self) -> float:
        raise Silent()


class Count(int):  # an int subclass (numbers.Integral): read as its int value
    pass


class Name(str):
    pass


VALUE_REFUSALS: list[tuple[Any, str, str]] = [
    (2**63, "v", f"is an integer of 64 bits, {BEYOND_64_BITS}"),
    (-(2**63) - 2**70, "v", f"is an integer of 71 bits, {BEYOND_64_BITS}"),
    (Count(2**64), "v", f"is an integer of 65 bits, {BEYOND_64_BITS}"),
    (decimal.Decimal("1E+30"), "v", f"is a whole number {BEYOND_64_BITS}"),
    (True, "v", BOOLEAN),
    (float("nan"), "v", f"is nan, {NOT_A_NUMBER}"),
    (float("-inf"), "v", f"is -inf, {NOT_A_NUMBER}"),
    (decimal.Decimal("sNaN"), "v", f"is sNaN, {NOT_A_NUMBER}"),
    (decimal.Decimal("1.5E+400"), "v", f"is a whole number {BEYOND_64_BITS}"),
    (decimal.Decimal("1" + "0" * 400 + ".5"), "v", f"is {'1' + '0' * 56}..., {NOT_A_NUMBER}"),
    (fractions.Fraction(10**400, 1), "v", f"is {'1' + '0' * 56}..., {NOT_A_NUMBER}"),
    (None, "v", "is None; leave the attribute out instead (all attributes are optional)."),
    (
        {"lead": "A"},
        "v",
        "is a nested object, which MoEngage attributes cannot hold; flatten it into separate attributes.",
    ),
    ({"a"}, "v", "is a set, which JSON cannot carry; pass a sorted list instead."),
    (frozenset(), "v", "is a set, which JSON cannot carry; pass a sorted list instead."),
    (b"x", "v", "is bytes; decode it to a string first."),
    (bytearray(b"x"), "v", "is bytes; decode it to a string first."),
    (memoryview(b"x"), "v", "is bytes; decode it to a string first."),
    ([[1]], "v[0]", "is a nested list; MoEngage array attributes hold plain values."),
    ([1, (2,)], "v[1]", "is a nested list; MoEngage array attributes hold plain values."),
    ([1, None], "v[1]", "is None; leave the attribute out instead (all attributes are optional)."),
    (
        Unknown(),
        "v",
        "has type Unknown, which MoEngage attributes cannot hold; use a string, int, float, list, date or datetime.",
    ),
    (
        IsoformatNotText(2024, 1, 1),
        "v",
        "could not be read: TypeError: IsoformatNotText.isoformat returned int.",
    ),
    (FloatFails(1.0), "v", f"could not be read: RuntimeError: {'x' * 120}."),
    (FloatFailsSilently(1.0), "v", "could not be read: Silent."),
    ("a\x00b", "v", "holds a NUL character (U+0000), which many JSON readers refuse."),
    (["a\x00b"], "v[0]", "holds a NUL character (U+0000), which many JSON readers refuse."),
    (Name("a\x00b"), "v", "holds a NUL character (U+0000), which many JSON readers refuse."),
    (FloatFailsWithoutText(1.0), "v", "could not be read: RuntimeError."),
]


@pytest.mark.parametrize(
    ("value", "where", "problem"),
    VALUE_REFUSALS,
    ids=[f"{i}-{type(v).__name__}" for i, (v, _, _) in enumerate(VALUE_REFUSALS)],
)
def test_each_value_refusal_names_the_attribute_and_the_fix(value, where, problem):
    with pytest.raises(InvalidBusinessEventError) as info:
        prepare_trigger("E", {"v": value})
    assert (info.value.field, info.value.problem) == (f"event_attributes.{where}", problem)


class Pairs(Mapping[Any, Any]):
    """A Mapping that yields the pairs it was given (a key twice, a key of any type)."""

    def __init__(self, *pairs: tuple[Any, Any], fail: bool = False) -> None:
        self.pairs, self.fail = pairs, fail

    def __getitem__(self, key: Any) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[Any]:
        return iter(k for k, _ in self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def items(self) -> Any:
        if self.fail:
            raise RuntimeError("store closed")
        return list(self.pairs)


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


ATTRIBUTES_REFUSALS: list[tuple[Any, str, str]] = [
    (
        '{"season": "S1"}',
        "event_attributes",
        'is a string; it must be an object such as {"season": "Season 1"} (a template string must render to '
        "a JSON object).",
    ),
    (["season"], "event_attributes", "must be an object (a dict of attribute name to value), got list."),
    (None, "event_attributes", "must be an object (a dict of attribute name to value), got NoneType."),
    (Pairs(fail=True), "event_attributes", "could not be read: RuntimeError: store closed."),
    ({1: "a"}, "event_attributes", "key 1 is a int; attribute names must be strings."),
    (
        Pairs((BadRepr(), 1)),
        "event_attributes",
        "key <BadRepr> is a BadRepr; attribute names must be strings.",
    ),
    (
        {("x" * 100,): 1},
        "event_attributes",
        f"key {repr(('x' * 100,))[:80]} is a tuple; attribute names must be strings.",
    ),
    ({"": 1}, "event_attributes", "has an empty attribute name."),
    ({"   ": 1}, "event_attributes", "has an empty attribute name."),
    ({" \u3000": 1}, "event_attributes", "has an empty attribute name."),
    (Pairs(("a", 1), ("a", 2)), "event_attributes.a", "appears twice."),
    (Pairs(("é", 1), ("é", 2)), "event_attributes.é", "appears twice."),
    (
        {"a\u200bb": 1},
        "event_attributes",
        "holds the invisible or control character U+200B at position 1; names are matched exactly in MoEngage, "
        "so use visible characters only.",
    ),
]


@pytest.mark.parametrize(
    ("attributes", "field", "problem"),
    ATTRIBUTES_REFUSALS,
    ids=[f"{i}" for i in range(len(ATTRIBUTES_REFUSALS))],
)
def test_each_attributes_refusal_names_the_field_and_the_fix(attributes, field, problem):
    with pytest.raises(InvalidBusinessEventError) as info:
        normalize_event_attributes(attributes)
    assert (info.value.field, info.value.problem) == (field, problem)


@pytest.mark.parametrize(
    ("attributes", "sent"),
    [
        ({"naïve": "é", "n": -(2**63), "f": 0.1}, {"naïve": "é", "n": -(2**63), "f": 0.1}),
        ({Name("season"): Name("S1")}, {"season": "S1"}),
        ({" padded ": 1}, {" padded ": 1}),
        ({"c": Count(5), "r": fractions.Fraction(1, 4)}, {"c": 5, "r": 0.25}),
        ({"d": dt.date(2024, 1, 2), "l": (dt.date(2024, 1, 3),)}, {"d": "2024-01-02", "l": ["2024-01-03"]}),
        (Pairs(("a", 1), ("b", "x")), {"a": 1, "b": "x"}),
    ],
    ids=["plain", "str subclasses", "padded name", "numbers", "dates", "any mapping"],
)
def test_accepted_attributes_are_plain_json_types(attributes, sent):
    normalized = normalize_event_attributes(attributes)
    assert normalized == sent
    assert [type(k) for k in normalized] == [str] * len(sent)
    assert [type(v) for v in normalized.values()] == [type(v) for v in sent.values()]


def test_v5_without_triggered_by_is_refused_naming_the_field_and_the_fix():
    with pytest.raises(InvalidBusinessEventError) as refused:
        prepare_trigger("NewSeriesAlert", {"season": "Season 2"}, None, V5_RULES)
    assert str(refused.value) == (
        "triggered_by: is required by MoEngage's Business Events API V5 (the connection's api_version v5): "
        "set it to the email of whoever fires the event, e.g. 'data-team@example.com'."
    )
    # The legacy API leaves it out of the body instead.
    assert "triggered_by" not in prepare_trigger("NewSeriesAlert", {"season": "Season 2"}).body


def test_attribute_values_keep_invisible_characters_that_names_refuse():
    # Values are content (a title with a zero-width space, a note with a line break), sent as they are;
    # only names and addresses, which MoEngage matches exactly, refuse invisible characters.
    attributes = {"title": "Café\u200b Menu", "notes": "line 1\nline 2"}
    assert prepare_trigger("MenuUpdated", attributes).body["event_attributes"] == attributes
    with pytest.raises(InvalidBusinessEventError, match="use visible characters only"):
        prepare_trigger("MenuUpdated", {"Café\u200b": "x"})
