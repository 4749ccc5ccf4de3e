"""
What MoEngage accepts as a business event, checked before anything is sent.

Shared by the hook, the operator and the notifier so there is one answer to "is this a valid
event?". It knows neither HTTP nor Airflow: it takes Python values and returns the JSON-ready body.
What differs between API versions (booleans; ``triggered_by`` required) comes as the version's
:class:`PayloadRules`: the legacy API's unless told otherwise, and at
DAG parse, where the connection is not known, :data:`ANY_VERSION`.
Here: attribute values, the body and its bytes; the event name, ``triggered_by`` and the error
class are in ``text_fields``; the types an event declares in MoEngage are in ``declared``.
"""

from __future__ import annotations

import ast
import datetime as dt
import decimal
import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moengage_provider.api.text_fields import (
    InvalidBusinessEventError,
    plain_text,
    short,
    validate_event_name,
    validate_triggered_by,
)


@dataclass(frozen=True)
class PayloadRules:
    """What one API takes in a trigger beyond the rules every version shares (each version's adapter
    in ``api/versions.py`` names its rules; they live here, so a DAG file's import stops here)."""

    #: How messages name the API (``api_version v1.0``).
    api: str
    #: Attribute values may be booleans.
    booleans: bool
    #: ``triggered_by`` must be given.
    triggered_by_required: bool


LEGACY_RULES = PayloadRules("api_version v1.0", booleans=False, triggered_by_required=False)
V5_RULES = PayloadRules("api_version v5", booleans=True, triggered_by_required=True)
#: At DAG parse the connection is not known: refuse only what no version accepts.
ANY_VERSION = PayloadRules(
    "any API version",
    booleans=LEGACY_RULES.booleans or V5_RULES.booleans,
    triggered_by_required=LEGACY_RULES.triggered_by_required and V5_RULES.triggered_by_required,
)

#: Our own guard: MoEngage publishes no payload size limit, so refuse bodies no event needs.
MAX_BODY_BYTES = 256 * 1024
#: MoEngage stores ints as 64-bit (and JSON readers beyond that lose digits); send bigger ones as text.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class PreparedTrigger:
    """A validated trigger: the body (plain JSON types only) and the exact bytes to send."""

    body: dict[str, Any]
    data: bytes

    @property
    def event_name(self) -> str:
        return str(self.body["event_name"])


def _finite(number: float, value: Any, where: str) -> float:
    if not math.isfinite(number):
        raise InvalidBusinessEventError(
            where, f"is {short(value)}, which JSON cannot carry as a number; send a finite number."
        )
    return number


def _bounded(number: int, where: str) -> int:
    if not INT_MIN <= number <= INT_MAX:
        raise InvalidBusinessEventError(
            where,
            f"is an integer of {number.bit_length()} bits, beyond the 64-bit range MoEngage stores; "
            "send it as a string.",
        )
    return number


def _decimal(value: decimal.Decimal, where: str) -> int | float:
    """README: a whole ``Decimal`` (``12``, ``12.00``, ``1.2E+1``) is sent as an int, any other as a float."""
    if not value.is_finite():
        raise InvalidBusinessEventError(
            where, f"is {short(value)}, which JSON cannot carry as a number; send a finite number."
        )
    if value != value.to_integral_value():
        return _finite(float(value), value, where)
    if not INT_MIN <= value <= INT_MAX:  # compared before int(): 1E+999999 has a million digits
        raise InvalidBusinessEventError(
            where, "is a whole number beyond the 64-bit range MoEngage stores; send it as a string."
        )
    return int(value)


