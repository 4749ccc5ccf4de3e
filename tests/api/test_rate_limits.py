"""MoEngage's rate-limit windows and the wait for them (pure: the clock is an argument, jitter pinned)."""

from __future__ import annotations

import datetime as dt

import pytest

from moengage_provider.api import rate_limits
from moengage_provider.api.rate_limits import (
    DAILY_LIMIT,
    HOURLY_LIMIT,
    LIMITS_TEXT,
    format_duration,
    next_window_start,
    rate_limit_wait,
)

UTC = dt.timezone.utc
HOUR, DAY, FIVE_MINUTES = dt.timedelta(hours=1), dt.timedelta(days=1), dt.timedelta(minutes=5)


def test_the_documented_limits():
    assert (HOURLY_LIMIT, DAILY_LIMIT) == (50, 200)
    assert LIMITS_TEXT == "MoEngage allows 50 business event triggers per hour and 200 per day per workspace"


@pytest.mark.parametrize(
    ("now", "window", "start"),
    [
        (dt.datetime(2024, 5, 1, 10, 17, 3, tzinfo=UTC), HOUR, dt.datetime(2024, 5, 1, 11, 0, tzinfo=UTC)),
        (dt.datetime(2024, 5, 1, 11, 0, 0, tzinfo=UTC), HOUR, dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)),
        (dt.datetime(2024, 5, 1, 23, 59, 59, tzinfo=UTC), HOUR, dt.datetime(2024, 5, 2, 0, 0, tzinfo=UTC)),
        (dt.datetime(2024, 5, 1, 10, 17, 3, tzinfo=UTC), DAY, dt.datetime(2024, 5, 2, 0, 0, tzinfo=UTC)),
        (
            dt.datetime(2024, 5, 1, 10, 17, 3, tzinfo=UTC),
            FIVE_MINUTES,
            dt.datetime(2024, 5, 1, 10, 20, tzinfo=UTC),
        ),
        # Aligned to UTC whatever the caller's offset: 12:30+05:30 is 07:00 UTC, the next hour 08:00 UTC.
        (
            dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
            HOUR,
            dt.datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        ),
    ],
    ids=["mid-hour", "on the hour", "before midnight", "day", "five minutes", "offset"],
)
def test_the_next_window_starts_on_the_next_utc_boundary(now, window, start):
    assert next_window_start(now, window) == start
    assert next_window_start(now, window).utcoffset() == dt.timedelta(0)


@pytest.fixture(params=["lowest", "highest"])
def jitter(request, monkeypatch):
    """random.uniform pinned to either end of its range: the wait is exact."""
    pick = (lambda low, high: low) if request.param == "lowest" else (lambda low, high: high)
    monkeypatch.setattr(rate_limits.random, "uniform", pick)
    return request.param


NOW = dt.datetime(2024, 5, 1, 10, 17, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("retry_after", "most"),
    [(120.0, 126.0), (3600.0, 3630.0), (0.0, 0.0)],
    ids=["5% jitter", "jitter capped at 30 s", "zero"],
)
def test_retry_after_is_honoured_with_up_to_5_percent_jitter(jitter, retry_after, most):
    seconds, until, reason = rate_limit_wait(NOW, retry_after=retry_after, window=HOUR)
    assert seconds == (retry_after if jitter == "lowest" else most)
    assert until == NOW + dt.timedelta(seconds=seconds)
    assert reason == f"MoEngage asked to retry after {retry_after:g} s (Retry-After)"


@pytest.mark.parametrize(
    ("window", "to_window", "most_jitter"),
    [(HOUR, 2577.0, 30.0), (FIVE_MINUTES, 177.0, 15.0)],
    ids=["hour: jitter capped at 30 s", "five minutes: 5% jitter"],
)
def test_without_retry_after_the_wait_runs_to_the_next_window(jitter, window, to_window, most_jitter):
    seconds, until, reason = rate_limit_wait(NOW, retry_after=None, window=window)
    assert seconds == to_window + (0.0 if jitter == "lowest" else most_jitter)
    assert until == NOW + dt.timedelta(seconds=seconds)
    assert reason == "no Retry-After header, so waiting for the next rate-limit window"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-5, "0s"), (0, "0s"), (59.4, "59s"), (59.6, "1m00s"), (61, "1m01s"), (600, "10m00s"),
     (3600, "1h00m00s"), (3725, "1h02m05s"), (86399, "23h59m59s")],
)  # fmt: skip
def test_durations_read_as_hours_minutes_seconds(seconds, text):
    assert format_duration(seconds) == text
