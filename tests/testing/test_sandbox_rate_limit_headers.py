"""What every answer says about the rate-limit windows (x-ratelimit-limit/-remaining/-reset), and
how the windows are configured: named options, per-window overrides, config file, CLI, control API."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from moengage_provider.testing import MoEngageSandbox, load_config
from tests.testing.sandbox_helpers import SEARCH, FakeClock, call, trigger

OK = {"event_name": "Anything", "event_attributes": {}}
HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


def said(response: requests.Response) -> tuple[int, int, int]:
    """The three rate-limit headers of an answer, as numbers."""
    return tuple(int(response.headers[name]) for name in HEADERS)  # type: ignore[return-value]


def test_every_trigger_answer_says_the_tightest_window_and_when_it_resets(
    make_sandbox: Callable[..., MoEngageSandbox],
) -> None:
    clock = FakeClock(1_700_000_000.0)  # 5 minutes in: a five-minute window ends at ...300
    sb = make_sandbox(clock=clock, permissive=False, events={"E": {"attributes": {"n": "int"}}})
    body = {"event_name": "E", "event_attributes": {"n": 1}}
    five_end = 1_700_000_100  # (1_700_000_000 // 300 + 1) * 300
    first = trigger(sb, body)
    assert first.status_code == 200 and said(first) == (10, 9, five_end)
    refused_for_its_body = trigger(sb, {"event_name": "E", "event_attributes": {"n": "x"}})
    assert refused_for_its_body.status_code == 400 and said(refused_for_its_body) == (10, 9, five_end)
    for _ in range(9):
        last = trigger(sb, body)
    assert said(last) == (10, 0, five_end)
    over = trigger(sb, body)
    assert over.status_code == 429 and said(over) == (10, 0, five_end)
    assert "Retry-After" not in over.headers  # the legacy pages document none
    # The reset is a moment (UTC epoch seconds), not a delay: waiting until it is enough.
    clock.now = float(five_end)
    assert trigger(sb, body).status_code == 200
    unknown_key = trigger(sb, body, auth=("ws-test", "wrong"))
    assert unknown_key.status_code == 401 and not set(HEADERS) & set(unknown_key.headers)


def test_the_headers_follow_the_window_closest_to_its_limit(
    make_sandbox: Callable[..., MoEngageSandbox],
) -> None:
    clock = FakeClock(0.5)
    sb = make_sandbox(clock=clock, five_minute_limit=10, hourly_limit=12)
    assert said(trigger(sb, OK)) == (10, 9, 300)  # 9 left of five minutes, 11 of the hour
    for _ in range(9):
        trigger(sb, OK)
    clock.now = 300.5
    assert said(trigger(sb, OK)) == (12, 1, 3600)  # 9 left of five minutes, 1 of the hour
    assert said(trigger(sb, OK)) == (12, 0, 3600)
    over = trigger(sb, OK)
    assert over.status_code == 429 and said(over) == (12, 0, 3600)


def test_the_reset_is_rounded_up_to_a_whole_second(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox(clock=FakeClock(1.0), five_minute_limit=1, five_minute_seconds=2.5)
    assert said(trigger(sb, OK)) == (1, 0, 3)  # the window ends at 2.5: a client waiting until 2 is early
    over = trigger(sb, OK)
    assert over.status_code == 429 and said(over) == (1, 0, 3)


def test_a_refusal_by_two_windows_resets_when_both_have(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    clock = FakeClock(3590.0)  # ten seconds before the hour ends; a day of 100 s ends at 3600 too
    sb = make_sandbox(clock=clock, five_minute_limit=1, daily_limit=1, day_seconds=7200, retry_after=True)
    assert trigger(sb, OK).status_code == 200
    over = trigger(sb, OK)
    assert over.status_code == 429
    assert said(over) == (1, 0, 7200)  # the day (full too) reopens after the five minutes
    assert over.headers["Retry-After"] == str(7200 - 3590)


def test_headers_can_be_switched_off(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox(rate_limit_headers=False, five_minute_limit=1)
    assert not set(HEADERS) & set(trigger(sb, OK).headers)
    assert not set(HEADERS) & set(trigger(sb, OK).headers)  # the 429 too
    assert not set(HEADERS) & set(call(sb, SEARCH, {"event_names": ["X"]}).headers)


def test_search_has_its_own_published_limit_and_headers(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    clock = FakeClock(120.0)
    sb = make_sandbox(clock=clock)
    session = requests.Session()
    answers = [call(sb, SEARCH, {"event_names": ["X"]}, session=session) for _ in range(101)]
    assert [a.status_code for a in answers] == [200] * 100 + [429]
    assert said(answers[0]) == (100, 99, 180) and said(answers[-1]) == (100, 0, 180)
    assert said(trigger(sb, OK)) == (10, 9, 300)  # triggers are counted apart


def test_windows_of_seconds_in_real_time(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox(five_minute_limit=2, five_minute_seconds=1.0)
    session = requests.Session()
    # Start at the beginning of a fresh window, so that the three triggers share it.
    time.sleep(max(0.0, sb.rate_limit_state()["five_minutes_window_ends_at"] - time.time()) + 0.01)
    answers = [trigger(sb, OK, session=session) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    reset = int(answers[-1].headers["x-ratelimit-reset"])
    assert reset == math.ceil(sb.rate_limit_state()["five_minutes_window_ends_at"])
    time.sleep(max(0.0, reset - time.time()) + 0.01)  # wait as MoEngage asks: until the reset
    assert trigger(sb, OK, session=session).status_code == 200


def test_named_options_map_onto_the_published_windows(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    published = make_sandbox().rate_limit_state()["windows"]
    assert {name: (w["kind"], w["limit"], w["seconds"]) for name, w in published.items()} == {
        "five_minutes": ("trigger", 10, 300.0),
        "hour": ("trigger", 50, 3600.0),
        "day": ("trigger", 200, 86400.0),
        "flow_hour": ("flow_trigger", 3, 3600.0),
        "flow_day": ("flow_trigger", 10, 86400.0),
        "search": ("search", 100, 60.0),
        "v5_list_minute": ("v5_list", 60, 60.0),
        "v5_list_hour": ("v5_list", 1000, 3600.0),
        "v5_search_minute": ("v5_search", 30, 60.0),
        "v5_search_hour": ("v5_search", 500, 3600.0),
    }
    # A shrunk hour shrinks the five minutes with it (a twelfth), and the flow hour.
    shrunk = make_sandbox(hour_seconds=12.0)
    assert (shrunk.five_minute_seconds, shrunk.five_minute_limit) == (1.0, 10)
    assert shrunk.rate_limit_state()["windows"]["flow_hour"]["seconds"] == 12.0
    # A configuration written for the single hourly window keeps it: five minutes allow as many.
    single = make_sandbox(hourly_limit=3, hour_seconds=1.0)
    assert [trigger(single, OK).status_code for _ in range(4)][:3] == [200, 200, 200]
    assert single.five_minute_limit == 3
    explicit = make_sandbox(hourly_limit=30, five_minute_limit=4)
    assert (explicit.five_minute_limit, explicit.hourly_limit) == (4, 30)
    explicit.hourly_limit = 20  # attributes write through to the windows
    assert explicit.rate_limit_state()["windows"]["hour"]["limit"] == 20


def test_any_window_by_name_and_clear_errors(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    clock = FakeClock(0.5)
    sb = make_sandbox(clock=clock, rate_limits={"day": {"limit": 2}, "search": {"limit": 1, "seconds": 5}})
    assert [trigger(sb, OK).status_code for _ in range(3)] == [200, 200, 429]
    assert [call(sb, SEARCH, {"event_names": ["X"]}).status_code for _ in range(2)] == [200, 429]
    clock.now = 5.0
    assert call(sb, SEARCH, {"event_names": ["X"]}).status_code == 200
    with pytest.raises(ValueError, match="unknown rate-limit window 'weekly'"):
        MoEngageSandbox("W", "K", rate_limits={"weekly": {"limit": 1}})
    with pytest.raises(ValueError, match="five_minute_seconds must be > 0"):
        MoEngageSandbox("W", "K", five_minute_seconds=0)
    with pytest.raises(ValueError, match="hourly_limit must be a whole number >= 0"):
        MoEngageSandbox("W", "K", hourly_limit=-1)


def test_the_control_api_reads_and_changes_the_windows(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox()
    url = sb.url + "/_sandbox/rate_limit"
    changed = requests.post(
        url,
        json={"five_minute_limit": 1, "rate_limits": {"hour": {"seconds": 60}}, "retry_after": True},
        timeout=5,
    )
    assert changed.status_code == 200, changed.text
    state = changed.json()
    assert state["windows"]["five_minutes"]["limit"] == 1 and state["windows"]["hour"]["seconds"] == 60
    assert state["five_minute_seconds"] == 5.0  # a twelfth of the hour
    assert [trigger(sb, OK).status_code for _ in range(2)] == [200, 429]
    assert "Retry-After" in trigger(sb, OK).headers
    assert requests.get(url, timeout=5).json()["five_minutes_count"] == 1
    refused = requests.post(url, json={"hourly_limt": 3}, timeout=5)
    assert refused.status_code == 400 and "hourly_limt" in refused.json()["error"]
    requests.post(url, json={"rate_limit_headers": False}, timeout=5)
    assert "x-ratelimit-limit" not in trigger(sb, OK).headers


def test_config_file_cli_and_spawn_take_the_same_options(tmp_path: Path) -> None:
    config = tmp_path / "limits.json"
    config.write_text(
        json.dumps(
            {"five_minute_limit": 2, "rate_limits": {"day": {"limit": 7}}, "rate_limit_headers": False}
        )
    )
    with MoEngageSandbox("W", "K", **load_config(config)) as sb:
        state = sb.rate_limit_state()
        assert (state["five_minute_limit"], state["daily_limit"], state["rate_limit_headers"]) == (
            2,
            7,
            False,
        )
    with MoEngageSandbox.spawn(
        "W",
        five_minute_limit=1,
        five_minute_seconds=30,
        rate_limits={"search": {"limit": 3, "seconds": 2}, "flow_day": {"seconds": 50}},
        rate_limit_headers=False,
    ) as spawned:
        assert "--no-rate-limit-headers" in spawned.args
        state = spawned.control("/_sandbox/rate_limit")
        windows = state["windows"]
        assert (windows["five_minutes"]["limit"], windows["five_minutes"]["seconds"]) == (1, 30.0)
        assert (windows["search"]["limit"], windows["search"]["seconds"], windows["flow_day"]["seconds"]) == (
            3,
            2.0,
            50.0,
        )
        assert state["rate_limit_headers"] is False
