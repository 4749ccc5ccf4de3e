"""
How long a refused trigger waits, by example (no server): what MoEngage's headers say, in which order
they decide, and the published windows with their escalation. The expected moments are written out
here, from MoEngage's published limits, not computed with the code under test.
"""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest

from moengage_provider.api.rate_limits import (
    LIMITS_TEXT,
    PUBLISHED_WINDOWS,
    EarlierWait,
    RateLimitHeaders,
    can_be_full,
    decide_wait,
    markdown_table,
    next_window_start,
    read_headers,
    retry_after_said,
    windows_for,
)
from tests.conftest import REPO

UTC = dt.timezone.utc


def at(hour: int, minute: int, second: float = 0, day: int = 6) -> dt.datetime:
    whole = int(second)
    return dt.datetime(2026, 12, day, hour, minute, whole, round((second - whole) * 1e6), tzinfo=UTC)


class NoJitter(random.Random):
    """The smallest jitter there is (none), so that a wait ends exactly at the moment that decided it."""

    def uniform(self, a: float, b: float) -> float:
        return a


class MostJitter(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


NO_JITTER = NoJitter()


# -- the published limits --------------------------------------------------------------------------


def test_the_published_windows_are_ten_per_five_minutes_fifty_per_hour_two_hundred_per_day():
    assert [(w.count, w.seconds) for w in PUBLISHED_WINDOWS] == [(10, 300.0), (50, 3600.0), (200, 86400.0)]
    assert (
        "10 business event triggers per 5 minutes, 50 per hour and 200 per day per workspace" in LIMITS_TEXT
    )
    assert "3 per hour and 10 per day for Business-Trigger flows" in LIMITS_TEXT


def test_a_shrunk_hour_shrinks_every_window_with_it():
    windows = windows_for(dt.timedelta(seconds=12))
    assert [(w.count, w.seconds) for w in windows] == [(10, 1.0), (50, 12.0), (200, 288.0)]
    with pytest.raises(ValueError, match="rate_limit_window must be a positive duration"):
        windows_for(dt.timedelta(0))


def test_windows_are_clock_aligned():
    assert next_window_start(at(13, 47, 12), dt.timedelta(hours=1)) == at(14, 0)
    assert next_window_start(at(13, 47, 12), dt.timedelta(minutes=5)) == at(13, 50)
    assert next_window_start(at(13, 50), dt.timedelta(minutes=5)) == at(13, 55)
    assert next_window_start(at(23, 59, 59), dt.timedelta(days=1)) == at(0, 0, day=7)


# -- what an answer says ---------------------------------------------------------------------------


def test_retry_after_in_seconds_is_a_moment_after_the_answer():
    received = at(10, 0, 0)
    headers = read_headers({"Retry-After": "120"}, received)
    assert headers.retry_after == at(10, 2, 0)
    assert headers.retry_after_seconds == 120.0


@pytest.mark.parametrize(
    "value",
    ["Sun, 06 Dec 2026 10:05:00 GMT", "Sunday, 06-Dec-26 10:05:00 GMT", "Sun Dec  6 10:05:00 2026"],
)
def test_retry_after_as_an_http_date_in_any_of_its_three_forms(value):
    assert read_headers({"retry-after": value}, at(10, 0)).retry_after == at(10, 5)


def test_the_reset_is_read_as_utc_epoch_seconds():
    headers = read_headers(
        {
            "X-RateLimit-Reset": str(int(at(10, 5).timestamp())),
            "X-RateLimit-Limit": "10",
            "X-RateLimit-Remaining": "0",
        },
        at(10, 1),
    )
    assert (headers.reset, headers.limit, headers.remaining) == (at(10, 5), 10, 0)
    fractional = read_headers({"x-ratelimit-reset": f"{at(10, 5).timestamp() + 0.5}"}, at(10, 1))
    assert fractional.reset == at(10, 5, 0.5)


@pytest.mark.parametrize("value", ["", "soon", "-5", "nan", "inf", "1e400", "0"])
def test_a_reset_that_is_no_moment_is_not_read(value):
    assert read_headers({"x-ratelimit-reset": value}, at(10, 0)).reset is None


@pytest.mark.parametrize("value", ["", "soon", "-5", "1.5.2", "Sun, 99 Foo 2026"])
def test_a_retry_after_that_is_neither_seconds_nor_a_date_is_not_read(value):
    assert read_headers({"Retry-After": value}, at(10, 0)).retry_after is None


def test_counts_are_read_from_their_leading_number():
    headers = read_headers({"x-ratelimit-limit": "10, 10;w=300", "x-ratelimit-remaining": "7"}, at(10, 0))
    assert (headers.limit, headers.remaining) == (10, 7)
    assert read_headers({"x-ratelimit-remaining": "many"}, at(10, 0)).remaining is None


def test_what_is_left_reads_as_a_sentence_for_the_trigger_log_line():
    headers = RateLimitHeaders(at(10, 1), reset=at(10, 5), limit=10, remaining=7)
    assert headers.capacity_text() == "MoEngage rate limit: 7 of 10 left until 2026-12-06 10:05:00 UTC"
    assert RateLimitHeaders(at(10, 1), remaining=3).capacity_text() == "MoEngage rate limit: 3 left"
    assert RateLimitHeaders(at(10, 1), reset=at(10, 5), limit=10).capacity_text() is None


def test_an_error_known_only_by_its_retry_after_seconds_waits_that_long():
    assert retry_after_said(30.0, at(10, 0)).retry_after == at(10, 0, 30)
    assert retry_after_said(None, at(10, 0)).retry_after is None


# -- the order in which a wait is decided ----------------------------------------------------------


def test_retry_after_decides_before_the_reset():
    headers = RateLimitHeaders(at(10, 0), retry_after=at(10, 0, 30), reset=at(10, 5))
    decision = decide_wait(at(10, 0), headers, rng=NO_JITTER)
    assert (decision.decided_by, decision.until, decision.level) == ("Retry-After", at(10, 0, 30), None)


def test_the_reset_decides_without_retry_after_and_is_a_moment_not_a_delay():
    headers = RateLimitHeaders(at(10, 1, 20), reset=at(10, 5))
    decision = decide_wait(at(10, 1, 20), headers, rng=NO_JITTER)
    assert (decision.decided_by, decision.until, decision.seconds) == ("x-ratelimit-reset", at(10, 5), 220.0)


@pytest.mark.parametrize(
    "headers",
    [
        RateLimitHeaders(at(10, 1)),  # none
        RateLimitHeaders(at(10, 1), retry_after=at(10, 1), reset=at(10, 0)),  # "0", and a reset gone by
        RateLimitHeaders(at(10, 1), retry_after=at(10, 1, 0), reset=at(10, 1, 0, day=9)),  # days off
    ],
    ids=["no-header", "already-past", "too-far"],
)
def test_without_a_usable_header_the_windows_decide(headers):
    decision = decide_wait(at(10, 1), headers, rng=NO_JITTER)
    assert (decision.decided_by, decision.until, decision.level) == ("the five-minute window", at(10, 5), 0)


# -- the windows, without any header ---------------------------------------------------------------


def test_a_first_refusal_waits_for_the_next_five_minutes_never_the_top_of_the_hour():
    decision = decide_wait(at(10, 47, 12), None, rng=NO_JITTER)
    assert (decision.until, decision.decided_by) == (at(10, 50), "the five-minute window")
    assert "the first refusal in a row" in decision.why


def test_a_refusal_right_after_a_five_minute_wait_waits_for_the_next_hour():
    earlier = EarlierWait(0, at(10, 50, 4))
    decision = decide_wait(at(10, 50, 5), None, earlier=earlier, rng=NO_JITTER)
    assert (decision.until, decision.decided_by, decision.level) == (at(11, 0), "the hourly window", 1)
    assert "refused again right after waiting for the five-minute window" in decision.why


def test_a_refusal_right_after_an_hourly_wait_waits_for_the_next_utc_day():
    earlier = EarlierWait(1, at(11, 0, 9))
    decision = decide_wait(at(11, 0, 10), None, earlier=earlier, rng=NO_JITTER)
    assert (decision.until, decision.decided_by, decision.level) == (at(0, 0, day=7), "the daily window", 2)


def test_the_day_stays_the_day():
    earlier = EarlierWait(2, at(0, 0, 3, day=7))
    decision = decide_wait(at(0, 0, 4, day=7), None, earlier=earlier, rng=NO_JITTER)
    assert decision.level == 0  # midnight: a new day cannot be full, so others took the five minutes
    earlier = EarlierWait(2, at(5, 0, 3))
    assert decide_wait(at(5, 0, 4), None, earlier=earlier, rng=NO_JITTER).until == at(0, 0, day=7)


def test_a_refusal_long_after_a_wait_starts_over_at_five_minutes():
    earlier = EarlierWait(1, at(10, 0, 10))
    decision = decide_wait(at(10, 5, 30), None, earlier=earlier, rng=NO_JITTER)
    assert (decision.until, decision.level) == (at(10, 10), 0)


def test_the_hour_is_waited_for_only_once_ten_per_five_minutes_can_have_filled_it():
    # 10 per 5 minutes reach the hour's 50 in its fifth five-minute window, from minute 20 on.
    assert not can_be_full(at(10, 19, 59), PUBLISHED_WINDOWS, 1)
    assert can_be_full(at(10, 20), PUBLISHED_WINDOWS, 1)
    # 50 per hour reach the day's 200 in its fourth hour, from 03:00 UTC on.
    assert not can_be_full(at(2, 59, 59), PUBLISHED_WINDOWS, 2)
    assert can_be_full(at(3, 0), PUBLISHED_WINDOWS, 2)
    earlier = EarlierWait(0, at(10, 5, 3))
    decision = decide_wait(at(10, 5, 4), None, earlier=earlier, rng=NO_JITTER)
    assert (decision.until, decision.level) == (at(10, 10), 0)
    assert "the hourly window cannot be full yet" in decision.why


def test_a_header_decided_wait_is_not_an_escalation_step():
    decision = decide_wait(at(10, 50, 5), None, earlier=None, rng=NO_JITTER)
    assert decision.level == 0


# -- jitter ----------------------------------------------------------------------------------------


def test_the_jitter_is_five_percent_of_the_wait_at_most_thirty_seconds():
    headers = RateLimitHeaders(at(10, 0), retry_after=at(10, 0, 20))
    assert decide_wait(at(10, 0), headers, rng=MostJitter()).until == at(10, 0, 21)
    far = RateLimitHeaders(at(10, 0), reset=at(12, 0))
    assert decide_wait(at(10, 0), far, rng=MostJitter()).until == at(12, 0, 30)
    # The windows: five percent of the window (15 s of five minutes), at most 30 s (the hour's).
    assert decide_wait(at(10, 47), None, rng=MostJitter()).until == at(10, 50, 15)
    hour = decide_wait(at(10, 50, 5), None, earlier=EarlierWait(0, at(10, 50, 4)), rng=MostJitter())
    assert hour.until == at(11, 0, 30)


def test_the_docs_table_of_wait_rules_is_the_code_table():
    page = (REPO / "docs" / "rate-limits.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- wait rules:[^\n]*-->\n(.*?)<!-- end of wait rules -->", page, re.DOTALL)
    assert match, "docs/rate-limits.md lost the generated table's markers"
    assert match.group(1) == markdown_table(), (
        "docs/rate-limits.md's table differs from moengage_provider/api/rate_limits.py; regenerate it with "
        "`.venv/bin/python -m moengage_provider.api.rate_limits` and paste it between the markers."
    )
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**Rate limits.**") : readme.index("**Secrets.**")]
    assert "10 triggers per 5 minutes, 50 per hour and 200 per day" in section
    assert (
        section.index("`Retry-After`")
        < section.index("`x-ratelimit-reset`")
        < section.index("published windows")
    )
    assert "docs/rate-limits.md" in section and "rate_limit_remaining" in section
