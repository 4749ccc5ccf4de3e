"""``POST /v1.0/business_event/trigger``: fire a declared (or, when permissive, any) business event.

Checks, in order: fields, ``triggered_by``, event exists, attributes declared, attribute types,
active campaign, then the rate limits (campaign limits per workspace; flow limits for flow events).
"""

from __future__ import annotations

import copy
import json
import math
from typing import TYPE_CHECKING, Any

from moengage_provider.testing.sandbox.protocol import (
    MSG_BAD_REQUEST,
    MSG_EVENT_NOT_FOUND,
    MSG_EVENT_NOT_FOUND_DETAIL,
    MSG_NO_ACTIVE_CAMPAIGN,
    MSG_TRIGGERED,
    MSG_WRONG_ATTRIBUTE,
    RATE_LIMIT_BODY,
    Reject,
    bad_request,
    detail,
)
from moengage_provider.testing.sandbox.records import TriggerRecord
from moengage_provider.testing.sandbox.state import (
    FLOW_WINDOWS,
    TRIGGER_WINDOWS,
    Workspace,
    count,
    full_windows,
)
from moengage_provider.testing.sandbox.validation import (
    check_fields,
    is_email,
    json_type_name,
    non_empty_name,
    type_ok,
)

if TYPE_CHECKING:
    from moengage_provider.testing.sandbox.server import MoEngageSandbox


def rate_limited(sb: MoEngageSandbox, window_end: float, now: float) -> Reject:
    """The documented 429 (``Retry-After`` only when asked for: MoEngage documents none)."""
    headers = None
    if sb.retry_after:
        headers = {"Retry-After": str(max(1, math.ceil(window_end - now)))}
    return Reject(
        429,
        copy.deepcopy(RATE_LIMIT_BODY),
        code="429 rate limiter exception",
        message=RATE_LIMIT_BODY["data"]["description"],
        headers=headers,
    )


def handle(
    sb: MoEngageSandbox, ws: Workspace, payload: dict[str, Any], request_id: str, received_at: str
) -> dict[str, Any]:
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
    event = ws.events.get(name)
    if event is None and not sb.permissive:
        raise bad_request(
            MSG_EVENT_NOT_FOUND,
            [detail("InvalidValue", "event_name", MSG_EVENT_NOT_FOUND_DETAIL)],
            request_id,
        )
    if event is not None:
        undeclared = [a for a in attributes if a not in event.attributes]
        if undeclared:
            raise bad_request(
                MSG_WRONG_ATTRIBUTE,
                [detail("InvalidValue", a, MSG_WRONG_ATTRIBUTE) for a in undeclared],
                request_id,
            )
        wrong = [(a, v) for a, v in attributes.items() if not type_ok(event.attributes[a], v)]
        if wrong:
            details = []
            for attr, value in wrong:
                declared = event.attributes[attr]
                message = (
                    f"['{attr}'] - Wrong Attribute data type is passed : '{json_type_name(value)}'"
                    f" (declared '{declared}')"
                )
                if declared == "date":
                    message += ": expected YYYY-MM-DD, an ISO 8601 date-time or MM/DD/YYYY"
                details.append(detail("InvalidValue", [attr], message))
            raise bad_request(MSG_BAD_REQUEST, details, request_id)
        if not event.active_campaign:
            raise bad_request(
                MSG_NO_ACTIVE_CAMPAIGN,
                [detail("InvalidValue", "event_name", MSG_NO_ACTIVE_CAMPAIGN)],
                request_id,
            )

    now = sb._now()
    is_flow = sb.all_flows or (event is not None and event.flow)
    windows = TRIGGER_WINDOWS + FLOW_WINDOWS if is_flow else TRIGGER_WINDOWS
    ends = full_windows(ws, windows, sb, now)
    if ends:
        raise rate_limited(sb, max(ends), now)
    count(ws, windows)
    if event is not None:
        event.accepted_at.append(now)
    record: TriggerRecord = {
        "event_name": name,
        "event_attributes": copy.deepcopy(attributes),
        "triggered_by": triggered_by,
        "workspace_id": ws.workspace_id,
        "received_at": received_at,
        "request_id": request_id,
    }
    sb._recorder.trigger(record)
    if sb.record_file is not None:
        with sb.record_file.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=True) + "\n")
    return {"message": MSG_TRIGGERED}
