"""``POST /v5/business-events/triggers``: fire a declared (or, when permissive, any) business event.

Checks, in order: the request id, ``event_name``, ``triggered_by`` (required), ``event_attributes``
(optional, an object), ``moe_request_id``; the event exists; its attributes are declared and of
their V5 types; then the rate limits. A valid trigger always answers 200, saying in
``triggered_status`` whether the campaigns and flows attached to the event were reserved
(:mod:`..firing`); an event nothing is attached to answers ``FAILURE`` with a total of 0.
"""

from __future__ import annotations

import copy
from typing import Any, cast

from moengage_provider.testing.sandbox.api.call import Call
from moengage_provider.testing.sandbox.api.firing import fire
from moengage_provider.testing.sandbox.api.v5.wire import (
    MSG_EVENT_NOT_FOUND,
    MSG_TRIGGERED,
    MSG_VALIDATION,
    MSG_WRONG_ATTRIBUTE,
    V5Refusals,
    check_request_id,
    is_uuid,
    issue,
)
from moengage_provider.testing.sandbox.events import Event
from moengage_provider.testing.sandbox.records import TriggerRecord
from moengage_provider.testing.sandbox.validation import V5_TYPE_OF, is_email, json_type_name, v5_type_ok

_TYPE_NAMES = {"int": "number", "float": "number", "bool": "boolean", "null": "null"}


def handle(call: Call) -> dict[str, Any]:
    refusals = cast(V5Refusals, call.refusals)
    check_request_id(refusals)
    name, attributes, triggered_by = _checked_body(call.payload, refusals)
    event = call.ws.events.get(name)
    if event is None and not call.state.settings.permissive:
        raise refusals.invalid("event_name", "INVALID_VALUE", MSG_EVENT_NOT_FOUND)
    if event is not None:
        _check_against(event, attributes, refusals)
    firing = fire(call, name, event)
    data = {"triggered_status": firing.triggered_status, "message": MSG_TRIGGERED, **firing.as_data()}
    call.outcome = firing.triggered_status
    record: TriggerRecord = {
        "event_name": name,
        "event_attributes": copy.deepcopy(attributes),
        "triggered_by": triggered_by,
        "workspace_id": call.ws.workspace_id,
        "received_at": call.received_at,
        "request_id": call.request_id,
        "api_version": "v5",
        "moe_request_id": refusals.trace,
        "response_id": refusals.response_id,
        **firing.as_data(),  # type: ignore[typeddict-item]
    }
    call.state.keep_trigger(record)
    return refusals.envelope("business-event", data)


def _checked_body(payload: dict[str, Any], refusals: V5Refusals) -> tuple[str, dict[str, Any], str]:
    """The event name, attributes and ``triggered_by`` of a well-formed body, or a 400 naming the field."""
    name = payload.get("event_name")
    if name is None:
        raise refusals.invalid("event_name", "MISSING_VALUE", "event_name is required")
    if not isinstance(name, str) or not name.strip():
        raise refusals.invalid("event_name", "INVALID_VALUE", "event_name must be a non-empty string")
    triggered_by = payload.get("triggered_by")
    if triggered_by is None:
        raise refusals.invalid("triggered_by", "MISSING_VALUE", "triggered_by is required")
    if not is_email(triggered_by):
        raise refusals.invalid("triggered_by", "INVALID_FORMAT", f"Invalid email address : '{triggered_by}'")
    attributes = payload.get("event_attributes", {})  # optional, but an object when given (not null)
    if not isinstance(attributes, dict):
        message = f"Expected an object, got {json_type_name(attributes)}."
        raise refusals.invalid("event_attributes", "INVALID_TYPE", message)
    if "moe_request_id" in payload:
        moe_request_id = payload["moe_request_id"]
        if not is_uuid(moe_request_id):
            raise refusals.invalid("moe_request_id", "INVALID_FORMAT", "moe_request_id must be a UUID")
        if not refusals.trace_from_client:  # the header wins; without it, the body's id is echoed
            refusals.trace = moe_request_id.lower()
    return name, attributes, triggered_by


def _check_against(event: Event, attributes: dict[str, Any], refusals: V5Refusals) -> None:
    """Attributes declared (400 naming each unknown one), and of their V5 types."""
    undeclared = [a for a in attributes if a not in event.attributes]
    if undeclared:
        details = [issue(a, "INVALID_VALUE", MSG_WRONG_ATTRIBUTE) for a in undeclared]
        raise refusals.refuse(400, "VALIDATION_FAILED", MSG_WRONG_ATTRIBUTE, details=details)
    details = []
    for attr, value in attributes.items():
        declared = event.attributes[attr]
        if not v5_type_ok(declared, value):
            expected = "array" if declared == "array" else V5_TYPE_OF.get(declared, declared)
            if expected == "datetime":
                expected = "an ISO 8601 datetime"
            got = _TYPE_NAMES.get(json_type_name(value), json_type_name(value))
            details.append(
                issue(f"event_attributes.{attr}", "INVALID_TYPE", f"Expected {expected}, got {got}.")
            )
    if details:
        target = details[0]["field"] if len(details) == 1 else "event_attributes"
        raise refusals.refuse(400, "VALIDATION_FAILED", MSG_VALIDATION, target=target, details=details)
