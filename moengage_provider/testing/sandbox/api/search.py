"""``POST /v1.0/business_event/search``: declared and created events by id or name, with counters.

``total_trigger`` and ``last_received_time`` count exactly the accepted triggers, as of
``now - counter_lag_seconds`` (0 by default: exact at once; a lag mimics counters that update later).
"""

from __future__ import annotations

from typing import Any

from moengage_provider.testing.sandbox.api.admission import admit, legacy_rate_limited
from moengage_provider.testing.sandbox.api.call import Call
from moengage_provider.testing.sandbox.protocol import (
    MSG_BAD_REQUEST,
    MSG_SEARCH_CRITERIA,
    bad_request,
    detail,
)
from moengage_provider.testing.sandbox.ratelimits import SEARCH
from moengage_provider.testing.sandbox.validation import check_fields


def handle(call: Call) -> dict[str, Any]:
    state, ws, payload, request_id = call.state, call.ws, call.payload, call.request_id
    check_fields(payload, ("event_ids", "event_names"), (), "BusinessEventSearchRequest", request_id)
    criteria: dict[str, list[str]] = {}
    for field_name in ("event_ids", "event_names"):
        value = payload.get(field_name)
        if value is None:
            continue
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
    admit(call, (SEARCH,), legacy_rate_limited)
    now = state.now()
    ids = set(criteria.get("event_ids", []))
    names = set(criteria.get("event_names", []))
    as_of = now - state.settings.counter_lag_seconds
    data = [
        e.as_search_result(ws.workspace_id, as_of)
        for e in ws.events.values()
        if e.event_id in ids or e.name in names
    ]
    return {"data": data}
