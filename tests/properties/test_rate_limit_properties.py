"""
Properties of the wait computation (``api/rate_limits.decide_wait``) over whole input spaces: any
moment, any headers (usable or not), any earlier wait, any window scale, any jitter draw.

- a wait is never negative, and ends at or after the moment that decided it;
- the jitter stays within 5% of the wait (of the window, for the windows), at most 30 s;
- a usable Retry-After decides before a usable reset, and either before the windows;
- without headers, a first refusal waits for the next five-minute boundary, and a longer step of
  escalation never waits less than a shorter one at the same moment.
"""

from __future__ import annotations

import datetime as dt
import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from moengage_provider.api.rate_limits import (
    MAX_HEADER_WAIT,
    PUBLISHED_WINDOWS,
    EarlierWait,
    RateLimitHeaders,
    decide_wait,
    windows_for,
)

UTC = dt.timezone.utc
EPS = dt.timedelta(microseconds=2)  # datetime arithmetic rounds to microseconds
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

moments = st.datetimes(
    min_value=dt.datetime(2001, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC)
)
# Offsets around the answer: past, now, credible, beyond a day.
offsets = st.one_of(
    st.none(),
    st.floats(min_value=-3 * 86400, max_value=3 * 86400, allow_nan=False),
    st.sampled_from([0.0, 1e-6, 86400.0, 86400.000001]),
)
scales = st.one_of(
    st.just(dt.timedelta(hours=1)),
    st.floats(min_value=1.0, max_value=7200.0).map(lambda s: dt.timedelta(seconds=s)),
)


def header_moment(received: dt.datetime, offset: float | None) -> dt.datetime | None:
    return None if offset is None else received + dt.timedelta(seconds=offset)


def usable(received: dt.datetime, moment: dt.datetime | None) -> bool:
    return moment is not None and received < moment <= received + MAX_HEADER_WAIT


@st.composite
def refusals(draw):
    now = draw(moments)
    received = now - dt.timedelta(seconds=draw(st.floats(min_value=0, max_value=2)))
    headers = draw(
        st.one_of(
            st.none(),
            st.builds(
                lambda ra, rs: RateLimitHeaders(
                    received, header_moment(received, ra), header_moment(received, rs)
                ),
                offsets,
                offsets,
            ),
        )
    )
    earlier = draw(
        st.one_of(
            st.none(),
            st.builds(
                lambda level, back: EarlierWait(level, now - dt.timedelta(seconds=back)),
                st.integers(min_value=-1, max_value=4),
                st.floats(min_value=-600, max_value=90000),
            ),
        )
    )
    return now, headers, earlier, windows_for(draw(scales))


def jitter_cap(span: float) -> float:
    return min(max(0.0, span) * 0.05, 30.0)


@settings(max_examples=400, deadline=None)
@given(refusals(), st.randoms(use_true_random=False))
def test_a_wait_ends_at_or_after_what_decided_it_within_the_jitter_and_never_before_now(refusal, rng):
    now, headers, earlier, windows = refusal
    decision = decide_wait(now, headers, windows=windows, earlier=earlier, rng=rng)
    assert decision.seconds >= 0 and decision.until >= now
    assert decision.until >= decision.opens
    assert math.isclose(decision.seconds, (decision.until - now).total_seconds(), abs_tol=1e-5)
    jitter = (decision.until - max(now, decision.opens)).total_seconds()
    if decision.level is None:
        assert 0 <= jitter <= jitter_cap((decision.opens - now).total_seconds()) + 1e-5
    else:
        assert decision.opens > now
        assert 0 <= jitter <= jitter_cap(windows[decision.level].seconds) + 1e-5


@settings(max_examples=400, deadline=None)
@given(refusals())
def test_retry_after_then_the_reset_then_the_windows(refusal):
    now, headers, earlier, windows = refusal
    decision = decide_wait(now, headers, windows=windows, earlier=earlier, rng=random.Random(0))
    if headers is not None and usable(headers.received_at, headers.retry_after):
        assert (decision.decided_by, decision.opens) == ("Retry-After", headers.retry_after)
    elif headers is not None and usable(headers.received_at, headers.reset):
        assert (decision.decided_by, decision.opens) == ("x-ratelimit-reset", headers.reset)
    else:
        assert decision.level is not None and decision.decided_by == windows[decision.level].name


@settings(max_examples=400, deadline=None)
@given(moments, scales)
def test_a_first_refusal_waits_for_the_next_five_minute_boundary(now, scale):
    windows = windows_for(scale)
    decision = decide_wait(now, None, windows=windows, rng=random.Random(0))
    five = dt.timedelta(seconds=windows[0].seconds)
    assert decision.level == 0
    assert now < decision.opens <= now + five + EPS
    assert (decision.opens - EPOCH) % five < EPS  # a five-minute boundary, counted from the epoch


@settings(max_examples=400, deadline=None)
@given(moments, st.floats(min_value=0, max_value=0.999), scales, st.integers(min_value=0, max_value=2))
def test_escalation_never_waits_less_for_a_longer_step(now, after, scale, level):
    """Refused at ``now``, right after a wait that ended ``after`` (a share of the shortest window)
    before: the wait after an earlier wait for a longer window is never shorter."""
    windows = windows_for(scale)
    ended = now - dt.timedelta(seconds=after * windows[0].seconds)
    opens = [
        decide_wait(now, None, windows=windows, earlier=EarlierWait(n, ended), rng=random.Random(0)).opens
        for n in range(level, len(PUBLISHED_WINDOWS))
    ]
    assert opens == sorted(opens)
    first = decide_wait(now, None, windows=windows, rng=random.Random(0)).opens
    assert all(moment >= first for moment in opens)
