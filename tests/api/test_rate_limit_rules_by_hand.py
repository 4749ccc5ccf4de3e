"""Which rule decides a rate-limit wait, and until when, written out by hand from MoEngage's pages
(10 per 5 minutes, 50 per hour, 200 per day; ``Retry-After`` first, then ``x-ratelimit-reset``), not
read from the table in ``api/rate_limits.py``: an edit of that table or of the rule order fails here.

Jitter is pinned to zero, so each wait ends exactly when the rule says."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from moengage_provider.api.rate_limits import EarlierWait, decide_wait, read_headers, windows_for

UTC = dt.timezone.utc


def at(hh: int, mm: int, ss: int = 0, day: int = 1) -> dt.datetime:
    return dt.datetime(2024, 5, day, hh, mm, ss, tzinfo=UTC)


def epoch(moment: dt.datetime) -> str:
    return str(int(moment.timestamp()))


class _NoJitter(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


FIVE, HOURLY, DAILY = "the five-minute window", "the hourly window", "the daily window"
NOW = at(10, 17, 3)

# (why, refused at, the answer's headers, the last wait decided by the windows, decided by, wait ends)
HEADER_CASES = [
    ("Retry-After before the reset", NOW, {"Retry-After": "120", "x-ratelimit-reset": epoch(at(10, 18))},
     "Retry-After", at(10, 19, 3)),
    ("Retry-After as an HTTP date", NOW, {"Retry-After": "Wed, 01 May 2024 10:21:00 GMT"},
     "Retry-After", at(10, 21)),
    ("the reset is a moment, not a delay", NOW, {"x-ratelimit-reset": epoch(at(10, 20))},
     "x-ratelimit-reset", at(10, 20)),
    ("Retry-After 0 names no wait: the reset decides", NOW, {"Retry-After": "0", "x-ratelimit-reset": epoch(at(10, 20))},
     "x-ratelimit-reset", at(10, 20)),
    ("garbled Retry-After: the reset decides", NOW, {"Retry-After": "soon", "x-ratelimit-reset": epoch(at(10, 20))},
     "x-ratelimit-reset", at(10, 20)),
    ("a reset already past: the windows decide", NOW, {"x-ratelimit-reset": epoch(at(10, 0))}, FIVE, at(10, 20)),
    ("a reset beyond a day: the windows decide", NOW, {"x-ratelimit-reset": epoch(at(10, 20, day=3))},
     FIVE, at(10, 20)),
    ("remaining and limit alone decide nothing", NOW, {"x-ratelimit-remaining": "0", "x-ratelimit-limit": "10"},
     FIVE, at(10, 20)),
]  # fmt: skip


@pytest.mark.parametrize(("now", "headers", "decided_by", "until"), [c[1:] for c in HEADER_CASES],
                         ids=[c[0] for c in HEADER_CASES])  # fmt: skip
def test_the_headers_decide_in_moengages_order(now, headers, decided_by, until):
    decision = decide_wait(now, read_headers(headers, now), rng=_NoJitter())
    assert (decision.decided_by, decision.until) == (decided_by, until)


WINDOW_CASES = [
    ("a first refusal: the next five minutes, never the top of the hour", NOW, None, FIVE, at(10, 20)),
    ("right after a five-minute wait, 47 minutes in: the hour", at(10, 47, 3), EarlierWait(0, at(10, 47)),
     HOURLY, at(11, 0)),
    ("right after a five-minute wait, 12 minutes in (the hour cannot hold 50 yet): five minutes again",
     at(10, 12), EarlierWait(0, at(10, 11, 59)), FIVE, at(10, 15)),
    ("right after a five-minute wait, exactly 20 minutes in: the hour", at(10, 20), EarlierWait(0, at(10, 20)),
     HOURLY, at(11, 0)),
    ("right after an hourly wait, at 04:00: the UTC day", at(4, 0, 30), EarlierWait(1, at(4, 0)),
     DAILY, at(0, 0, day=2)),
    ("right after an hourly wait, at 01:00 (the day cannot hold 200 yet, nor the hour 50): five minutes",
     at(1, 0, 30), EarlierWait(1, at(1, 0)), FIVE, at(1, 5)),
    ("right after an hourly wait, at 02:30 (the day cannot hold 200 yet): the hour", at(2, 30), EarlierWait(1, at(2, 29)),
     HOURLY, at(3, 0)),
    ("right after a daily wait, just past midnight: five minutes (nothing longer can be full yet)", at(0, 0, 10, day=2), EarlierWait(2, at(0, 0, day=2)),
     FIVE, at(0, 5, day=2)),
    ("five minutes after the last wait ended is a first refusal again", at(10, 52), EarlierWait(1, at(10, 47)),
     FIVE, at(10, 55)),
]  # fmt: skip


@pytest.mark.parametrize(("now", "earlier", "decided_by", "until"), [c[1:] for c in WINDOW_CASES],
                         ids=[c[0] for c in WINDOW_CASES])  # fmt: skip
def test_without_headers_the_published_windows_escalate(now, earlier, decided_by, until):
    decision = decide_wait(now, None, earlier=earlier, rng=_NoJitter())
    assert (decision.decided_by, decision.until) == (decided_by, until)


def test_a_shrunk_hour_shrinks_every_window_alike():
    # rate_limit_window=60 s (a test against a shrunk sandbox): five minutes are 5 s, the day 24 min.
    windows = windows_for(dt.timedelta(seconds=60))
    assert [w.seconds for w in windows] == [5.0, 60.0, 1440.0]
    first = decide_wait(at(10, 0, 3), None, windows=windows, rng=_NoJitter())
    assert (first.decided_by, first.until) == (FIVE, at(10, 0, 5))