def _normalize_scalar(value: Any, where: str, rules: PayloadRules) -> Any:
    kind = type(value)  # never isinstance(): a hostile __class__ could raise
    if kind is str:
        return plain_text(value, where, name=False)
    if kind is int:
        return _bounded(value, where)
    if kind is float:
        return _finite(value, value, where)
    if issubclass(kind, bool):
        if rules.booleans:
            return value
        raise InvalidBusinessEventError(
            where,
            f"is a boolean, which the legacy API ({rules.api}) cannot carry (types: string, int, float, "
            "array, date); send 'true'/'false' as a string or 1/0 as an int, or set the connection's "
            "api_version to v5, whose attributes may be booleans.",
        )
    if issubclass(kind, str):
        return plain_text(value, where, name=False)
    if issubclass(kind, (numbers.Integral, decimal.Decimal, numbers.Real)):
        return _normalize_number(kind, value, where)
    if issubclass(kind, (dt.datetime, dt.date)):
        text = value.isoformat()
        if type(text) is not str:
            raise TypeError(f"{kind.__name__}.isoformat returned {type(text).__name__}")
        return text
    raise _not_an_attribute_value(kind, value, where)


def _normalize_number(kind: type, value: Any, where: str) -> int | float:
    """A number of any numeric type: an int within 64 bits, or a finite float."""
    if issubclass(kind, numbers.Integral):
        return _bounded(int(value), where)
    if issubclass(kind, decimal.Decimal):
        return _decimal(value, where)
    try:
        number = float(value)  # always an exact float: Python converts what __float__ returns
    except OverflowError:
        number = math.inf
    return _finite(number, value, where)


def _not_an_attribute_value(kind: type, value: Any, where: str) -> InvalidBusinessEventError:
    """Why a value of this type cannot be an attribute value, and what to send instead."""
    if value is None:
        return InvalidBusinessEventError(
            where, "is None; leave the attribute out instead (all attributes are optional)."
        )
    if issubclass(kind, Mapping):
        return InvalidBusinessEventError(
            where,
            "is a nested object, which MoEngage attributes cannot hold; flatten it into separate attributes.",
        )
    if issubclass(kind, (set, frozenset)):
        return InvalidBusinessEventError(
            where, "is a set, which JSON cannot carry; pass a sorted list instead."
        )
    if issubclass(kind, (bytes, bytearray, memoryview)):
        return InvalidBusinessEventError(where, "is bytes; decode it to a string first.")
    if issubclass(kind, (list, tuple)):
        return InvalidBusinessEventError(
            where, "is a nested list; MoEngage array attributes hold plain values."
        )
    return InvalidBusinessEventError(
        where,
        f"has type {kind.__name__}, which MoEngage attributes cannot hold; "
        "use a string, int, float, list, date or datetime.",
    )


def _normalize_value(value: Any, where: str, rules: PayloadRules) -> Any:
    try:
        if type(value) is str:
            return plain_text(value, where, name=False)
        if issubclass(type(value), (list, tuple)):
            return [
                _normalize_scalar(item, f"{where}[{index}]", rules) for index, item in enumerate(list(value))
            ]
        return _normalize_scalar(value, where, rules)
    except InvalidBusinessEventError:
        raise
    except Exception as err:  # a value whose own methods fail (__float__, __iter__, isoformat...)
        raise InvalidBusinessEventError(where, f"could not be read: {_failure(err)}.") from None


def _failure(err: BaseException) -> str:
    name = type(err).__name__
    try:
        text = str(err)[:120]
    except Exception:  # an exception whose own message fails: its name is all there is
        return name
    return f"{name}: {text}" if text else name


def _attribute_name(key: object) -> str:
    if not issubclass(type(key), str):
        try:
            shown = repr(key)[:80]
        except Exception:
            shown = f"<{type(key).__name__}>"
        raise InvalidBusinessEventError(
            "event_attributes", f"key {shown} is a {type(key).__name__}; attribute names must be strings."
        )
    name = plain_text(key, "event_attributes", name=True)  # type: ignore[arg-type]
    if not name.strip():
        raise InvalidBusinessEventError("event_attributes", "has an empty attribute name.")
    return name


