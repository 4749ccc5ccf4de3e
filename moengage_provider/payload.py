"""
What MoEngage accepts as a business event, checked before anything is sent.

Shared by the hook, the operator and the notifier so there is one answer to "is this a valid
event?". It knows neither HTTP nor Airflow: it takes Python values and returns the JSON-ready body.
"""

from __future__ import annotations

import ast
import datetime as dt
import decimal
import json
import math
import numbers
import re
from collections.abc import Mapping
from typing import Any

#: Our own guard: MoEngage publishes no payload size limit, so refuse bodies no event needs.
MAX_BODY_BYTES = 256 * 1024

# Deliberately simple: one "@", no spaces, a dot in the domain. MoEngage rejects what it rejects;
# this catches the typos and empty template renders before they cost a request.
_EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class InvalidBusinessEventError(ValueError):
    """A business event MoEngage could not take; ``field`` names the part at fault."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


def validate_event_name(event_name: object) -> str:
    """Return the event name, or explain why MoEngage would not know it."""
    if not isinstance(event_name, str):
        raise InvalidBusinessEventError(
            "event_name",
            f"must be a string (the business event's name in MoEngage), got {type(event_name).__name__}.",
        )
    if not event_name.strip():
        raise InvalidBusinessEventError(
            "event_name", "is empty; set it to the name of a business event created in MoEngage."
        )
    if event_name != event_name.strip():
        raise InvalidBusinessEventError(
            "event_name",
            f"{event_name!r} has leading or trailing whitespace; MoEngage matches names exactly.",
        )
    return event_name


def validate_triggered_by(triggered_by: object) -> str | None:
    """Return the email (or None), or explain why MoEngage would reject it."""
    if triggered_by is None:
        return None
    if not isinstance(triggered_by, str):
        raise InvalidBusinessEventError(
            "triggered_by", f"must be an email address string or None, got {type(triggered_by).__name__}."
        )
    if not _EMAIL_PATTERN.match(triggered_by):
        raise InvalidBusinessEventError(
            "triggered_by",
            f"{triggered_by!r} is not an email address; use e.g. 'data-team@example.com' or leave it unset.",
        )
    return triggered_by


def _normalize_scalar(value: Any, where: str) -> Any:
    if isinstance(value, bool):
        raise InvalidBusinessEventError(
            where,
            "is a boolean, which MoEngage attributes cannot hold (types: string, int, float, array, date); "
            "send 'true'/'false' as a string or 1/0 as an int.",
        )
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise InvalidBusinessEventError(
                where, f"is {value}, which JSON cannot carry; send a finite number."
            )
        return (
            int(value)
            if value == value.to_integral_value() and value.as_tuple().exponent == 0
            else float(value)
        )
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise InvalidBusinessEventError(
                where, f"is {number}, which JSON cannot carry; send a finite number."
            )
        return number
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None:
        raise InvalidBusinessEventError(
            where, "is None; leave the attribute out instead (all attributes are optional)."
        )
    if isinstance(value, Mapping):
        raise InvalidBusinessEventError(
            where,
            "is a nested object, which MoEngage attributes cannot hold; flatten it into separate attributes.",
        )
    if isinstance(value, (set, frozenset)):
        raise InvalidBusinessEventError(
            where, "is a set, which JSON cannot carry; pass a sorted list instead."
        )
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise InvalidBusinessEventError(where, "is bytes; decode it to a string first.")
    raise InvalidBusinessEventError(
        where,
        f"has type {type(value).__name__}, which MoEngage attributes cannot hold; "
        "use a string, int, float, list, date or datetime.",
    )


def _normalize_value(value: Any, where: str) -> Any:
    if isinstance(value, (list, tuple)):
        items = []
        for index, item in enumerate(value):
            if isinstance(item, (list, tuple)):
                raise InvalidBusinessEventError(
                    f"{where}[{index}]", "is a nested list; MoEngage array attributes hold plain values."
                )
            items.append(_normalize_scalar(item, f"{where}[{index}]"))
        return items
    return _normalize_scalar(value, where)


def normalize_event_attributes(event_attributes: object) -> dict[str, Any]:
    """
    Return the attributes as MoEngage will receive them, types kept.

    Ints stay ints, lists stay lists, strings stay strings (even "12"); dates and datetimes become
    ISO 8601 text because MoEngage publishes no date format.
    """
    if isinstance(event_attributes, str):
        raise InvalidBusinessEventError(
            "event_attributes",
            'is a string; it must be an object such as {"season": "Season 1"} '
            "(a template string must render to a JSON object).",
        )
    if not isinstance(event_attributes, Mapping):
        raise InvalidBusinessEventError(
            "event_attributes",
            f"must be an object (a dict of attribute name to value), got {type(event_attributes).__name__}.",
        )
    normalized: dict[str, Any] = {}
    for key, value in event_attributes.items():
        if not isinstance(key, str):
            raise InvalidBusinessEventError(
                "event_attributes", f"key {key!r} is a {type(key).__name__}; attribute names must be strings."
            )
        if not key.strip():
            raise InvalidBusinessEventError("event_attributes", "has an empty attribute name.")
        normalized[key] = _normalize_value(value, f"event_attributes.{key}")
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


def build_trigger_payload(
    event_name: object, event_attributes: object, triggered_by: object = None
) -> dict[str, Any]:
    """The trigger request body, validated; ``triggered_by=None`` is left out."""
    body: dict[str, Any] = {
        "event_name": validate_event_name(event_name),
        "event_attributes": normalize_event_attributes(event_attributes),
    }
    email = validate_triggered_by(triggered_by)
    if email is not None:
        body["triggered_by"] = email
    size = len(encode_body(body))
    if size > MAX_BODY_BYTES:
        raise InvalidBusinessEventError(
            "event_attributes",
            f"makes a {size:,}-byte request, over this provider's {MAX_BODY_BYTES:,}-byte guard "
            "(MoEngage publishes no limit); send counts or identifiers, not whole datasets.",
        )
    return body


def encode_body(body: Mapping[str, Any]) -> bytes:
    """The exact bytes sent: compact UTF-8 JSON, non-ASCII kept as is, NaN refused."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def attributes_from_rendered(value: Any) -> Any:
    """A rendered ``event_attributes``: text must hold a JSON object (or a dict's Python repr)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        try:
            # A dict XCom rendered by plain Jinja arrives as its Python repr ({'a': 1}).
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
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
