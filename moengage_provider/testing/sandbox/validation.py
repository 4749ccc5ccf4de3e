"""What the sandbox accepts, written from MoEngage's documentation (never from ``payload.py``).

A fake that shares the code under test hides its bugs, so the provider's own validation is not used
here; only the documented rules are. Every function is total: any input gives a value or a ``Reject``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from moengage_provider.testing.sandbox.protocol import (
    ATTRIBUTE_TYPES,
    JSON_TYPE,
    MSG_BAD_REQUEST,
    MSG_CONTENT_TYPE,
    MSG_NOT_JSON,
    MSG_NOT_OBJECT,
    bad_request,
    detail,
)

#: Deeper JSON is refused (400): no real payload nests this deep, and unbounded depth is a DoS vector.
MAX_JSON_DEPTH = 64
#: MoEngage stores events in MongoDB, which holds 64-bit signed integers at most.
MIN_INT, MAX_INT = -(2**63), 2**63 - 1

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_MDY_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def is_email(value: Any) -> bool:
    return isinstance(value, str) and bool(_EMAIL_RE.match(value))


def is_valid_date(value: Any) -> bool:
    """A date attribute value: ISO 8601 date or date-time, or MM/DD/YYYY (the documented example)."""
    if not isinstance(value, str) or not value:
        return False
    match = _MDY_RE.match(value)
    if match:
        month, day, year = (int(g) for g in match.groups())
        try:
            date(year, month, day)
        except ValueError:
            return False
        return True
    try:
        date.fromisoformat(value)
        return True
    except ValueError:
        pass
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


#: The types V5 reports and validates (``string``, ``number``, ``boolean``, ``datetime``).
V5_TYPES = ("string", "number", "boolean", "datetime")
#: What an event may declare: the legacy create API's types and V5's (so a test can declare a boolean).
DECLARABLE_TYPES = (*ATTRIBUTE_TYPES, "number", "boolean", "datetime")
#: How each API shows a type of the other vocabulary. MoEngage says only "map between the two";
#: how a legacy array shows in V5, or a V5 boolean in the legacy search, is not documented.
V5_TYPE_OF = {"int": "number", "float": "number", "date": "datetime", "array": "string"}
LEGACY_TYPE_OF = {"number": "float", "datetime": "date", "boolean": "string"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def type_ok(declared: str, value: Any) -> bool:
    """A value of a legacy trigger against the attribute's declared type."""
    if declared == "string":
        return isinstance(value, str)
    if declared == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if declared in ("float", "number"):
        return _is_number(value)
    if declared == "array":
        return isinstance(value, list)
    if declared in ("date", "datetime"):
        return is_valid_date(value)
    if declared == "boolean":
        return isinstance(value, bool)
    return False


def v5_type_ok(declared: str, value: Any) -> bool:
    """A value of a V5 trigger against the attribute's type as V5 sees it: ``number`` any number,
    ``boolean`` true or false, ``datetime`` an ISO 8601 date or date-time (not MM/DD/YYYY). A legacy
    ``array`` attribute takes a list, as through the legacy API."""
    shown = V5_TYPE_OF.get(declared, declared)
    if declared == "array":
        return isinstance(value, list)
    if shown == "string":
        return isinstance(value, str)
    if shown == "number":
        return _is_number(value)
    if shown == "boolean":
        return isinstance(value, bool)
    if shown == "datetime":
        return is_iso_datetime(value)
    return False


def is_iso_datetime(value: Any) -> bool:
    """An ISO 8601 date (``2026-08-03``) or date-time (``2026-08-03T09:12:00Z``)."""
    if not isinstance(value, str) or not value or _MDY_RE.match(value):
        return False
    return is_valid_date(value)


def normalize_attributes(attributes: Any, event_name: str) -> dict[str, str]:
    """Attributes as {name: type} or as the create API's [{attribute_name, attribute_data_type}]."""
    if attributes is None:
        return {}
    result: dict[str, str] = {}
    if isinstance(attributes, Mapping):
        items: Iterable[tuple[Any, Any]] = attributes.items()
    elif isinstance(attributes, list):
        pairs = []
        for item in attributes:
            if not isinstance(item, Mapping) or "attribute_name" not in item:
                raise ValueError(
                    f"event {event_name!r}: attribute entries need attribute_name/attribute_data_type"
                )
            pairs.append((item["attribute_name"], item.get("attribute_data_type")))
        items = pairs
    else:
        raise ValueError(f"event {event_name!r}: attributes must be a mapping name -> type")
    for name, type_ in items:
        if not isinstance(name, str) or not name:
            raise ValueError(f"event {event_name!r}: attribute names must be non-empty strings")
        if type_ not in DECLARABLE_TYPES:
            raise ValueError(
                f"event {event_name!r}: attribute {name!r} has type {type_!r}; expected one of {DECLARABLE_TYPES}"
            )
        result[name] = type_
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _checked_int(text: str) -> int:
    value = int(text)
    if not MIN_INT <= value <= MAX_INT:
        raise ValueError(f"integer {text[:20]}{'...' if len(text) > 20 else ''} is out of the 64-bit range")
    return value


def _checked_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of the range of a double")
    return value


def _check_tree(value: Any) -> str | None:
    """Why a parsed JSON value cannot be stored (too deep, a lone surrogate), or None. Iterative."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return f"nested deeper than {MAX_JSON_DEPTH} levels"
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds a lone surrogate (\\ud800-\\udfff), which is not Unicode text"
    return None


def parse_json(
    content_type: str | None, body: bytes, refuse: Callable[[str, str], Exception]
) -> dict[str, Any]:
    """The request body as a JSON object, or ``refuse(target, message)`` naming what is wrong."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != JSON_TYPE:
        shown = f"{MSG_CONTENT_TYPE} (got {content_type!r})" if content_type else MSG_CONTENT_TYPE
        raise refuse("Content-Type", shown)

    def not_json(reason: str) -> Exception:
        return refuse("body", f"{MSG_NOT_JSON}: {reason}")

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise not_json(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        payload = json.loads(
            text, parse_constant=_reject_constant, parse_int=_checked_int, parse_float=_checked_float
        )
    except RecursionError:
        raise not_json(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise not_json(str(exc)) from None
    problem = _check_tree(payload)
    if problem:
        raise not_json(problem)
    if not isinstance(payload, dict):
        raise refuse("body", f"{MSG_NOT_OBJECT} (got {json_type_name(payload)})")
    return payload


def check_fields(
    payload: dict[str, Any], allowed: Sequence[str], required: Sequence[str], schema: str, request_id: str
) -> None:
    """MoEngage's document-schema checks: no unknown top-level field, the required ones not null."""
    for key in payload:
        if key not in allowed:
            message = f"Additional fields are not allowed document schema for class {schema}:{key}"
            raise bad_request(message, [detail("InvalidValue", key, message)], request_id)
    missing = [name for name in required if payload.get(name) is None]
    if missing:
        raise bad_request(
            MSG_BAD_REQUEST,
            [
                detail("MissingValue", name, f"{name} - Field is required but value is None : {None}")
                for name in missing
            ],
            request_id,
        )


def non_empty_name(payload: dict[str, Any], request_id: str) -> str:
    name = payload["event_name"]
    if not isinstance(name, str) or not name.strip():
        message = f"event_name - Not a valid non-empty string : '{name}'"
        raise bad_request(MSG_BAD_REQUEST, [detail("InvalidValue", "event_name", message)], request_id)
    return name
