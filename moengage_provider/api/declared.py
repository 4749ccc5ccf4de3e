"""
What a business event declares in MoEngage: its attributes and their types. Checked when an event
is created (``CreateBusinessEventOperator``), and, with ``check_declared_attributes=True``, before a
trigger is sent (values of the declared type only). Pure: it reads MoEngage's search answer as data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moengage_provider.api.text_fields import InvalidBusinessEventError

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


def declared_attribute_types(event: Mapping[str, Any]) -> dict[str, str]:
    """Attribute name -> type, from a search result's ``event_attributes`` list."""
    declared: dict[str, str] = {}
    for item in event.get("event_attributes") or []:
        if isinstance(item, Mapping) and isinstance(item.get("attribute_name"), str):
            declared[item["attribute_name"]] = str(item.get("attribute_data_type"))
    return declared


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


def check_declared(
    event_name: str, event_attributes: Mapping[str, Any], declared: Mapping[str, Any] | None
) -> None:
    """The attributes against the event as MoEngage's search found it (None: no such event)."""
    if declared is None:
        raise InvalidBusinessEventError(
            "event_name",
            f"{event_name!r} is not declared in this MoEngage workspace; create it first "
            "(CreateBusinessEventOperator) or fix the name.",
        )
    check_against_declared(event_attributes, declared_attribute_types(declared))
