"""V5 list and search over real HTTP: filters, cursor paging, V5 types and counters, their errors
and their own rate limits."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import requests

from moengage_provider.testing import MoEngageSandbox
from tests.testing.sandbox_helpers import API_KEY, TRIGGER, WORKSPACE, FakeClock, call

LIST = "/v5/business-events"
SEARCH = "/v5/business-events/search"
EVENTS: dict[str, dict[str, Any]] = {
    "PriceDrop": {"attributes": {"sku": "string", "price": "float", "on_sale": "boolean", "at": "date"}},
    "BackInStock": {"attributes": {"sku": "string", "stock": "int"}},
}


def listed(sb: MoEngageSandbox, **params: Any) -> requests.Response:
    return requests.get(sb.url + LIST, params=params, auth=(WORKSPACE, API_KEY), timeout=5)


def names(answer: requests.Response) -> list[str]:
    return [e["name"] for e in answer.json()["data"]]


def test_an_event_as_v5_shows_it(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    clock = FakeClock(1_785_000_000.0)
    sb = make_sandbox(events=EVENTS, permissive=False, clock=clock)
    [never] = listed(sb, name="PriceDrop").json()["data"]
    assert never == {
        "id": never["id"],
        "name": "PriceDrop",
        "attributes": [
            {"name": "sku", "data_type": "string"},
            {"name": "price", "data_type": "number"},
            {"name": "on_sale", "data_type": "boolean"},
            {"name": "at", "data_type": "datetime"},
        ],
        "campaign_count": 0,
        "trigger_count": 0,
        "created_by": "sandbox@example.com",
        "created_at": "2026-07-25T17:20:00Z",
    }
    assert re.match(r"^[0-9a-f]{24}$", never["id"])  # last_triggered_at: absent until a trigger
    clock.advance(60)
    call(sb, TRIGGER, {"event_name": "PriceDrop", "event_attributes": {"sku": "S"}})
    [fired] = listed(sb, id=never["id"]).json()["data"]
    assert (fired["trigger_count"], fired["campaign_count"]) == (1, 1)
    assert fired["last_triggered_at"] == "2026-07-25T17:21:00Z"
    answer = listed(sb)
    assert answer.json()["type"] == "business-events" and answer.json()["pagination"] == {"has_more": False}
    assert sorted(names(answer)) == ["BackInStock", "PriceDrop"]
    assert listed(sb, name="Nope").json()["data"] == []


def test_pages_of_twenty_at_most_follow_the_cursor(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox(events={f"E{n:02d}": {"attributes": {}} for n in range(25)})
    first = listed(sb)
    assert len(first.json()["data"]) == 20 and first.json()["pagination"]["has_more"] is True
    second = listed(sb, cursor=first.json()["pagination"]["next_cursor"])
    assert second.json()["pagination"] == {"has_more": False}
    assert sorted(names(first) + names(second)) == [f"E{n:02d}" for n in range(25)]
    small = call(sb, SEARCH, {"limit": 10})
    rest = call(sb, SEARCH, {"limit": 20, "cursor": small.json()["pagination"]["next_cursor"]})
    assert names(small) + names(rest) == names(first) + names(second)  # one order for both endpoints
    for bad in ({"limit": "21"}, {"limit": "0"}, {"limit": "x"}, {"cursor": "not-a-cursor"}):
        refused = listed(sb, **bad)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "INVALID_REQUEST", bad


def test_search_by_names_or_ids_never_both(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox(events=EVENTS)
    by_name = call(sb, SEARCH, {"filters": {"names": ["PriceDrop", "Nope"]}})
    assert names(by_name) == ["PriceDrop"]
    ident = by_name.json()["data"][0]["id"]
    assert names(call(sb, SEARCH, {"filters": {"ids": [ident]}})) == ["PriceDrop"]
    assert sorted(names(call(sb, SEARCH))) == ["BackInStock", "PriceDrop"]  # no body: everything
    both = call(sb, SEARCH, {"filters": {"names": ["PriceDrop"], "ids": [ident]}})
    assert both.status_code == 400
    assert both.json()["error"] == {
        "code": "INVALID_REQUEST",
        "message": "Use either 'names' or 'ids', not both.",
        "target": "filters.ids",
        "details": [
            {
                "code": "INVALID_PARAMETER_COMBINATION",
                "target": "filters.ids",
                "message": "The 'ids' filter cannot be combined with 'names'.",
            }
        ],
    }
    both_params = listed(sb, name="PriceDrop", id=ident)
    assert both_params.status_code == 400 and both_params.json()["error"]["target"] == "id"
    assert call(sb, SEARCH, {"filters": {"names": "PriceDrop"}}).status_code == 400


def test_lookup_errors_and_scope(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox(events=EVENTS)
    wrong = requests.get(sb.url + LIST, auth=(WORKSPACE, "wrong"), timeout=5)
    assert wrong.status_code == 401
    assert wrong.json()["error"] == {
        "code": "UNAUTHORIZED",
        "message": "Missing or invalid authentication credentials.",
        "target": "Authorization",
    }
    assert re.match(r"^resp_[0-9a-f]{32}$", wrong.json()["response_id"])
    sb.add_api_key("read-nothing-key", business_events_scope=False)
    forbidden = requests.get(sb.url + LIST, auth=(WORKSPACE, "read-nothing-key"), timeout=5)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "FORBIDDEN"
    assert "details" not in forbidden.json()["error"]
    assert [r["code"] for r in sb.rejected] == ["UNAUTHORIZED", "FORBIDDEN"]
    assert sb.rejected[-1]["workspace_id"] == WORKSPACE


def test_lookups_have_their_own_rate_limits(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    clock = FakeClock(30.0)
    sb = make_sandbox(events=EVENTS, clock=clock)
    answers = [listed(sb) for _ in range(61)]
    assert [a.status_code for a in answers] == [200] * 60 + [429]
    assert (
        answers[0].headers["x-ratelimit-limit"] == "60"
        and answers[0].headers["x-ratelimit-remaining"] == "59"
    )
    limited = answers[-1]
    assert limited.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED" and limited.headers["Retry-After"] == "30"
    searches = [call(sb, SEARCH).status_code for _ in range(31)]
    assert searches == [200] * 30 + [429]  # counted apart from the list
    clock.now = 60.0
    assert listed(sb).status_code == 200
    assert call(sb, TRIGGER, {"event_name": "X", "event_attributes": {}}).status_code == 200  # triggers apart
    tight = make_sandbox(events=EVENTS, rate_limits={"v5_search_minute": {"limit": 1, "seconds": 2}})
    assert [call(tight, SEARCH).status_code for _ in range(2)] == [200, 429]
