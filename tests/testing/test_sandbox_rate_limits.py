"""Per-workspace rate limits: the documented 429 body, fixed windows, shrunk window lengths."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from moengage_provider.testing import MoEngageSandbox
from tests.testing.sandbox_helpers import (
    CREATE,
    SEARCH,
    FakeClock,
    call,
    trigger,
)

RATE_LIMIT_BODY = {
    "status": "error",
    "data": {
        "code": 429,
        "title": "rate limiter exception",
        "description": "Exceeded rate limit for this app",
    },
}
OK = {"event_name": "Anything", "event_attributes": {}}


def test_hourly_limit_in_real_time_with_a_shrunk_hour(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox(hourly_limit=3, hour_seconds=1.0)
    # Start at the beginning of a fresh window so that the four triggers below share one window.
    time.sleep(max(0.0, sb.rate_limit_state()["hour_window_ends_at"] - time.time()) + 0.01)
    session = requests.Session()
    statuses = [trigger(sb, OK, session=session).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    over = trigger(sb, OK, session=session)
    assert over.status_code == 429
    assert over.json() == RATE_LIMIT_BODY
    assert "Retry-After" not in over.headers  # MoEngage documents none
    state = sb.rate_limit_state()
    assert state["hour_count"] == 3 and state["day_count"] == 3
    assert len(sb.triggers) == 3
    assert [r["status"] for r in sb.rejected] == [429, 429]
    assert sb.rejected[0]["code"] == "429 rate limiter exception"

    # The next hourly window accepts again.
    time.sleep(max(0.0, state["hour_window_ends_at"] - time.time()) + 0.01)
    assert trigger(sb, OK, session=session).status_code == 200
    assert sb.rate_limit_state()["hour_count"] == 1
    assert sb.rate_limit_state()["day_count"] == 4


def test_daily_limit_and_window_alignment(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    clock = FakeClock(1005.0)
    sb = make_sandbox(hourly_limit=2, daily_limit=3, hour_seconds=100, day_seconds=1000, clock=clock)
    state = sb.rate_limit_state()
    # Windows are aligned to multiples of their length since the epoch.
    assert state["hour_window_ends_at"] == 1100 and state["day_window_ends_at"] == 2000

    assert [trigger(sb, OK).status_code for _ in range(3)] == [200, 200, 429]  # hour full
    clock.now = 1100.0  # next hour, same day
    assert [trigger(sb, OK).status_code for _ in range(2)] == [200, 429]  # day full (3)
    clock.now = 1200.0  # yet another hour: the day is still full
    response = trigger(sb, OK)
    assert response.status_code == 429 and response.json() == RATE_LIMIT_BODY
    clock.now = 2000.0  # next day
    assert trigger(sb, OK).status_code == 200
    assert sb.rate_limit_state() == {
        **sb.rate_limit_state(),
        "hour_count": 1,
        "day_count": 1,
        "hour_window_ends_at": 2100.0,
        "day_window_ends_at": 3000.0,
    }


def test_default_limits_are_the_published_10_per_5_minutes_50_per_hour_200_per_day(
    make_sandbox: Callable[..., MoEngageSandbox],
) -> None:
    clock = FakeClock(0.5)
    sb = make_sandbox(clock=clock)
    session = requests.Session()

    def burst(count: int) -> list[int]:
        return [trigger(sb, OK, session=session).status_code for _ in range(count)]

    assert burst(11) == [200] * 10 + [429]  # the eleventh of five minutes waits
    clock.now = 300.5  # the next five minutes: ten more
    assert burst(11) == [200] * 10 + [429]
    for window in range(2, 5):
        clock.now = window * 300.0 + 0.5
        assert burst(10) == [200] * 10
    clock.now = 5 * 300.0 + 0.5  # a fresh five minutes, but 50 this hour already
    assert burst(1) == [429]
    for hour in range(1, 4):
        for window in range(5):
            clock.now = hour * 3600.0 + window * 300.0 + 0.5
            assert burst(10) == [200] * 10
    clock.now = 4 * 3600.0 + 0.5  # a fresh hour, but 200 today already
    assert burst(1) == [429]
    state = sb.rate_limit_state()
    assert (state["day_count"], state["daily_limit"], state["five_minute_limit"]) == (200, 200, 10)
    clock.now = 86400.0 + 0.5
    assert burst(1) == [200]


def test_retry_after_header_when_asked(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    clock = FakeClock(1030.2)
    sb = make_sandbox(hourly_limit=1, hour_seconds=100, retry_after=True, clock=clock)
    assert trigger(sb, OK).status_code == 200
    over = trigger(sb, OK)
    assert over.status_code == 429
    assert over.headers["Retry-After"] == "70"  # ceil(1100 - 1030.2)
    assert over.json() == RATE_LIMIT_BODY


def test_limits_are_per_workspace(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox(hourly_limit=2)
    sb.add_workspace("ws-other", "other-key")
    assert [trigger(sb, OK).status_code for _ in range(3)] == [200, 200, 429]
    other = [trigger(sb, OK, auth=("ws-other", "other-key")).status_code for _ in range(3)]
    assert other == [200, 200, 429]
    assert sb.rate_limit_state()["hour_count"] == 2
    assert sb.rate_limit_state("ws-other")["hour_count"] == 2
    assert [t["workspace_id"] for t in sb.triggers] == ["ws-test", "ws-test", "ws-other", "ws-other"]
    # The other workspace's key does not open the first workspace.
    assert trigger(sb, OK, auth=("ws-test", "other-key")).status_code == 401


def test_only_accepted_triggers_count(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox(hourly_limit=2, permissive=False, events={"E": {"attributes": {"a": "int"}}})
    assert trigger(sb, {"event_name": "Nope", "event_attributes": {}}).status_code == 400
    assert trigger(sb, {"event_name": "E", "event_attributes": {"a": "x"}}).status_code == 400
    assert trigger(sb, OK, auth=("ws-test", "bad")).status_code == 401
    create = {"event_name": "F", "event_attributes": [], "created_by": "a@example.com"}
    assert call(sb, CREATE, create).status_code == 200
    assert call(sb, SEARCH, {"event_names": ["E"]}).status_code == 200
    assert sb.rate_limit_state()["hour_count"] == 0
    assert [trigger(sb, {"event_name": "E", "event_attributes": {"a": 1}}).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]


def test_search_has_its_own_limit(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    clock = FakeClock(10.0)
    sb = make_sandbox(search_limit_per_minute=2, hourly_limit=1, clock=clock)
    body = {"event_names": ["X"]}
    assert [call(sb, SEARCH, body).status_code for _ in range(3)] == [200, 200, 429]
    assert call(sb, SEARCH, body).json() == RATE_LIMIT_BODY
    assert trigger(sb, OK).status_code == 200  # triggers are counted apart
    clock.now = 60.0
    assert call(sb, SEARCH, body).status_code == 200