def normalize_event_attributes(
    event_attributes: object, rules: PayloadRules = LEGACY_RULES
) -> dict[str, Any]:
    """
    Return the attributes as MoEngage will receive them, types kept.

    Ints stay ints, lists stay lists, strings stay strings (even "12"), booleans stay booleans where
    the API takes them (``rules``); dates and datetimes become ISO 8601 text. Any mapping is read;
    what it holds must be plain data: anything else is an :class:`InvalidBusinessEventError` naming
    the attribute.
    """
    kind = type(event_attributes)
    if issubclass(kind, str):
        raise InvalidBusinessEventError(
            "event_attributes",
            'is a string; it must be an object such as {"season": "Season 1"} '
            "(a template string must render to a JSON object).",
        )
    if not issubclass(kind, Mapping):
        raise InvalidBusinessEventError(
            "event_attributes",
            f"must be an object (a dict of attribute name to value), got {kind.__name__}.",
        )
    try:
        items = list(event_attributes.items())  # type: ignore[attr-defined]
    except Exception as err:
        raise InvalidBusinessEventError("event_attributes", f"could not be read: {_failure(err)}.") from None
    normalized: dict[str, Any] = {}
    for key, value in items:
        # Fast path for the usual case (plain ASCII name, plain value); anything else takes the full checks.
        if type(key) is str and key.isascii() and key.isprintable() and key and not key.isspace():
            name = key
        else:
            name = _attribute_name(key)
        if name in normalized:
            raise InvalidBusinessEventError(f"event_attributes.{name}", "appears twice.")
        kind = type(value)
        if (
            (kind is str and value.isascii() and "\x00" not in value)
            or (kind is int and INT_MIN <= value <= INT_MAX)
            or (kind is float and math.isfinite(value))
        ):
            normalized[name] = value
        else:
            normalized[name] = _normalize_value(value, f"event_attributes.{name}", rules)
    return normalized


def prepare_trigger(
    event_name: object,
    event_attributes: object,
    triggered_by: object = None,
    rules: PayloadRules = LEGACY_RULES,
) -> PreparedTrigger:
    """
    Validate and encode a trigger once, for the API whose ``rules`` apply: the body and the exact
    bytes to send.

    Total: for any Python values it returns, or raises :class:`InvalidBusinessEventError` naming the
    field; never another exception.
    """
    body: dict[str, Any] = {
        "event_name": validate_event_name(event_name),
        "event_attributes": normalize_event_attributes(event_attributes, rules),
    }
    email = validate_triggered_by(triggered_by)
    if email is not None:
        body["triggered_by"] = email
    elif rules.triggered_by_required:
        raise InvalidBusinessEventError(
            "triggered_by",
            f"is required by MoEngage's Business Events API V5 (the connection's {rules.api}): set it to "
            "the email of whoever fires the event, e.g. 'data-team@example.com'.",
        )
    data = encode_body(body)
    if len(data) > MAX_BODY_BYTES:
        raise InvalidBusinessEventError(
            "event_attributes",
            f"makes a {len(data):,}-byte request, over this provider's {MAX_BODY_BYTES:,}-byte guard "
            "(MoEngage publishes no limit); send counts or identifiers, not whole datasets.",
        )
    return PreparedTrigger(body, data)


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The exact bytes sent: compact UTF-8 JSON, non-ASCII kept as is, NaN refused."""
    return _ENCODER.encode(body).encode("utf-8")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def attributes_from_rendered(value: Any) -> Any:
    """A rendered ``event_attributes``: text must hold a JSON object (or a dict's Python repr)."""
    if not issubclass(type(value), str):
        return value
    text = str.strip(value)
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        try:
            # A dict XCom rendered by plain Jinja arrives as its Python repr ({'a': 1}).
            parsed = ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise InvalidBusinessEventError(
                "event_attributes",
                f"rendered to {shown!r}, which is not a JSON object. Render a JSON object, pass a dict, "
                "or pass an XComArg (e.g. the output of an upstream @task).",
            ) from None
    if not isinstance(parsed, dict):
        raise InvalidBusinessEventError(
            "event_attributes", f"rendered to a JSON {type(parsed).__name__}, not an object."
        )
    return parsed
