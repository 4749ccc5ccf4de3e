"""
Properties of api/payload.py over whole input spaces (hypothesis): any Python value gives a body that a
strict JSON reader takes, or an InvalidBusinessEventError naming the field; never another exception.
"""

from __future__ import annotations

import datetime as dt
import decimal
import fractions
import json
import math
import types
from collections import OrderedDict, UserDict
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moengage_provider.api.payload import INT_MAX, INT_MIN, attributes_from_rendered, prepare_trigger
from moengage_provider.api.text_fields import InvalidBusinessEventError
from tests.conftest import examples

# Every code point, lone surrogates and control characters included.
ANY_CHAR = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
ANY_TEXT = st.text(ANY_CHAR, max_size=40)


class Boom(Exception):
    pass


class HostileStr(str):
    def __str__(self) -> str:
        raise Boom("__str__")

    def __hash__(self) -> int:
        raise Boom("__hash__")

    def __eq__(self, other: object) -> bool:
        raise Boom("__eq__")

    def strip(self, *args: Any) -> str:
        raise Boom("strip")

    def encode(self, *args: Any, **kwargs: Any) -> bytes:
        raise Boom("encode")


class Hostile:
    """An object whose every dunder a validator might touch raises."""

    def __eq__(self, other: object) -> bool:
        raise Boom("__eq__")

    def __hash__(self) -> int:
        raise Boom("__hash__")

    def __str__(self) -> str:
        raise Boom("__str__")

    def __repr__(self) -> str:
        raise Boom("__repr__")

    def __iter__(self) -> Iterator[Any]:
        raise Boom("__iter__")

    def __float__(self) -> float:
        raise Boom("__float__")


class LyingClass:
    """isinstance() asks ``__class__``; this one raises (hypothesis itself trips on it, so no strategy)."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise Boom("__class__")


class HostileFloat(float):
    def __float__(self) -> float:
        raise Boom("__float__")


class HostileList(list):
    def __iter__(self) -> Iterator[Any]:
        raise Boom("__iter__")


class HostileDate(dt.date):
    def isoformat(self) -> str:
        raise Boom("isoformat")


class ReadOnlyMapping(Mapping[Any, Any]):
    """A Mapping that is not a dict."""

    def __init__(self, data: dict[Any, Any]) -> None:
        self._data = data

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class BrokenMapping(ReadOnlyMapping):
    def items(self) -> Any:
        raise Boom("items")


def self_referencing_list() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


def self_referencing_dict() -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    value["self"] = value
    return value


NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.sampled_from([2**63 - 1, -(2**63), 2**63, -(2**63) - 1]),
    st.sampled_from([4400, 5000]).map(lambda digits: 10**digits),  # past str(int) limits
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            decimal.Decimal("NaN"),
            decimal.Decimal("sNaN"),
            decimal.Decimal("-Infinity"),
            decimal.Decimal("1E+999999"),
            decimal.Decimal("1E-999999"),
            decimal.Decimal("12345678901234567890123456789"),
            decimal.Decimal("-0"),
        ]
    ),
    st.fractions(),
    st.sampled_from([fractions.Fraction(10**400, 3), fractions.Fraction(1, 10**400)]),
    st.complex_numbers(),
    st.booleans(),
)
# Factories, not instances: hypothesis hashes the values it is given, and these refuse to be hashed.
ODD_OBJECTS = st.sampled_from(
    [lambda: None, lambda: b"bytes", lambda: bytearray(b"x"), lambda: {1, 2}, frozenset, object, Hostile,
     lambda: HostileStr("x"), lambda: HostileFloat(1.5), lambda: HostileList([1]),
     lambda: HostileDate(2024, 1, 1), self_referencing_list, self_referencing_dict,
     lambda: types.SimpleNamespace(a=1), lambda: ReadOnlyMapping({"a": 1}), lambda: BrokenMapping({}),
     lambda: range(3), lambda: iter([1])]
).map(lambda make: make())  # fmt: skip
SCALARS = st.one_of(
    ANY_TEXT,
    ANY_TEXT.map(HostileStr),
    NUMBERS,
    st.datetimes(timezones=st.none() | st.timezones()),
    st.dates(),
    ODD_OBJECTS,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(ANY_TEXT, inner, max_size=3),
    ),
    max_leaves=8,
)
KEYS = st.one_of(ANY_TEXT, ANY_TEXT.map(HostileStr), st.integers(), st.none(), st.builds(Hostile))


def _mapping(pairs: list[tuple[Any, Any]], kind: str) -> Any:
    if kind == "dict":
        data: dict[Any, Any] = {}
        for key, value in pairs:
            try:
                data[key] = value
            except Boom:  # a key that cannot be hashed cannot be in a dict; a Mapping may still yield it
                return _PairsMapping(pairs)
        return data
    if kind == "ordered":
        return OrderedDict((k, v) for k, v in pairs if type(k) is not HostileStr and type(k) is not Hostile)
    if kind == "proxy":
        return types.MappingProxyType({k: v for k, v in pairs if type(k) not in (HostileStr, Hostile)})
    if kind == "user":
        return UserDict({k: v for k, v in pairs if type(k) not in (HostileStr, Hostile)})
    return _PairsMapping(pairs)


class _PairsMapping(Mapping[Any, Any]):
    """A Mapping that yields whatever keys it was given, hashable or not, even twice."""

    def __init__(self, pairs: list[tuple[Any, Any]]) -> None:
        self._pairs = pairs

    def __getitem__(self, key: Any) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[Any]:
        return (k for k, _ in self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def items(self) -> Any:
        return list(self._pairs)


ATTRIBUTES = st.one_of(
    st.builds(
        _mapping,
        st.lists(st.tuples(KEYS, VALUES), max_size=5),
        st.sampled_from(["dict", "ordered", "proxy", "user", "pairs"]),
    ),
    VALUES,
)
NAMES = st.one_of(ANY_TEXT, ANY_TEXT.map(HostileStr), SCALARS)
EMAILS = st.one_of(
    st.none(),
    st.emails(),
    ANY_TEXT,
    st.builds(lambda a, b: f"{a}@{b}", ANY_TEXT, ANY_TEXT),
    ANY_TEXT.map(HostileStr),
    SCALARS,
)

FIELDS = ("event_name", "event_attributes", "triggered_by")


def _strict_json(data: bytes) -> Any:
    """What a strict reader does: UTF-8 only, no NaN/Infinity, integers that fit 64 bits."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"non-standard constant {constant}")

    def integer(text: str) -> int:
        number = int(text)
        assert INT_MIN <= number <= INT_MAX, text
        return number

    value = json.loads(data.decode("utf-8", errors="strict"), parse_constant=refuse, parse_int=integer)
    _assert_plain(value)
    return value


