"""
Both directions of the payload check, against an oracle written from MoEngage's documented types
(tests/properties/moengage_types.py), not from api/payload.py: every valid input is accepted and
encoded to exactly the bytes the oracle expects; every invalid one is refused naming a faulty field.

The distribution (how many examples reach the attributes, what is accepted, which field is refused)
shows with ``pytest --hypothesis-show-statistics``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from moengage_provider.api.payload import (
    InvalidBusinessEventError,
    attributes_from_rendered,
    prepare_trigger,
)
from tests.conftest import examples
from tests.properties.moengage_types import (
    BAD_EMAILS,
    BODY_LIMIT,
    HIGHEST_INT,
    INVALID_ATTRIBUTE_NAMES,
    INVALID_EVENT_NAMES,
    INVALID_ITEMS,
    INVALID_SCALARS,
    LOWEST_INT,
    VALID_ATTRIBUTE_NAMES,
    VALID_EMAILS,
    VALID_NAMES,
    VALID_SCALARS,
    Refused,
    author_attributes,
    author_triggers,
    encode,
    expected_event_name,
    expected_trigger,
    kind_of,
)

BOUNDED = settings(max_examples=examples(300), deadline=None)


def _field_kind(field: str) -> str:
    if field.startswith("event_attributes."):
        return "an attribute value" if "[" not in field else "an array item"
    return field


@BOUNDED
@given(trigger=author_triggers())
def test_valid_inputs_are_accepted_exactly_and_invalid_ones_refused_naming_the_field(trigger):
    event_name, event_attributes, triggered_by = trigger
    expected = expected_trigger(event_name, event_attributes, triggered_by)
    assert expected is not None, "the generators make only inputs the oracle judges"
    if expected_event_name(event_name):
        event("reached the attributes (event_name valid)")
    try:
        prepared = prepare_trigger(event_name, event_attributes, triggered_by)
    except InvalidBusinessEventError as err:
        assert isinstance(expected, Refused), f"a valid input was refused: {err}"
        assert err.field in expected.fields, (err.field, sorted(expected.fields))
        assert err.problem
        event(f"refused, naming {_field_kind(err.field)}")
        return
    assert not isinstance(expected, Refused), f"accepted, but should be refused at {sorted(expected.fields)}"
    assert prepared.data == expected
    assert json.loads(prepared.data) == prepared.body
    attributes = prepared.body["event_attributes"]
    event(f"accepted with {min(len(attributes), 3)}{'+' if len(attributes) >= 3 else ''} attributes")
    for value in attributes.values():
        event(f"accepted attribute type: {kind_of(value)}")


@st.composite
def valid_triggers(draw: st.DrawFn) -> tuple[Any, Any, Any]:
    return (
        draw(VALID_NAMES),
        draw(author_attributes(valid_share=10)),
        draw(st.one_of(st.none(), VALID_EMAILS)),
    )


@settings(max_examples=examples(200), deadline=None)
@given(trigger=valid_triggers())
def test_every_valid_input_is_accepted_and_encoded_exactly(trigger):
    expected = expected_trigger(*trigger)
    if isinstance(expected, Refused):  # only "not an object" inputs, drawn once in fifty
        assert expected.fields == {"event_attributes"}
        return
    event(f"{len(trigger[1])} attributes")
    assert prepare_trigger(*trigger).data == expected


@st.composite
def one_defect(draw: st.DrawFn) -> tuple[tuple[Any, Any, Any], str]:
    """A valid trigger with exactly one defect put in, and the field a refusal must name."""
    name, attributes, email = draw(VALID_NAMES), {}, draw(st.none() | VALID_EMAILS)
    for _ in range(draw(st.integers(0, 3))):
        attributes[draw(VALID_ATTRIBUTE_NAMES)] = draw(VALID_SCALARS)
    where = draw(st.sampled_from(["event_name", "key", "value", "item", "triggered_by"]))
    if where == "event_name":
        return (draw(INVALID_EVENT_NAMES), attributes, email), "event_name"
    if where == "triggered_by":
        return (name, attributes, draw(st.sampled_from(BAD_EMAILS) | st.just(7))), "triggered_by"
    if where == "key":
        bad = draw(INVALID_ATTRIBUTE_NAMES)
        return (name, {**attributes, bad: 1}, email), "event_attributes"
    key = draw(VALID_ATTRIBUTE_NAMES)  # may replace a valid attribute of the same name
    if where == "value":
        return (name, {**attributes, key: draw(INVALID_SCALARS)}, email), f"event_attributes.{key}"
    items = draw(st.lists(VALID_SCALARS, max_size=3))
    index = draw(st.integers(0, len(items)))
    items.insert(index, draw(INVALID_ITEMS))
    return (name, {**attributes, key: items}, email), f"event_attributes.{key}[{index}]"


@settings(max_examples=examples(200), deadline=None)
@given(case=one_defect())
def test_one_defect_is_refused_naming_exactly_its_field(case):
    trigger, field = case
    expected = expected_trigger(*trigger)
    assert isinstance(expected, Refused) and expected.fields == {field}, (expected, field)
    with pytest.raises(InvalidBusinessEventError) as info:
        prepare_trigger(*trigger)
    assert info.value.field == field
    event(f"defect in {_field_kind(field)}")


# -- the edges, by example (each one a mutant of the checks would pass) ----------------------------


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (HIGHEST_INT, HIGHEST_INT),
        (LOWEST_INT, LOWEST_INT),
        (decimal.Decimal("12"), 12),
        (decimal.Decimal("12.00"), 12),
        (decimal.Decimal("1.2E+1"), 12),
        (decimal.Decimal("-0"), 0),
        (decimal.Decimal("9223372036854775807"), HIGHEST_INT),
        (decimal.Decimal("-9223372036854775808.000"), LOWEST_INT),
        (decimal.Decimal("0.5"), 0.5),
        (decimal.Decimal("-2.25"), -2.25),
        (dt.date(2023, 11, 11), "2023-11-11"),
        (dt.datetime(2023, 11, 11, 10, 0, tzinfo=dt.timezone.utc), "2023-11-11T10:00:00+00:00"),
        (dt.datetime(2023, 11, 11, 10, 0), "2023-11-11T10:00:00"),
        ((1, "a", 2.5), [1, "a", 2.5]),
        ("12", "12"),
        ("", ""),
    ],
    ids=repr,
)
def test_values_at_the_edges_are_sent_as_readme_says(value, sent):
    data = prepare_trigger("E", {"v": value}).data
    assert data == encode({"event_name": "E", "event_attributes": {"v": sent}})


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (HIGHEST_INT + 1, "beyond the 64-bit range MoEngage stores; send it as a string"),
        (LOWEST_INT - 1, "beyond the 64-bit range MoEngage stores; send it as a string"),
        (
            decimal.Decimal("9223372036854775808"),
            "beyond the 64-bit range MoEngage stores; send it as a string",
        ),
        (decimal.Decimal("-9223372036854775809.0"), "beyond the 64-bit range MoEngage stores"),
        (decimal.Decimal("1E+999999"), "beyond the 64-bit range MoEngage stores"),
        (decimal.Decimal("NaN"), "which JSON cannot carry as a number; send a finite number"),
        (decimal.Decimal("-Infinity"), "which JSON cannot carry as a number; send a finite number"),
        (float("inf"), "which JSON cannot carry as a number; send a finite number"),
        (True, "is a boolean, which the legacy API (api_version v1.0) cannot carry"),
        (None, "is None; leave the attribute out instead"),
        ({"a": 1}, "is a nested object"),
        ({1, 2}, "is a set, which JSON cannot carry; pass a sorted list instead"),
        (b"x", "is bytes; decode it to a string first"),
        ("a\x00b", "holds a NUL character"),
        (object(), "has type object, which MoEngage attributes cannot hold"),
    ],
    ids=lambda v: "" if type(v) is str and " " in v else type(v).__name__,
)
def test_values_moengage_cannot_hold_are_refused_with_the_fix(value, problem):
    with pytest.raises(InvalidBusinessEventError) as info:
        prepare_trigger("E", {"v": value})
    assert info.value.field == "event_attributes.v"
    assert problem in info.value.problem


def test_the_body_size_guard_is_256_kib_exactly():
    def body_of(size: int) -> dict[str, Any]:
        empty = len(encode({"event_name": "E", "event_attributes": {"blob": ""}}))
        return {"blob": "x" * (size - empty)}

    assert len(prepare_trigger("E", body_of(BODY_LIMIT)).data) == BODY_LIMIT
    with pytest.raises(InvalidBusinessEventError) as info:
        prepare_trigger("E", body_of(BODY_LIMIT + 1))
    assert info.value.field == "event_attributes"
    assert info.value.problem == (
        f"makes a {BODY_LIMIT + 1:,}-byte request, over this provider's {BODY_LIMIT:,}-byte guard (MoEngage "
        "publishes no limit); send counts or identifiers, not whole datasets."
    )


# -- rendered templates ----------------------------------------------------------------------------

JSON_VALUES = st.one_of(
    st.text(max_size=10),
    st.integers(LOWEST_INT, HIGHEST_INT),
    st.floats(allow_nan=False, allow_infinity=False),
)
JSON_ATTRIBUTES = st.dictionaries(
    st.text(max_size=10), st.one_of(JSON_VALUES, st.lists(JSON_VALUES, max_size=3)), max_size=4
)


@settings(max_examples=examples(150), deadline=None)
@given(attributes=JSON_ATTRIBUTES, padding=st.sampled_from(["", " ", "\n  "]))
def test_a_rendered_json_object_or_python_dict_text_reads_back_as_the_same_attributes(attributes, padding):
    assert attributes_from_rendered(padding + json.dumps(attributes) + padding) == attributes
    assert attributes_from_rendered(padding + repr(attributes) + padding) == attributes
    assert attributes_from_rendered(attributes) is attributes  # not text: left as is


NOT_JSON = (
    ", which is not a JSON object. Render a JSON object, pass a dict, or pass an XComArg (e.g. the output "
    "of an upstream @task)."
)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[1, 2]", "rendered to a JSON list, not an object."),
        ("12", "rendered to a JSON int, not an object."),
        ('"season"', "rendered to a JSON str, not an object."),
        (" season=1\n", f"rendered to 'season=1'{NOT_JSON}"),
        ("x" * 80, f"rendered to '{'x' * 80}'{NOT_JSON}"),
        ("y" * 81, f"rendered to '{'y' * 77}...'{NOT_JSON}"),
        ("{" * 2000, f"rendered to '{'{' * 77}...'{NOT_JSON}"),
    ],
    ids=["list", "int", "str", "text", "80 characters", "81 characters", "deep"],
)
def test_rendered_text_that_is_not_an_object_is_refused(text, problem):
    with pytest.raises(InvalidBusinessEventError) as info:
        attributes_from_rendered(text)
    assert (info.value.field, info.value.problem) == ("event_attributes", problem)


def test_the_prepared_body_is_what_the_bytes_say():
    prepared = prepare_trigger("E", {"a": (1,)}, "ops@example.com")
    assert (
        json.loads(prepared.data)
        == prepared.body
        == {
            "event_name": "E",
            "event_attributes": {"a": [1]},
            "triggered_by": "ops@example.com",
        }
    )
    assert prepare_trigger("E", {}).body == {"event_name": "E", "event_attributes": {}}
