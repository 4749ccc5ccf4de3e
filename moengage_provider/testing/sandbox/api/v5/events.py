"""``GET /v5/business-events`` (by ``name`` or ``id``) and ``POST /v5/business-events/search`` (by
``filters.names`` or ``filters.ids``): the declared events with their V5 attribute types and
counters, 20 a page at most, paged by an opaque cursor. Names and ids together: 400.

``trigger_count``, ``campaign_count`` and ``last_triggered_at`` count the triggers accepted (through
either API) as of ``now - counter_lag_seconds``, like the legacy search's counters. A query
parameter the list does not document is refused (a typo must not pass silently).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any, cast

from moengage_provider.testing.sandbox.api.admission import admit
from moengage_provider.testing.sandbox.api.call import Call
from moengage_provider.testing.sandbox.api.v5.wire import V5Refusals, check_request_id
from moengage_provider.testing.sandbox.events import Event
from moengage_provider.testing.sandbox.ratelimits import V5_LIST, V5_SEARCH
from moengage_provider.testing.sandbox.validation import V5_TYPE_OF

PAGE_SIZE = 20
QUERY_PARAMETERS = ("name", "id", "limit", "cursor")
Matcher = Callable[[Event], bool]


def list_events(call: Call) -> dict[str, Any]:
    refusals = cast(V5Refusals, call.refusals)
    check_request_id(refusals)
    unknown = sorted(set(call.query) - set(QUERY_PARAMETERS))
    if unknown:
        message = f"Unknown query parameter {unknown[0]!r}; use {', '.join(QUERY_PARAMETERS)}"
        raise refusals.invalid(unknown[0], "UNKNOWN_PARAMETER", message)
    name, ident = call.query.get("name"), call.query.get("id")
    if name is not None and ident is not None:
        raise _both(refusals, "id", "The 'id' parameter cannot be combined with 'name'.", "'name' or 'id'")
    limit = _limit(call.query.get("limit"), refusals, "limit", parse=True)
    if name is not None:
        return _page(call, lambda e: e.name == name, limit, call.query.get("cursor"), V5_LIST)
    if ident is not None:
        return _page(call, lambda e: e.event_id == ident, limit, call.query.get("cursor"), V5_LIST)
    return _page(call, lambda e: True, limit, call.query.get("cursor"), V5_LIST)


def search(call: Call) -> dict[str, Any]:
    refusals = cast(V5Refusals, call.refusals)
    check_request_id(refusals)
    payload = call.payload  # every field optional; none of them null (the spec allows no null)
    filters = payload.get("filters", {})
    if not isinstance(filters, dict):
        raise refusals.invalid("filters", "INVALID_VALUE", "filters must be an object with names or ids")
    names = _strings(filters, "names", refusals)
    ids = _strings(filters, "ids", refusals)
    if names is not None and ids is not None:
        raise _both(
            refusals, "filters.ids", "The 'ids' filter cannot be combined with 'names'.", "'names' or 'ids'"
        )
    if "limit" in payload and payload["limit"] is None:
        raise refusals.invalid(
            "limit", "INVALID_VALUE", f"limit must be a whole number from 1 to {PAGE_SIZE}"
        )
    limit = _limit(payload.get("limit"), refusals, "limit", parse=False)
    cursor = payload.get("cursor", "")
    if not isinstance(cursor, str):
        raise refusals.invalid("cursor", "INVALID_VALUE", "cursor must be the string a previous page gave")
    matcher: Matcher = lambda e: True  # noqa: E731
    if names is not None:
        matcher = lambda e: e.name in names  # noqa: E731
    elif ids is not None:
        matcher = lambda e: e.event_id in ids  # noqa: E731
    return _page(call, matcher, limit, cursor, V5_SEARCH)


def _both(refusals: V5Refusals, target: str, detail: str, which: str) -> Exception:
    return refusals.refuse(
        400,
        "INVALID_REQUEST",
        f"Use either {which}, not both.",
        target=target,
        details=[{"code": "INVALID_PARAMETER_COMBINATION", "target": target, "message": detail}],
    )


def _strings(filters: dict[str, Any], key: str, refusals: V5Refusals) -> set[str] | None:
    """``filters[key]``, a list of strings; None when not given."""
    if key not in filters:
        return None
    value, field = filters[key], f"filters.{key}"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise refusals.invalid(field, "INVALID_VALUE", f"{field} must be a list of strings")
    return set(value)


def _limit(value: Any, refusals: V5Refusals, field: str, *, parse: bool) -> int:
    """Page size: 1 to 20 (default 20)."""
    if value is None:
        return PAGE_SIZE
    if parse and isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= PAGE_SIZE:
        raise refusals.invalid(field, "INVALID_VALUE", f"limit must be a whole number from 1 to {PAGE_SIZE}")
    return value


def _page(call: Call, matches: Matcher, limit: int, cursor: str | None, kind: str) -> dict[str, Any]:
    refusals = cast(V5Refusals, call.refusals)
    after = _after(cursor, refusals) if cursor else ""  # none, or empty: the first page
    admit(call, (kind,))
    as_of = call.state.now() - call.state.settings.counter_lag_seconds
    found = sorted(
        (e for e in call.ws.events.values() if matches(e) and e.event_id > after), key=lambda e: e.event_id
    )
    page = found[:limit]
    pagination: dict[str, Any] = {"has_more": len(found) > limit}
    if pagination["has_more"]:
        pagination["next_cursor"] = _cursor(page[-1].event_id)
    return refusals.envelope("business-events", _shown(page, as_of), pagination=pagination)


def _shown(events: Iterable[Event], as_of: float) -> list[dict[str, Any]]:
    shown = []
    for event in events:
        count, last, launched = event.counters(as_of)
        item: dict[str, Any] = {
            "id": event.event_id,
            "name": event.name,
            "attributes": [
                {"name": n, "data_type": V5_TYPE_OF.get(t, t)} for n, t in event.attributes.items()
            ],
            "campaign_count": launched,
            "trigger_count": count,
            "created_by": event.created_by,
        }
        if last is not None:  # a date-time, not nullable: absent until the first trigger
            item["last_triggered_at"] = _utc(last)
        item["created_at"] = _utc(event.created_ts)
        shown.append(item)
    return shown


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _cursor(last_id: str) -> str:
    # The shape of the documented example (eyJsYXN0X2lkIjoi... is {"last_id":"..."}); opaque to clients.
    return base64.urlsafe_b64encode(json.dumps({"last_id": last_id}, separators=(",", ":")).encode()).decode()


def _after(cursor: str, refusals: V5Refusals) -> str:
    try:
        last_id = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))["last_id"]
    except (ValueError, UnicodeError, binascii.Error, TypeError, KeyError):
        last_id = None
    if not isinstance(last_id, str):
        raise refusals.invalid("cursor", "INVALID_VALUE", "cursor is not one a previous page gave")
    return last_id
