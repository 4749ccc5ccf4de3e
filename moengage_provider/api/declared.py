"""
What a business event declares in MoEngage: its attributes and their types. Checked when an event
is created (``CreateBusinessEventOperator``, the legacy API's five types), and, with
``check_declared_attributes=True``, before a trigger is sent (values of the declared type only, in
the vocabulary of the API that answered the look-up: the legacy ``string``, ``int``, ``float``,
``array``, ``date``, or V5's ``string``, ``number``, ``boolean``, ``datetime``). Pure: it reads the
look-up's answer as data (:class:`~moengage_provider.api.versions.DeclaredEvent`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from moengage_provider.api.text_fields import InvalidBusinessEventError
from moengage_provider.api.versions import DeclaredEvent

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
    if kind == "number":  # V5
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":  # V5
        return isinstance(value, bool)
    if kind == "datetime":  # V5: ISO 8601, as dates and datetimes are sent
        return isinstance(value, str) and _is_iso_8601(value)
    return True


def _is_iso_8601(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        return False
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


def check_declared(
    event_name: str, event_attributes: Mapping[str, Any], declared: DeclaredEvent | None
) -> None:
    """The attributes against the event as MoEngage's look-up found it (None: no such event)."""
    if declared is None:
        raise InvalidBusinessEventError(
            "event_name",
            f"{event_name!r} is not declared in this MoEngage workspace; create it first "
            "(CreateBusinessEventOperator) or fix the name.",
        )
    check_against_declared(event_attributes, declared.attributes)
