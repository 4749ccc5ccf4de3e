"""MoEngage's rate-limit windows and the wait for them (pure: the clock is an argument, jitter pinned
to either end of its range)."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from moengage_provider.api.rate_limits import (
    LIMITS_TEXT,
    PUBLISHED_WINDOWS,
    EarlierWait,
    RateLimitHeaders,
    decide_wait,
    format_duration,
    next_window_start,
)

UTC = dt.timezone.utc
HOUR, DAY, FIVE_MINUTES = dt.timedelta(hours=1), dt.timedelta(days=1), dt.timedelta(minutes=5)


def test_the_documented_limits():
    assert [w.count for w in PUBLISHED_WINDOWS] == [10, 50, 200]
    assert LIMITS_TEXT.startswith(
        "MoEngage allows 10 business event triggers per 5 minutes, 50 per hour and 200 per day per workspace"
    )


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


class _PinnedJitter(random.Random):
    def __init__(self, end: str) -> None:
        super().__init__()
        self.end = end

    def uniform(self, a: float, b: float) -> float:
        return a if self.end == "lowest" else b


@pytest.fixture(params=["lowest", "highest"])
def jitter(request):
    """A random source pinned to either end of the jitter's range: the wait is exact."""
    return _PinnedJitter(request.param)


NOW = dt.datetime(2024, 5, 1, 10, 17, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("retry_after", "most"),
    [(120.0, 126.0), (3600.0, 3630.0)],
    ids=["5% jitter", "jitter capped at 30 s"],
)
def test_retry_after_is_honoured_with_up_to_5_percent_jitter(jitter, retry_after, most):
    headers = RateLimitHeaders(NOW, retry_after=NOW + dt.timedelta(seconds=retry_after))
    decision = decide_wait(NOW, headers, rng=jitter)
    assert decision.seconds == (retry_after if jitter.end == "lowest" else most)
    assert decision.until == NOW + dt.timedelta(seconds=decision.seconds)
    assert decision.decided_by == "Retry-After"


LATER = NOW + dt.timedelta(minutes=30)  # 10:47:03, when the hour's fifty can have been sent


@pytest.mark.parametrize(
    ("now", "earlier", "to_window", "most_jitter"),
    [(NOW, None, 177.0, 15.0), (LATER, EarlierWait(0, LATER - dt.timedelta(seconds=1)), 777.0, 30.0)],
    ids=["first refusal: five minutes, 5% jitter", "right after a wait: the hour, jitter capped at 30 s"],
)
def test_without_retry_after_the_wait_runs_to_the_next_window(jitter, now, earlier, to_window, most_jitter):
    decision = decide_wait(now, None, earlier=earlier, rng=jitter)
    assert decision.seconds == to_window + (0.0 if jitter.end == "lowest" else most_jitter)
    assert decision.until == now + dt.timedelta(seconds=decision.seconds)
    assert decision.why.startswith("no Retry-After or x-ratelimit-reset header")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-5, "0s"), (0, "0s"), (59.4, "59s"), (59.6, "1m00s"), (61, "1m01s"), (600, "10m00s"),
     (3600, "1h00m00s"), (3725, "1h02m05s"), (86399, "23h59m59s")],
)  # fmt: skip
def test_durations_read_as_hours_minutes_seconds(seconds, text):
    assert format_duration(seconds) == text
