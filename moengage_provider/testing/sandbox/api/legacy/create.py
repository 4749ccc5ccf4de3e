"""``POST /v1.0/business_event``: create a business event (50 per workspace, as documented).

A created event has an active campaign, so it can be triggered at once, even in strict mode.
"""

from __future__ import annotations

from typing import Any, cast

from moengage_provider.testing.sandbox.api.call import Call
from moengage_provider.testing.sandbox.events import Attachment, Event
from moengage_provider.testing.sandbox.protocol import (
    ATTRIBUTE_TYPES,
    MSG_BAD_REQUEST,
    MSG_CREATED,
    MSG_EVENT_EXISTS,
    MSG_EVENT_LIMIT,
    bad_request,
    detail,
    new_object_id,
)
from moengage_provider.testing.sandbox.validation import (
    check_fields,
    is_email,
    json_type_name,
    non_empty_name,
)

_ATTRIBUTE_KEYS = ("attribute_name", "attribute_data_type")


def _attributes(items: list[Any], request_id: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    details: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            details.append(
                detail("InvalidValue", "event_attributes", "event_attributes - Each item must be an object")
            )
            continue
        for key in item:
            if key not in _ATTRIBUTE_KEYS:
                message = f"Additional fields are not allowed document schema for class EventAttribute:{key}"
                raise bad_request(message, [detail("InvalidValue", key, message)], request_id)
        attr_name = item.get("attribute_name")
        attr_type = item.get("attribute_data_type")
        if not isinstance(attr_name, str) or not attr_name:
            message = f"attribute_name - Field is required but value is None : {attr_name}"
            details.append(detail("MissingValue", "attribute_name", message))
            continue
        if attr_type not in ATTRIBUTE_TYPES:
            message = f"['{attr_name}'] - Wrong Attribute data type is passed : '{attr_type}'"
            details.append(detail("MissingValue", [attr_name], message))
            continue
        if attr_name in attributes:
            details.append(detail("InvalidValue", [attr_name], f"['{attr_name}'] - Duplicate attribute name"))
            continue
        attributes[attr_name] = cast(str, attr_type)
    if details:
        raise bad_request(MSG_BAD_REQUEST, details, request_id)
    return attributes


def handle(call: Call) -> dict[str, Any]:
    state, ws, payload, request_id = call.state, call.ws, call.payload, call.request_id
    check_fields(
        payload,
        ("event_name", "event_attributes", "created_by"),
        ("event_name", "event_attributes", "created_by"),
        "BusinessEventCreateRequest",
        request_id,
    )
    name = non_empty_name(payload, request_id)
    created_by = payload["created_by"]
    if not is_email(created_by):
        message = f"created_by - Invalid email address : '{created_by}'"
        raise bad_request(MSG_BAD_REQUEST, [detail("InvalidValue", "created_by", message)], request_id)
    items = payload["event_attributes"]
    if not isinstance(items, list):
        message = f"event_attributes - Not a valid list : '{json_type_name(items)}'"
        raise bad_request(MSG_BAD_REQUEST, [detail("InvalidValue", "event_attributes", message)], request_id)
    attributes = _attributes(items, request_id)
    if name in ws.events:
        raise bad_request(
            MSG_EVENT_EXISTS, [detail("InvalidValue", "event_name", MSG_EVENT_EXISTS)], request_id
        )
    if len(ws.events) >= state.settings.event_limit:
        message = f"{MSG_EVENT_LIMIT} ({state.settings.event_limit})"
        raise bad_request(message, [detail("InvalidValue", "event_name", message)], request_id)
    event = Event(
        name=name,
        attributes=attributes,
        event_id=new_object_id(),
        object_id=new_object_id(),
        created_ts=state.now(),
        created_by=created_by,
        campaigns=[Attachment(new_object_id())],
    )
    ws.events[name] = event
    return {"message": MSG_CREATED, "event_id": event.event_id}
