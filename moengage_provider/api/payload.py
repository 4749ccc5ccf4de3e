"""
What MoEngage accepts as a business event, checked before anything is sent.

Shared by the hook, the operator and the notifier so there is one answer to "is this a valid
event?". It knows neither HTTP nor Airflow: it takes Python values and returns the JSON-ready body.
Here: attribute values and declared types, the body and its bytes; the event name, ``triggered_by``
and the error class are in ``text_fields`` (re-exported here).
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
    validate_event_name,
    validate_triggered_by,
)
from moengage_provider.api.text_fields import plain_text as _plain_text
from moengage_provider.api.text_fields import short as _short

__all__ = [
    "ATTRIBUTE_TYPES",
    "INT_MAX",
    "INT_MIN",
    "MAX_BODY_BYTES",
    "InvalidBusinessEventError",
    "PreparedTrigger",
    "attributes_from_rendered",
    "build_trigger_payload",
    "check_against_declared",
    "encode_body",
    "normalize_event_attributes",
    "prepare_trigger",
    "validate_attribute_types",
    "validate_event_name",
    "validate_triggered_by",
]

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
            where, f"is {_short(value)}, which JSON cannot carry as a number; send a finite number."
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
            where, f"is {_short(value)}, which JSON cannot carry as a number; send a finite number."
        )
    if value != value.to_integral_value():
        return _finite(float(value), value, where)
    if not INT_MIN <= value <= INT_MAX:  # compared before int(): 1E+999999 has a million digits
        raise InvalidBusinessEventError(
            where, "is a whole number beyond the 64-bit range MoEngage stores; send it as a string."
        )
    return int(value)


def _normalize_scalar(value: Any, where: str) -> Any:
    kind = type(value)  # never isinstance(): a hostile __class__ could raise
    if kind is str:
        return _plain_text(value, where)
    if kind is int:
        return _bounded(value, where)
    if kind is float:
        return _finite(value, value, where)
    if issubclass(kind, bool):
        raise InvalidBusinessEventError(
            where,
            "is a boolean, which MoEngage attributes cannot hold (types: string, int, float, array, date); "
            "send 'true'/'false' as a string or 1/0 as an int.",
        )
    if issubclass(kind, str):
        return _plain_text(value, where)
    if issubclass(kind, numbers.Integral):
        return _bounded(int(value), where)
    if issubclass(kind, decimal.Decimal):
        return _decimal(value, where)
    if issubclass(kind, numbers.Real):
        try:
            number = float(value)  # always an exact float: Python converts what __float__ returns
        except OverflowError:
            number = math.inf
        return _finite(number, value, where)
    if issubclass(kind, (dt.datetime, dt.date)):
        text = value.isoformat()
        if type(text) is not str:
            raise TypeError(f"{kind.__name__}.isoformat returned {type(text).__name__}")
        return text
    if value is None:
        raise InvalidBusinessEventError(
            where, "is None; leave the attribute out instead (all attributes are optional)."
        )
    if issubclass(kind, Mapping):
        raise InvalidBusinessEventError(
            where,
            "is a nested object, which MoEngage attributes cannot hold; flatten it into separate attributes.",
        )
    if issubclass(kind, (set, frozenset)):
        raise InvalidBusinessEventError(
            where, "is a set, which JSON cannot carry; pass a sorted list instead."
        )
    if issubclass(kind, (bytes, bytearray, memoryview)):
        raise InvalidBusinessEventError(where, "is bytes; decode it to a string first.")
    if issubclass(kind, (list, tuple)):
        raise InvalidBusinessEventError(
            where, "is a nested list; MoEngage array attributes hold plain values."
        )
    raise InvalidBusinessEventError(
        where,
        f"has type {kind.__name__}, which MoEngage attributes cannot hold; "
        "use a string, int, float, list, date or datetime.",
    )


def _normalize_value(value: Any, where: str) -> Any:
    try:
        if type(value) is str:
            return _plain_text(value, where)
        if issubclass(type(value), (list, tuple)):
            return [_normalize_scalar(item, f"{where}[{index}]") for index, item in enumerate(list(value))]
        return _normalize_scalar(value, where)
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
    name = _plain_text(key, "event_attributes", name=True)  # type: ignore[arg-type]
    if not name.strip():
        raise InvalidBusinessEventError("event_attributes", "has an empty attribute name.")
    return name


def normalize_event_attributes(event_attributes: object) -> dict[str, Any]:
    """
    Return the attributes as MoEngage will receive them, types kept.

    Ints stay ints, lists stay lists, strings stay strings (even "12"); dates and datetimes become
    ISO 8601 text because MoEngage publishes no date format. Any mapping is read; what it holds must
    be plain data: anything else is an :class:`InvalidBusinessEventError` naming the attribute.
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
            normalized[name] = _normalize_value(value, f"event_attributes.{name}")
    return normalized


