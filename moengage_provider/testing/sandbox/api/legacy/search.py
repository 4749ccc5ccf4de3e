"""``POST /v1.0/business_event/search``: declared and created events by id or name, with counters.

``total_trigger`` and ``last_received_time`` count exactly the accepted triggers, as of
``now - counter_lag_seconds`` (0 by default: exact at once; a lag mimics counters that update later).
"""

from __future__ import annotations

from typing import Any

from moengage_provider.testing.sandbox.api.admission import admit
from moengage_provider.testing.sandbox.api.call import Call
from moengage_provider.testing.sandbox.events import Event
from moengage_provider.testing.sandbox.protocol import (
    MSG_BAD_REQUEST,
    MSG_SEARCH_CRITERIA,
    bad_request,
    detail,
    naive_iso,
)
from moengage_provider.testing.sandbox.ratelimits import SEARCH
from moengage_provider.testing.sandbox.validation import LEGACY_TYPE_OF, check_fields


def handle(call: Call) -> dict[str, Any]:
    state, ws, payload, request_id = call.state, call.ws, call.payload, call.request_id
    check_fields(payload, ("event_ids", "event_names"), (), "BusinessEventSearchRequest", request_id)
    criteria: dict[str, list[str]] = {}
    for field_name in ("event_ids", "event_names"):
        if field_name not in payload:
            continue
        value = payload[field_name]  # null is not a list either (the spec's type is array, not nullable)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad_request(
                MSG_BAD_REQUEST,
                [detail("InvalidValue", field_name, f"{field_name} - Not a valid list of strings")],
                request_id,
            )
        criteria[field_name] = value
    if not any(criteria.values()):
        raise bad_request(
            MSG_BAD_REQUEST,
            [detail("MissingValue", ["event_ids", "event_names"], MSG_SEARCH_CRITERIA)],
            request_id,
        )
    admit(call, (SEARCH,))
    now = state.now()
    ids = set(criteria.get("event_ids", []))
    names = set(criteria.get("event_names", []))
    as_of = now - state.settings.counter_lag_seconds
    data = [
        as_search_result(e, ws.workspace_id, as_of)
        for e in ws.events.values()
        if e.event_id in ids or e.name in names
    ]
    return {"data": data}


def as_search_result(event: Event, db_name: str, as_of: float) -> dict[str, Any]:
    """An event as the legacy search shows it (attribute types in the legacy vocabulary)."""
    total, last, _ = event.counters(as_of)
    result: dict[str, Any] = {
        "db_name": db_name,
        "event_id": event.event_id,
        "event_name": event.name,
        "event_attributes": [
            {"attribute_name": n, "attribute_data_type": LEGACY_TYPE_OF.get(t, t)}
            for n, t in event.attributes.items()
        ],
        "created_at": naive_iso(event.created_ts),
        "total_trigger": total,
        "users_in_segment": 0,
        "usage_count": 0,
        "created_by": event.created_by,
    }
    if last is not None:  # the spec types it as a date-time string, not nullable: absent until then
        result["last_received_time"] = naive_iso(last)
    result["_id"] = event.object_id
    return result
