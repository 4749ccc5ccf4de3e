"""``POST /v1.0/business_event/trigger``: fire a declared (or, when permissive, any) business event.

Checks, in order: fields, ``triggered_by``, event exists, attributes declared, attribute types,
active campaign, then the rate limits (campaign limits per workspace; flow limits for flow events).
A trigger reserves the campaigns and flows of its event as a V5 trigger does (see
:mod:`..firing`), but the legacy answer does not say which.
"""

from __future__ import annotations

import copy
from typing import Any

from moengage_provider.testing.sandbox.api.call import Call
from moengage_provider.testing.sandbox.api.firing import fire
from moengage_provider.testing.sandbox.events import Event
from moengage_provider.testing.sandbox.protocol import (
    MSG_BAD_REQUEST,
    MSG_EVENT_NOT_FOUND,
    MSG_EVENT_NOT_FOUND_DETAIL,
    MSG_NO_ACTIVE_CAMPAIGN,
    MSG_TRIGGERED,
    MSG_WRONG_ATTRIBUTE,
    bad_request,
    detail,
)
from moengage_provider.testing.sandbox.records import TriggerRecord
from moengage_provider.testing.sandbox.validation import (
    check_fields,
    is_email,
    json_type_name,
    non_empty_name,
    type_ok,
)


def handle(call: Call) -> dict[str, Any]:
    state, ws, request_id = call.state, call.ws, call.request_id
    name, attributes, triggered_by = _checked_body(call.payload, request_id)
    event = ws.events.get(name)
    if event is None and not state.settings.permissive:
        raise bad_request(
            MSG_EVENT_NOT_FOUND,
            [detail("InvalidValue", "event_name", MSG_EVENT_NOT_FOUND_DETAIL)],
            request_id,
        )
    if event is not None:
        _check_against(event, attributes, request_id)
    fire(call, name, event)
    record: TriggerRecord = {
        "event_name": name,
        "event_attributes": copy.deepcopy(attributes),
        "triggered_by": triggered_by,
        "workspace_id": ws.workspace_id,
        "received_at": call.received_at,
        "request_id": request_id,
    }
    state.keep_trigger(record)
    return {"message": MSG_TRIGGERED}


def _checked_body(payload: dict[str, Any], request_id: str) -> tuple[str, dict[str, Any], Any]:
    """The event name, attributes and ``triggered_by`` of a well-formed body, or the documented 400."""
    check_fields(
        payload,
        ("event_name", "event_attributes", "triggered_by"),
        ("event_name", "event_attributes"),
        "BusinessEventTriggerRequest",
        request_id,
    )
    name = non_empty_name(payload, request_id)
    attributes = payload["event_attributes"]
    if not isinstance(attributes, dict):
        message = f"event_attributes - Not a valid JSON object : '{json_type_name(attributes)}'"
        raise bad_request(MSG_BAD_REQUEST, [detail("InvalidValue", "event_attributes", message)], request_id)
    triggered_by = payload.get("triggered_by")
    if triggered_by is not None and not is_email(triggered_by):
        # Verbatim from the documented example (its top-level message is the "does not exists" one).
        message = f"triggered_by - Invalid email address : '{triggered_by}'"
        raise bad_request(MSG_EVENT_NOT_FOUND, [detail("MissingValue", "triggered_by", message)], request_id)
    return name, attributes, triggered_by


def _check_against(event: Event, attributes: dict[str, Any], request_id: str) -> None:
    """Attributes declared and of their declared types; an active campaign uses the event."""
    undeclared = [a for a in attributes if a not in event.attributes]
    if undeclared:
        raise bad_request(
            MSG_WRONG_ATTRIBUTE,
            [detail("InvalidValue", a, MSG_WRONG_ATTRIBUTE) for a in undeclared],
            request_id,
        )
    details = []
    for attr, value in attributes.items():
        declared = event.attributes[attr]
        if type_ok(declared, value):
            continue
        message = (
            f"['{attr}'] - Wrong Attribute data type is passed : '{json_type_name(value)}'"
            f" (declared '{declared}')"
        )
        if declared == "date":
            message += ": expected YYYY-MM-DD, an ISO 8601 date-time or MM/DD/YYYY"
        details.append(detail("InvalidValue", [attr], message))
    if details:
        raise bad_request(MSG_BAD_REQUEST, details, request_id)
    if not event.active_campaign:
        raise bad_request(
            MSG_NO_ACTIVE_CAMPAIGN,
            [detail("InvalidValue", "event_name", MSG_NO_ACTIVE_CAMPAIGN)],
            request_id,
        )
