"""
What a trigger body may hold, written from MoEngage's documented types and README's promises, not
from ``moengage_provider/api/payload.py``: an oracle that says what each input should give (the JSON
value, or the field a refusal must name), and hypothesis strategies for the values a DAG author passes.

MoEngage's legacy create API declares attributes as ``string``, ``int``, ``float``, ``array`` or
``date``; the trigger takes a JSON object of them. README adds how Python values travel: ints as JSON
integers (64-bit: MoEngage stores events in MongoDB), floats as finite numbers, lists and tuples as
arrays of plain values, ``Decimal`` as an int when whole else a float, dates and datetimes as ISO
8601 text; everything else (None, booleans, nested objects and lists, sets, bytes, NaN) is refused.
Text is UTF-8 without NUL; names are non-empty and hold no invisible characters.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

LOWEST_INT, HIGHEST_INT = -(2**63), 2**63 - 1
#: The provider's own size guard on the request body (README: 256 KiB).
BODY_LIMIT = 256 * 1024
#: Characters a name may not hold (controls, format characters such as zero-width space, separators).
INVISIBLE_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")


@dataclass(frozen=True)
class Refused:
    """The input is invalid; a refusal must name one of ``fields`` (every defect found)."""

    fields: frozenset[str]


# -- the oracle ------------------------------------------------------------------------------------


def _text_ok(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


def _name_ok(text: str) -> bool:
    return _text_ok(text) and not any(unicodedata.category(c) in INVISIBLE_CATEGORIES for c in text)


def expected_scalar(value: Any) -> tuple[bool, Any]:
    """(valid, JSON value) for one attribute value or array item."""
    kind = type(value)
    if kind is str:
        return _text_ok(value), value
    if kind is bool:
        return False, None
    if kind is int:
        return LOWEST_INT <= value <= HIGHEST_INT, value
    if kind is float:
        return value == value and value not in (float("inf"), float("-inf")), value
    if kind is decimal.Decimal:
        if not value.is_finite():
            return False, None
        if value == value.to_integral_value():
            return LOWEST_INT <= value <= HIGHEST_INT, int(value) if abs(value) < 2**70 else None
        as_float = float(value)
        return as_float not in (float("inf"), float("-inf")), as_float
    if kind in (dt.date, dt.datetime):
        return True, value.isoformat()
    return False, None  # None, dict, list (nested), set, bytes, object, ...


def expected_attributes(attributes: Any) -> dict[str, Any] | Refused:
    if not isinstance(attributes, dict):
        return Refused(frozenset({"event_attributes"}))
    faults: set[str] = set()
    body: dict[str, Any] = {}
    for name, value in attributes.items():
        if type(name) is not str or not name.strip() or not _name_ok(name):
            faults.add("event_attributes")
            continue
        where = f"event_attributes.{name}"
        if type(value) in (list, tuple):
            items = []
            for index, item in enumerate(value):
                valid, encoded = expected_scalar(item)
                if not valid:
                    faults.add(f"{where}[{index}]")
                items.append(encoded)
            body[name] = items
            continue
        valid, encoded = expected_scalar(value)
        if not valid:
            faults.add(where)
        body[name] = encoded
    return Refused(frozenset(faults)) if faults else body


def expected_event_name(name: Any) -> bool:
    return type(name) is str and bool(name.strip()) and name == name.strip() and _name_ok(name)


#: An address every strict RFC 5321 reader takes (what the valid generator below makes).
_GOOD_EMAIL = re.compile(
    r"[a-z0-9]+(?:[._+-][a-z0-9]+)*@(?:[a-z0-9]+(?:-[a-z0-9]+)*\.)+(?:com|org|net|io|de|in)"
)


def expected_email(email: Any) -> bool | None:
    """True/False where this module knows (the generators' shapes); None: not judged here."""
    if email is None:
        return True
    if type(email) is not str:
        return False
    if email in BAD_EMAILS:
        return False
    return True if _GOOD_EMAIL.fullmatch(email) and len(email) <= 254 else None


def encode(body: dict[str, Any]) -> bytes:
    """README: compact UTF-8 JSON, non-ASCII as is."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def expected_trigger(event_name: Any, event_attributes: Any, triggered_by: Any) -> bytes | Refused | None:
    """The exact request bytes, or the fields a refusal may name (None: the email is not judged here)."""
    faults: set[str] = set()
    if not expected_event_name(event_name):
        faults.add("event_name")
    attributes = expected_attributes(event_attributes)
    if isinstance(attributes, Refused):
        faults |= attributes.fields
    email_ok = expected_email(triggered_by)
    if email_ok is None:
        return None
    if not email_ok:
        faults.add("triggered_by")
    if faults:
        return Refused(frozenset(faults))
    assert isinstance(attributes, dict)
    body: dict[str, Any] = {"event_name": event_name, "event_attributes": attributes}
    if triggered_by is not None:
        body["triggered_by"] = triggered_by
    data = encode(body)
    return Refused(frozenset({"event_attributes"})) if len(data) > BODY_LIMIT else data


# -- generators ------------------------------------------------------------------------------------

#: Any character UTF-8 carries but NUL (surrogates excluded by the codec).
_TEXT_CHAR = st.characters(codec="utf-8", exclude_characters="\x00")
#: Visible characters: letters, marks, numbers, punctuation, symbols, spaces.
_NAME_CHAR = st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Zs"))

VALID_TEXT = st.text(_TEXT_CHAR, max_size=20)
VALID_INTS = st.one_of(
    st.integers(-1000, 1000),
    st.integers(LOWEST_INT, HIGHEST_INT),
    st.sampled_from([LOWEST_INT, HIGHEST_INT, LOWEST_INT + 1, HIGHEST_INT - 1, 0]),
)
VALID_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
VALID_DECIMALS = st.one_of(
    st.decimals(min_value=-(10**12), max_value=10**12, places=2),
    st.sampled_from(
        [decimal.Decimal(text) for text in ("12", "12.00", "1.2E+1", "-0", "0.5", "9223372036854775807")]
    ),
)
VALID_DATES = st.one_of(st.dates(), st.datetimes(timezones=st.none() | st.timezones()))
VALID_SCALARS = st.one_of(VALID_TEXT, VALID_INTS, VALID_FLOATS, VALID_DECIMALS, VALID_DATES)
VALID_ARRAYS = st.one_of(st.lists(VALID_SCALARS, max_size=4), st.lists(VALID_SCALARS, max_size=3).map(tuple))
VALID_VALUES = st.one_of(VALID_SCALARS, VALID_ARRAYS)

INVALID_SCALARS = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            False,
            float("nan"),
            float("inf"),
            -float("inf"),
            HIGHEST_INT + 1,
            LOWEST_INT - 1,
            2**80,
            decimal.Decimal("NaN"),
            decimal.Decimal("Infinity"),
            decimal.Decimal("9223372036854775808"),
            decimal.Decimal("-9223372036854775809.0"),
            "a\x00b",
            "lone \ud800 surrogate",
            b"bytes",
        ]
    ),
    st.builds(dict, a=st.integers()),
    st.builds(set, st.lists(st.integers(), max_size=2)),
    st.builds(object),
)
#: A list is refused inside an array (MoEngage arrays hold plain values).
INVALID_ITEMS = st.one_of(INVALID_SCALARS, st.lists(VALID_SCALARS, max_size=2))

VALID_NAMES = st.one_of(
    st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,15}", fullmatch=True),
    st.text(_NAME_CHAR, min_size=1, max_size=12).map(str.strip).filter(bool),
)
INVALID_EVENT_NAMES = st.one_of(
    st.sampled_from(["", "   ", " Padded", "Padded ", "Tab\t", "Zero\u200bWidth", "Nul\x00", "Lone\udc00"]),
    st.sampled_from([None, 12, b"Name", ["Name"]]),
)
VALID_ATTRIBUTE_NAMES = st.one_of(VALID_NAMES, st.just("with space"), st.just(" padded "))
INVALID_ATTRIBUTE_NAMES = st.sampled_from(["", "  ", "a\x00b", "zero\u200bwidth", "line\nbreak", 7, None])

_LABEL = st.from_regex(r"[a-z0-9]{1,8}(-[a-z0-9]{1,5})?", fullmatch=True)
VALID_EMAILS = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join(labels)}.{tld}",
    st.from_regex(r"[a-z0-9]{1,10}([._+-][a-z0-9]{1,6}){0,2}", fullmatch=True),
    st.lists(_LABEL, min_size=1, max_size=3),
    st.sampled_from(["com", "org", "net", "io", "de", "in"]),
)
BAD_EMAILS = (
    "abc",
    "a@b",
    "two@@example.com",
    "a b@example.com",
    "ops@exämple.com",
    "ops@example.com\n",
    '"quoted"@example.com',
    "x@[127.0.0.1]",
    "a..b@example.com",
    "Ops <ops@example.com>",
    "",
)
INVALID_EMAILS = st.one_of(st.sampled_from(BAD_EMAILS), st.sampled_from([12, b"a@example.com"]))


@st.composite
def author_attributes(draw: st.DrawFn, valid_share: int = 9) -> Any:
    """Attributes as a DAG author passes them: ``valid_share`` in 10 leaves valid, the rest one defect."""

    def pick(valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any]) -> Any:
        return draw(valid if draw(st.integers(0, 9)) < valid_share else invalid)

    if draw(st.integers(0, 49)) == 0:
        return draw(st.sampled_from([["season"], "season=1", None, 3]))  # not an object at all
    attributes: dict[Any, Any] = {}
    for _ in range(draw(st.integers(0, 5))):
        name = pick(VALID_ATTRIBUTE_NAMES, INVALID_ATTRIBUTE_NAMES)
        if draw(st.integers(0, 2)) == 0:  # an array, whose items may hold the defect
            items = [pick(VALID_SCALARS, INVALID_ITEMS) for _ in range(draw(st.integers(0, 3)))]
            value: Any = tuple(items) if draw(st.booleans()) else items
        else:
            value = pick(VALID_SCALARS, INVALID_SCALARS)
        attributes[name] = value
    return attributes


@st.composite
def author_triggers(draw: st.DrawFn) -> tuple[Any, Any, Any]:
    """(event_name, event_attributes, triggered_by): most of them valid, the rest with a defect somewhere."""
    name = draw(VALID_NAMES if draw(st.integers(0, 19)) else INVALID_EVENT_NAMES)
    attributes = draw(author_attributes())
    email = draw(st.one_of(st.none(), VALID_EMAILS) if draw(st.integers(0, 19)) else INVALID_EMAILS)
    return name, attributes, email


def kind_of(value: Any) -> str:
    """The MoEngage type a JSON value travels as (for the distribution report)."""
    return {str: "string", int: "int", float: "float", list: "array"}.get(type(value), type(value).__name__)
