"""
``check_declared_attributes``: each type MoEngage's create API declares (``string``, ``int``,
``float``, ``array``, ``date``) takes what it should and refuses the rest, on the values as they are
sent (after the payload check: dates are ISO text, tuples lists, whole Decimals ints). Pure: seconds.

Why these answers:

- ``float`` takes ints: JSON has one number type (RFC 8259), MoEngage's V5 API reports both legacy
  ``int`` and ``float`` as ``number``, and 12 is exactly the float 12.0; a price computed as 12 must
  not fail a task.
- ``int`` refuses floats, even 12.0: the value a DAG computed is not whole in general, and MoEngage
  stores the attribute as an integer.
- ``date`` takes text only: MoEngage publishes no date format (its own example is "11/11/2023"), so
  any text is passed on; numbers and lists are refused.
- ``array`` takes lists only: a string is not an array, though Python can iterate over it.
- a type this provider does not know (a newer MoEngage answer) is not judged: MoEngage judges it.
- ``attribute_types`` must declare at least one attribute: MoEngage's create API requires
  ``event_attributes``, and an event cannot be redefined through the API, so an empty declaration
  (an empty dict from upstream, a template) would use up one of the workspace's 50 events for good.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import OrderedDict
from typing import Any

import pytest

from moengage_provider.api.declared import ATTRIBUTE_TYPES, check_against_declared, validate_attribute_types
from moengage_provider.api.payload import prepare_trigger
from moengage_provider.api.text_fields import InvalidBusinessEventError

#: A DAG author's value, and the declared types it matches (by hand, from the reasons above).
CASES: list[tuple[Any, set[str]]] = [
    ("Season 1", {"string", "date"}),
    ("", {"string", "date"}),
    ("12", {"string", "date"}),
    ("11/11/2023", {"string", "date"}),
    (dt.date(2023, 11, 11), {"string", "date"}),
    (dt.datetime(2023, 11, 11, 10, 30, tzinfo=dt.timezone.utc), {"string", "date"}),
    (12, {"int", "float"}),
    (0, {"int", "float"}),
    (-(2**63), {"int", "float"}),
    (decimal.Decimal("12.00"), {"int", "float"}),
    (12.0, {"float"}),
    (1.5, {"float"}),
    (decimal.Decimal("1.5"), {"float"}),
    (["John Doe", "Jane Doe"], {"array"}),
    ((1, 2), {"array"}),
    ([], {"array"}),
]


def _sent(value: Any) -> Any:
    """The value as the trigger carries it (what the check compares)."""
    return prepare_trigger("E", {"v": value}).body["event_attributes"]


@pytest.mark.parametrize("kind", ATTRIBUTE_TYPES)
@pytest.mark.parametrize(("value", "matches"), CASES, ids=[repr(value) for value, _ in CASES])
def test_each_declared_type_takes_what_it_should_and_refuses_the_rest(kind, value, matches):
    attributes = _sent(value)
    if kind in matches:
        check_against_declared(attributes, {"v": kind})
        return
    with pytest.raises(InvalidBusinessEventError) as info:
        check_against_declared(attributes, {"v": kind})
    assert info.value.field == "event_attributes.v"
    shown = attributes["v"]
    assert info.value.problem == (
        f"is declared as {kind} in MoEngage but the value is {type(shown).__name__} {shown!r}."
    )


def test_the_five_types_are_exactly_what_moengage_declares():
    assert ATTRIBUTE_TYPES == ("string", "int", "float", "array", "date")


@pytest.mark.parametrize("value", ["text", 12, 1.5, ["a"]])
def test_a_type_this_provider_does_not_know_is_left_to_moengage(value):
    check_against_declared({"v": value}, {"v": "geo_point"})


def test_an_attribute_the_event_does_not_declare_is_refused_listing_the_declared_ones():
    with pytest.raises(InvalidBusinessEventError) as info:
        check_against_declared({"sku": "A1", "colour": "red"}, {"sku": "string", "price": "float"})
    assert info.value.field == "event_attributes.colour"
    assert info.value.problem == "is not declared on this business event in MoEngage (declared: price, sku)."


def test_an_event_declared_without_attributes_takes_none():
    check_against_declared({}, {})
    with pytest.raises(InvalidBusinessEventError) as info:
        check_against_declared({"season": "S1"}, {})
    assert info.value.problem.endswith("(declared: none).")


def test_not_every_declared_attribute_need_be_sent():
    check_against_declared({"season": "S1"}, {"season": "string", "episodes": "int", "cast": "array"})


# -- the declaration itself (CreateBusinessEventOperator's attribute_types) ------------------------

NOT_A_DECLARATION = 'must be a non-empty dict of attribute name -> type, e.g. {"season": "string"}.'
TYPES = "string, int, float, array, date"


@pytest.mark.parametrize(
    "declared",
    [
        {"season": "string", "episodes": "int", "budget": "float", "cast": "array", "released_on": "date"},
        OrderedDict(season="string"),
    ],
    ids=["all five types", "any mapping"],
)
def test_a_declaration_of_known_types_is_taken_as_a_plain_dict(declared):
    checked = validate_attribute_types(declared)
    assert type(checked) is dict and checked == dict(declared)


@pytest.mark.parametrize(
    ("declared", "field", "problem"),
    [
        ({}, "attribute_types", NOT_A_DECLARATION),
        (None, "attribute_types", NOT_A_DECLARATION),
        (["season"], "attribute_types", NOT_A_DECLARATION),
        ({"": "string"}, "attribute_types", "attribute name '' must be a non-empty string."),
        ({"  ": "int"}, "attribute_types", "attribute name '  ' must be a non-empty string."),
        ({3: "int"}, "attribute_types", "attribute name 3 must be a non-empty string."),
        (
            {"season": "text"},
            "attribute_types.season",
            "type 'text' is not one of string, int, float, array, date.",
        ),
        ({"season": "String"}, "attribute_types.season", f"type 'String' is not one of {TYPES}."),
        ({"when": "datetime"}, "attribute_types.when", f"type 'datetime' is not one of {TYPES}."),
        ({"n": None}, "attribute_types.n", f"type None is not one of {TYPES}."),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_a_declaration_moengage_would_not_take_is_refused_naming_the_field(declared, field, problem):
    with pytest.raises(InvalidBusinessEventError) as info:
        validate_attribute_types(declared)
    assert (info.value.field, info.value.problem) == (field, problem)
