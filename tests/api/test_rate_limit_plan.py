"""How a task refused for the rate limit waits (pure: the clock is an argument, the jitter pinned to
none), and what a ``Retry-After`` says at its edges: fractions, dates in other zones, garbage,
negative and huge values."""

from __future__ import annotations

import datetime as dt
import random
import time

import pytest

from moengage_provider.api import rate_limits
from moengage_provider.api.rate_limits import (
    PUBLISHED_WINDOWS,
    EarlierWait,
    decide_wait,
    next_window_start,
    plan_wait,
    read_headers,
    retry_after_said,
    windows_for,
)

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 12, 6, 10, 0, 0, tzinfo=UTC)


class NoJitter(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


@pytest.fixture
def no_jitter(monkeypatch):
    """Every wait ends exactly at the moment that decided it (plan_wait draws from the module's rng)."""
    monkeypatch.setattr(rate_limits, "_RANDOM", NoJitter())


def plan(seconds: str, **overrides):
    """The plan of a task refused at NOW with ``Retry-After: seconds``, first refused at NOW."""
    arguments = {
        "windows": PUBLISHED_WINDOWS,
        "earlier": None,
        "waiting_since": NOW,
        "max_wait": dt.timedelta(hours=3),
        "deferrable": False,
    }
    arguments.update(overrides)
    return plan_wait(NOW, read_headers({"Retry-After": seconds}, NOW), **arguments)


# -- how a task waits ------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_jitter")
@pytest.mark.parametrize(
    ("retry_after", "how"),
    [("1", "sleep"), ("60", "sleep"), ("60.000001", "retry"), ("61", "retry"), ("3600", "retry")],
)
def test_a_worker_sleeps_through_a_wait_of_up_to_sixty_seconds_and_retries_for_a_longer_one(retry_after, how):
    wait = plan(retry_after)
    assert wait.how == how
    assert wait.seconds == float(retry_after)
    assert wait.until == NOW + dt.timedelta(seconds=float(retry_after))


@pytest.mark.usefixtures("no_jitter")
@pytest.mark.parametrize("retry_after", ["1", "60", "61", "3600"])
def test_a_deferrable_task_always_waits_in_the_triggerer(retry_after):
    assert plan(retry_after, deferrable=True).how == "defer"


@pytest.mark.usefixtures("no_jitter")
def test_the_wait_so_far_counts_from_the_first_refusal():
    wait = plan("60", waiting_since=NOW - dt.timedelta(minutes=7, seconds=30))
    assert (wait.waited, wait.too_long) == (450.0, False)
    # A record written by a worker whose clock is ahead has waited nothing yet, not a negative time.
    assert plan("60", waiting_since=NOW + dt.timedelta(seconds=5)).waited == 0.0


@pytest.mark.usefixtures("no_jitter")
@pytest.mark.parametrize(
    ("max_wait", "too_long"),
    [
        (dt.timedelta(seconds=160), False),  # waited 100 s + this wait's 60 s: exactly the most allowed
        (dt.timedelta(seconds=159, microseconds=999999), True),
        (dt.timedelta(seconds=161), False),
        (dt.timedelta(seconds=59), True),
    ],
)
def test_waiting_on_past_max_rate_limit_wait_is_too_long_and_exactly_up_to_it_is_not(max_wait, too_long):
    wait = plan("60", waiting_since=NOW - dt.timedelta(seconds=100), max_wait=max_wait)
    assert (wait.waited, wait.seconds, wait.too_long) == (100.0, 60.0, too_long)


@pytest.mark.usefixtures("no_jitter")
def test_without_a_header_the_plan_waits_for_the_task_s_windows_and_steps_up_after_a_window_wait():
    # MoEngage's hour as 60 s (a test's rate_limit_window): the five minutes are 5 s, the day 24 min.
    windows = windows_for(dt.timedelta(seconds=60))
    at = NOW + dt.timedelta(seconds=42)  # 42 s into the hour: 50 triggers can have filled it by now
    first = plan_wait(
        at,
        None,
        windows=windows,
        earlier=None,
        waiting_since=at,
        max_wait=dt.timedelta(hours=3),
        deferrable=False,
    )
    assert (first.decision.level, first.until, first.how) == (0, NOW + dt.timedelta(seconds=45), "sleep")
    again = plan_wait(
        at,
        None,
        windows=windows,
        earlier=EarlierWait(0, at),
        waiting_since=at,
        max_wait=dt.timedelta(hours=3),
        deferrable=False,
    )
    assert (again.decision.level, again.until, again.how) == (1, NOW + dt.timedelta(seconds=60), "sleep")


# -- what a Retry-After says -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0.5", 0.5), ("2.25", 2.25), ("007", 7.0), ("999999999", 999999999.0)],
)
def test_retry_after_seconds_may_be_fractional_or_padded(value, seconds):
    headers = read_headers({"Retry-After": value}, NOW)
    assert headers.retry_after == NOW + dt.timedelta(seconds=seconds)
    assert headers.retry_after_seconds == seconds


