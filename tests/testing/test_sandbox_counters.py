"""Search counters (total_trigger, last_received_time) exactly as accepted, the lag option, and the
Business-Trigger flow limits (3 an hour, 10 a day) for events marked as used by a flow."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timezone

import requests

from moengage_provider.testing import MoEngageSandbox
from tests.testing.sandbox_helpers import SEARCH, FakeClock, call, trigger

EVENTS = {
    "Campaign": {"attributes": {"n": "int"}, "active_campaign": True},
    "Flow": {"attributes": {"n": "int"}, "active_campaign": True, "flow": True},
}
START = 19676 * 86400.0  # midnight UTC: every window starts fresh


def counters(sb: MoEngageSandbox, name: str) -> tuple[int, str | None]:
    [event] = call(sb, SEARCH, {"event_names": [name]}).json()["data"]
    return event["total_trigger"], event.get("last_received_time")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="microseconds")


def test_counters_count_exactly_what_was_accepted(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    clock = FakeClock(START)
    sb = make_sandbox(events=EVENTS, permissive=False, hourly_limit=3, clock=clock)
    assert counters(sb, "Campaign") == (0, None)
    ok = {"event_name": "Campaign", "event_attributes": {"n": 1}}
    assert trigger(sb, ok).status_code == 200
    clock.advance(1.5)
    assert (
        trigger(sb, {"event_name": "Campaign", "event_attributes": {"n": "x"}}).status_code == 400
    )  # refused
    sb.fail_next(503)
    assert trigger(sb, ok).status_code == 503  # injected: not processed
    sb.drop_next(accept=True)  # processed, answer lost: counts
    with contextlib.suppress(requests.ConnectionError):
        trigger(sb, ok, timeout=5)
    assert trigger(sb, ok).status_code == 200
    assert trigger(sb, ok).status_code == 429  # over the limit: not counted
    assert counters(sb, "Campaign") == (3, iso(START + 1.5))
    assert len(sb.triggers) == 3
    sb.reset()
    assert counters(sb, "Campaign") == (0, None)


def test_counters_can_lag(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    clock = FakeClock(START)
    sb = make_sandbox(events=EVENTS, permissive=False, counter_lag_seconds=60, clock=clock)
    ok = {"event_name": "Campaign", "event_attributes": {"n": 1}}
    assert trigger(sb, ok).status_code == 200
    clock.advance(30)
    assert trigger(sb, ok).status_code == 200
    assert counters(sb, "Campaign") == (0, None)  # accepted, not yet counted
    clock.advance(31)
    assert counters(sb, "Campaign") == (1, iso(START))
    clock.advance(30)
    assert counters(sb, "Campaign") == (2, iso(START + 30))
    assert len(sb.triggers) == 2  # the records are never late


def test_flow_events_have_their_own_limits(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    clock = FakeClock(START)
    sb = make_sandbox(events=EVENTS, permissive=False, clock=clock)
    flow = {"event_name": "Flow", "event_attributes": {"n": 1}}
    campaign = {"event_name": "Campaign", "event_attributes": {"n": 1}}
    assert [trigger(sb, flow).status_code for _ in range(4)] == [200, 200, 200, 429]  # 3 an hour
    assert trigger(sb, campaign).status_code == 200  # campaigns: 50 an hour, unaffected
    state = sb.rate_limit_state()
    assert (state["flow_hour_count"], state["flow_hourly_limit"], state["hour_count"]) == (3, 3, 4)
    statuses = []
    for _ in range(4):
        clock.advance(3600)
        statuses += [trigger(sb, flow).status_code for _ in range(3)]
    assert statuses.count(200) == 7 and statuses[-1] == 429  # 10 a day in all
    assert sb.rate_limit_state()["flow_day_count"] == 10


def test_all_flows_applies_the_flow_limits_to_every_event(
    make_sandbox: Callable[..., MoEngageSandbox],
) -> None:
    sb = make_sandbox(all_flows=True, flow_hourly_limit=1, clock=FakeClock(START))
    assert [trigger(sb, {"event_name": "Any", "event_attributes": {}}).status_code for _ in range(2)] == [
        200,
        429,
    ]
    assert sb.rejected[-1]["code"] == "429 rate limiter exception"