def _assert_plain(value: Any) -> None:
    assert type(value) in (dict, list, str, int, float), type(value)
    if type(value) is str:
        value.encode("utf-8")
    elif type(value) is float:
        assert math.isfinite(value)
    elif type(value) is list:
        for item in value:
            _assert_plain(item)
    elif type(value) is dict:
        for key, item in value.items():
            assert type(key) is str
            _assert_plain(item)


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_name=NAMES, event_attributes=ATTRIBUTES, triggered_by=EMAILS)
def test_any_input_is_a_strict_json_body_or_an_error_naming_the_field(
    event_name, event_attributes, triggered_by
):
    try:
        prepared = prepare_trigger(event_name, event_attributes, triggered_by)
    except InvalidBusinessEventError as err:
        assert err.field.split(".")[0].split("[")[0] in FIELDS, err.field
        assert err.problem
        str(err)  # the message itself never fails
        return
    decoded = _strict_json(prepared.data)
    assert decoded == prepared.body
    assert set(decoded) <= set(FIELDS)
    assert type(decoded["event_name"]) is str and decoded["event_name"].strip()
    assert type(decoded["event_attributes"]) is dict
    for value in decoded["event_attributes"].values():
        assert type(value) is not dict
        if type(value) is list:
            assert all(type(item) in (str, int, float) for item in value)


@settings(max_examples=examples(200), deadline=None)
@given(text=st.one_of(ANY_TEXT, st.text(st.sampled_from("[]{}\"':,0123456789.eE+-nulNaIfity "), max_size=60),
                      st.integers(1, 3000).map(lambda n: "[" * n), st.just("{[1]: 2}")))  # fmt: skip
def test_any_rendered_text_is_an_object_or_an_error_naming_event_attributes(text):
    try:
        attributes = attributes_from_rendered(text)
        prepare_trigger("E", attributes)
    except InvalidBusinessEventError as err:
        assert err.field.startswith("event_attributes")


@settings(max_examples=examples(300), deadline=None)
@given(email=st.one_of(st.emails(), ANY_TEXT, st.builds(lambda a, b: f"{a}@{b}.com", ANY_TEXT, ANY_TEXT)))
def test_an_accepted_email_is_one_a_strict_reader_takes(email):
    try:
        accepted = prepare_trigger("E", {}, email).body["triggered_by"]
    except InvalidBusinessEventError as err:
        assert err.field == "triggered_by"
        return
    # RFC 5321 as the OpenAPI "format: email" reads it: ASCII, one @, a dotted domain, no spaces.
    assert accepted.isascii()
    local, _, domain = accepted.rpartition("@")
    assert local and "@" not in local and "." in domain
    assert not any(char.isspace() or ord(char) < 32 for char in accepted)
    assert len(accepted) <= 254


@pytest.mark.parametrize(
    "email",
    ["a@b", "a b@example.com", '"quoted"@example.com', "x@[127.0.0.1]", "a..b@example.com",
     "a@-example.com", "ops@exämple.com", "ops@example.com\n", "Ops <ops@example.com>", "a@example.invalid"],
)  # fmt: skip
def test_emails_a_strict_reader_refuses_are_refused(email):
    with pytest.raises(InvalidBusinessEventError) as info:
        prepare_trigger("E", {}, email)
    assert info.value.field == "triggered_by"


@pytest.mark.parametrize("where", ["event_name", "value", "key", "triggered_by", "list item"])
def test_an_object_whose_class_lookup_raises_is_a_field_error(where):
    odd = LyingClass()
    args: dict[str, Any] = {"event_name": "E", "event_attributes": {"a": 1}, "triggered_by": None}
    if where == "event_name":
        args["event_name"] = odd
    elif where == "value":
        args["event_attributes"] = {"a": odd}
    elif where == "key":
        args["event_attributes"] = _PairsMapping([(odd, 1)])
    elif where == "list item":
        args["event_attributes"] = {"a": [1, odd]}
    else:
        args["triggered_by"] = odd
    with pytest.raises(InvalidBusinessEventError) as info:
        prepare_trigger(**args)
    assert info.value.field.split(".")[0].split("[")[0] in FIELDS