@pytest.mark.parametrize(
    "value", ["1000000000", "99999999999999999999", "1e3", "+5", "-0.5", ".5", "5.", "0x10", "5 s"]
)
def test_a_retry_after_too_far_off_or_not_plain_seconds_is_not_read_and_never_crashes(value):
    assert read_headers({"Retry-After": value}, NOW).retry_after is None


@pytest.fixture
def worker_clock_in_india(monkeypatch):
    """A worker whose local time zone is UTC+05:30: nothing read from MoEngage may come out in it."""
    monkeypatch.setenv("TZ", "IST-05:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("worker_clock_in_india")
@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Dec 2026 10:05:00 GMT",
        "Sun, 06 Dec 2026 12:05:00 +0200",
        "Sun, 06 Dec 2026 05:05:00 -0500",
        "Sun Dec  6 10:05:00 2026",  # asctime: no zone, read as UTC (HTTP dates are)
    ],
)
def test_a_retry_after_date_names_its_moment_in_utc_whatever_its_zone_and_the_worker_s(value):
    headers = read_headers({"Retry-After": value}, NOW)
    assert headers.retry_after == dt.datetime(2026, 12, 6, 10, 5, tzinfo=UTC)
    assert headers.retry_after is not None and headers.retry_after.utcoffset() == dt.timedelta(0)
    decision = decide_wait(NOW, headers, rng=NoJitter())
    assert decision.why == "MoEngage's Retry-After header says 10:05:00 UTC"


@pytest.mark.parametrize(("seconds", "waits"), [(0.0, 0.0), (0.5, 0.5), (1.0, 1.0), (30.0, 30.0)])
def test_an_error_s_retry_after_seconds_name_the_moment_that_long_after_the_answer(seconds, waits):
    headers = retry_after_said(seconds, NOW)
    assert (headers.received_at, headers.retry_after) == (NOW, NOW + dt.timedelta(seconds=waits))
    assert headers.retry_after_seconds == waits


def test_half_a_second_of_retry_after_is_waited_not_the_five_minute_window():
    decision = decide_wait(NOW, retry_after_said(0.5, NOW), rng=NoJitter())
    assert (decision.decided_by, decision.seconds) == ("Retry-After", 0.5)


@pytest.mark.parametrize("seconds", [None, -0.5, -5.0, float("nan"), float("inf"), float("-inf")])
def test_an_error_s_retry_after_that_is_no_wait_leaves_the_windows_to_decide(seconds):
    headers = retry_after_said(seconds, NOW)
    assert (headers.received_at, headers.retry_after, headers.retry_after_seconds) == (NOW, None, None)
    assert decide_wait(NOW, headers, rng=NoJitter()).decided_by == "the five-minute window"


def test_a_first_refusal_says_it_waits_for_the_five_minute_window():
    decision = decide_wait(NOW, None, rng=NoJitter())
    assert decision.why == (
        "no Retry-After or x-ratelimit-reset header; the first refusal in a row waits for the five-minute window"
    )


def test_the_smallest_moment_a_reset_can_name_is_read():
    epoch = dt.datetime(1970, 1, 1, tzinfo=UTC)
    assert read_headers({"x-ratelimit-reset": "1"}, NOW).reset == epoch + dt.timedelta(seconds=1)
    assert read_headers({"x-ratelimit-reset": "0.5"}, NOW).reset == epoch + dt.timedelta(seconds=0.5)


def test_the_shortest_rate_limit_window_is_one_microsecond_and_anything_shorter_is_refused():
    # MoEngage's hour as 12 microseconds: its five minutes last one microsecond.
    assert windows_for(dt.timedelta(microseconds=12))[0].seconds == 1e-6
    assert next_window_start(NOW, dt.timedelta(microseconds=1)) == NOW + dt.timedelta(microseconds=1)
    with pytest.raises(ValueError, match="rate_limit_window must be a positive duration"):
        windows_for(dt.timedelta(microseconds=5))