#: The attribute types a business event can declare.
ATTRIBUTE_TYPES = ("string", "int", "float", "array", "date")


def validate_attribute_types(attribute_types: object) -> dict[str, str]:
    """The declared attributes of a business event to create: name -> one of :data:`ATTRIBUTE_TYPES`."""
    if not isinstance(attribute_types, Mapping) or not attribute_types:
        raise InvalidBusinessEventError(
            "attribute_types",
            'must be a non-empty dict of attribute name -> type, e.g. {"season": "string"}.',
        )
    checked: dict[str, str] = {}
    for name, kind in attribute_types.items():
        if not isinstance(name, str) or not name.strip():
            raise InvalidBusinessEventError(
                "attribute_types", f"attribute name {name!r} must be a non-empty string."
            )
        if kind not in ATTRIBUTE_TYPES:
            raise InvalidBusinessEventError(
                f"attribute_types.{name}", f"type {kind!r} is not one of {', '.join(ATTRIBUTE_TYPES)}."
            )
        checked[name] = kind
    return checked


def _matches_declared_type(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "date":
        return isinstance(value, str)
    return True


def check_against_declared(event_attributes: Mapping[str, Any], declared: Mapping[str, str]) -> None:
    """Refuse attributes the event does not declare, or values of another type (normalized values)."""
    for name, value in event_attributes.items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise InvalidBusinessEventError(
                f"event_attributes.{name}",
                f"is not declared on this business event in MoEngage (declared: {known}).",
            )
        kind = declared[name]
        if not _matches_declared_type(kind, value):
            raise InvalidBusinessEventError(
                f"event_attributes.{name}",
                f"is declared as {kind} in MoEngage but the value is {type(value).__name__} {value!r}.",
            )


def prepare_trigger(
    event_name: object, event_attributes: object, triggered_by: object = None
) -> PreparedTrigger:
    """
    Validate and encode a trigger once: the body and the exact bytes to send.

    Total: for any Python values it returns, or raises :class:`InvalidBusinessEventError` naming the
    field; never another exception.
    """
    body: dict[str, Any] = {
        "event_name": validate_event_name(event_name),
        "event_attributes": normalize_event_attributes(event_attributes),
    }
    email = validate_triggered_by(triggered_by)
    if email is not None:
        body["triggered_by"] = email
    data = encode_body(body)
    if len(data) > MAX_BODY_BYTES:
        raise InvalidBusinessEventError(
            "event_attributes",
            f"makes a {len(data):,}-byte request, over this provider's {MAX_BODY_BYTES:,}-byte guard "
            "(MoEngage publishes no limit); send counts or identifiers, not whole datasets.",
        )
    return PreparedTrigger(body, data)


def build_trigger_payload(
    event_name: object, event_attributes: object, triggered_by: object = None
) -> dict[str, Any]:
    """The trigger request body, validated; ``triggered_by=None`` is left out."""
    return prepare_trigger(event_name, event_attributes, triggered_by).body


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
