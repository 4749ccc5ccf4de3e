"""
MoEngage's trigger limits, what an answer says about them, and how long a refused trigger waits.

MoEngage publishes three windows per workspace for campaign triggers (:data:`PUBLISHED_WINDOWS`, the
one place they are written down), and its rate-limit page says rate-limited endpoints answer with
``x-ratelimit-limit``, ``-remaining`` and ``-reset`` (UTC epoch seconds: a moment, not a delay); the
V5 trigger documents ``Retry-After`` on its 429. :func:`decide_wait` says how long a 429 is waited
out, first rule that applies:

1. ``Retry-After`` (seconds after the answer, or an HTTP date);
2. ``x-ratelimit-reset``, the moment the window reopens;
3. without either, the published windows: the first refusal waits for the next five-minute boundary,
   a refusal right after that wait for the next hour, one right after an hourly wait for the next
   UTC day (clock-aligned windows). A longer window is only waited for once it can be full: ten
   triggers per five minutes cannot fill the hour's fifty before its fifth five-minute window, so an
   earlier refusal right after a wait means other triggers took the five minutes (see
   :func:`window_level`).

Each wait gets a small jitter (5% of the wait, or of the window, at most 30 s) so that many waiting
tasks do not arrive in the same instant. A header that names no moment in the next day (absent,
garbled, already past, or far off) is not used: the next rule decides. :func:`plan_wait` adds how a
task waits (in the triggerer, asleep in the worker, or by a retry) and whether it has waited long
enough; doing it and saying so is ``delivery/rate_limit_wait.py``'s.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

UTC = dt.timezone.utc


@dataclass(frozen=True)
class Window:
    """At most ``count`` triggers per ``seconds``, per workspace; windows are aligned to the epoch (UTC)."""

    count: int
    seconds: float
    #: As MoEngage's page says it ("per 5 minutes"), what a wait for its next start is decided by,
    #: and the window itself ("the hour").
    per: str
    name: str
    period: str


#: MoEngage's published campaign trigger limits (legacy and V5 pages), shortest window first. A
#: change on MoEngage's page is a change of this table (and of the sandbox's, which never reads it).
PUBLISHED_WINDOWS: tuple[Window, ...] = (
    Window(10, 300.0, "per 5 minutes", "the five-minute window", "five minutes"),
    Window(50, 3600.0, "per hour", "the hourly window", "hour"),
    Window(200, 86400.0, "per day", "the daily window", "UTC day"),
)
#: Business-Trigger flows have their own, lower limits; the API cannot tell a flow's trigger apart.
FLOW_LIMITS_TEXT = "3 per hour and 10 per day for Business-Trigger flows"
LIMITS_TEXT = (
    f"MoEngage allows {PUBLISHED_WINDOWS[0].count} business event triggers {PUBLISHED_WINDOWS[0].per}, "
    + ", ".join(f"{w.count} {w.per}" for w in PUBLISHED_WINDOWS[1:-1])
    + f" and {PUBLISHED_WINDOWS[-1].count} {PUBLISHED_WINDOWS[-1].per} per workspace ({FLOW_LIMITS_TEXT})"
)

#: The headers that decide a wait, in the order they do: name, field of :class:`RateLimitHeaders`,
#: and how the README says it (its table is :func:`markdown_table`'s).
HEADER_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "Retry-After",
        "retry_after",
        "the moment it names: that many seconds after the answer, or its HTTP date",
    ),
    ("x-ratelimit-reset", "reset", "the moment it names, in UTC epoch seconds (a moment, not a delay)"),
)
#: A header's moment further off than this is not credible (the longest window is a day).
MAX_HEADER_WAIT = dt.timedelta(days=1)
#: The jitter added to every wait: this share of the wait (or of the window), at most this long.
JITTER_SHARE = 0.05
MAX_JITTER_SECONDS = 30.0


def windows_for(hour: dt.timedelta) -> tuple[Window, ...]:
    """The published windows with MoEngage's hour lasting ``hour`` (the others scale with it): the
    operator's ``rate_limit_window``, one hour unless a test shrinks it to seconds. Each window stays
    a whole number of the shortest one (to the microsecond), so their boundaries nest as MoEngage's do."""
    shortest = PUBLISHED_WINDOWS[0].seconds
    unit_us = round(hour / dt.timedelta(microseconds=1) * shortest / 3600.0)
    if not unit_us > 0:
        raise ValueError(f"rate_limit_window must be a positive duration, got {hour!r}.")
    return tuple(replace(w, seconds=round(w.seconds / shortest) * unit_us / 1e6) for w in PUBLISHED_WINDOWS)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def _since_epoch(seconds: float, now: dt.datetime) -> tuple[int, int]:
    """``now`` and a window's length, in whole microseconds (exact: no float rounding at a boundary)."""
    return (now - _EPOCH) // _MICROSECOND, max(1, round(seconds * 1e6))


def next_window_start(now: dt.datetime, window: dt.timedelta) -> dt.datetime:
    """Start of the next window of this length, aligned to the Unix epoch (UTC)."""
    now_us, length_us = _since_epoch(window.total_seconds(), now)
    return _EPOCH + (now_us // length_us + 1) * length_us * _MICROSECOND


# -- what an answer says ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimitHeaders:
    """What one answer said about MoEngage's rate limit; each field None when its header is absent
    or cannot be read. Both waits are kept as moments: ``Retry-After: 120`` is the answer's arrival
    plus two minutes."""

    received_at: dt.datetime
    retry_after: dt.datetime | None = None
    reset: dt.datetime | None = None
    limit: int | None = None
    remaining: int | None = None

    @property
    def retry_after_seconds(self) -> float | None:
        if self.retry_after is None:
            return None
        return max(0.0, (self.retry_after - self.received_at).total_seconds())

    def capacity_text(self) -> str | None:
        """What is left in the window, for the per-trigger log line; None without ``x-ratelimit-remaining``."""
        if self.remaining is None:
            return None
        text = f"{self.remaining}" + (f" of {self.limit}" if self.limit is not None else "") + " left"
        if self.reset is not None:
            text += f" until {self.reset:%Y-%m-%d %H:%M:%S} UTC"
        return f"MoEngage rate limit: {text}"


_INTEGER = re.compile(r"\s*(\d+)")
_SECONDS = re.compile(r"\d+(\.\d+)?")


def read_headers(headers: Mapping[str, str], received_at: dt.datetime) -> RateLimitHeaders:
    """``Retry-After`` and ``x-ratelimit-*`` of an answer received at ``received_at`` (names in any case)."""
    lower = {str(name).lower(): str(value).strip() for name, value in headers.items()}
    return RateLimitHeaders(
        received_at=received_at,
        retry_after=_retry_after(lower.get("retry-after"), received_at),
        reset=_epoch(lower.get("x-ratelimit-reset")),
        limit=_count(lower.get("x-ratelimit-limit")),
        remaining=_count(lower.get("x-ratelimit-remaining")),
    )


def retry_after_said(seconds: float | None, received_at: dt.datetime) -> RateLimitHeaders:
    """An answer known only by its ``Retry-After`` in seconds (an error raised without its headers)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return RateLimitHeaders(received_at)
    return RateLimitHeaders(received_at, retry_after=received_at + dt.timedelta(seconds=seconds))


def _retry_after(value: str | None, received_at: dt.datetime) -> dt.datetime | None:
    if not value:
        return None
    if _SECONDS.fullmatch(value):
        seconds = float(value)
        return received_at + dt.timedelta(seconds=seconds) if seconds < 10**9 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _epoch(value: str | None) -> dt.datetime | None:
    try:
        seconds = float(value) if value else math.nan
        return dt.datetime.fromtimestamp(seconds, tz=UTC) if math.isfinite(seconds) and seconds > 0 else None
    except (ValueError, OverflowError, OSError):
        return None


def _count(value: str | None) -> int | None:
    match = _INTEGER.match(value or "")
    return int(match.group(1)) if match else None


# -- how long a refusal waits ----------------------------------------------------------------------


@dataclass(frozen=True)
class EarlierWait:
    """This payload's last wait decided by the windows: which one (index in the table), and when it ended."""

    level: int
    until: dt.datetime


@dataclass(frozen=True)
class WaitDecision:
    #: When the wait ends (UTC, jitter included) and how long that is from the decision.
    until: dt.datetime
    seconds: float
    #: The moment the deciding header or window names, before the jitter.
    opens: dt.datetime
    #: ``Retry-After``, ``x-ratelimit-reset`` or a window's name; and why, for the log.
    decided_by: str
    why: str
    #: The window's index in the table, when the windows decided (None: a header did).
    level: int | None = None


def decide_wait(
    now: dt.datetime,
    headers: RateLimitHeaders | None,
    *,
    windows: tuple[Window, ...] = PUBLISHED_WINDOWS,
    earlier: EarlierWait | None = None,
    rng: random.Random | None = None,
) -> WaitDecision:
    """How long a trigger refused at ``now`` waits: the first of Retry-After, x-ratelimit-reset, the windows."""
    rng = rng or _RANDOM
    if headers is not None:
        for decided_by, field, _ in HEADER_RULES:
            moment: dt.datetime | None = getattr(headers, field)
            if moment is not None and headers.received_at < moment <= headers.received_at + MAX_HEADER_WAIT:
                span = max(0.0, (moment - now).total_seconds())
                until = max(now, moment) + dt.timedelta(seconds=_jitter(span, rng))
                why = f"MoEngage's {decided_by} header says {moment:%H:%M:%S} UTC"
                return WaitDecision(until, (until - now).total_seconds(), moment, decided_by, why)
    level, why = window_level(now, windows, earlier)
    window = windows[level]
    opens = next_window_start(now, dt.timedelta(seconds=window.seconds))
    until = opens + dt.timedelta(seconds=_jitter(window.seconds, rng))
    why = f"no Retry-After or x-ratelimit-reset header; {why}"
    return WaitDecision(until, (until - now).total_seconds(), opens, window.name, why, level)


def window_level(
    now: dt.datetime, windows: tuple[Window, ...], earlier: EarlierWait | None
) -> tuple[int, str]:
    """Which window a refusal without headers waits for, and why: one longer than the last wait's when
    it comes right after it (within one shortest window), and only a window that can be full by now."""
    shortest = dt.timedelta(seconds=windows[0].seconds)
    # Not bounded below: a task resumed by a worker whose clock is a little behind is still right after.
    if earlier is None or now >= earlier.until + shortest:
        return 0, f"the first refusal in a row waits for {windows[0].name}"
    wanted = min(max(earlier.level, 0) + 1, len(windows) - 1)
    level = max(n for n in range(wanted + 1) if can_be_full(now, windows, n))
    after = f"refused again right after waiting for {windows[min(max(earlier.level, 0), wanted)].name}"
    if level == wanted:
        return level, after
    return level, (
        f"{after}, but {windows[wanted].name} cannot be full yet at {windows[wanted].count} "
        f"{windows[wanted].per}, so other triggers took {windows[level].name}"
    )


def can_be_full(now: dt.datetime, windows: tuple[Window, ...], level: int) -> bool:
    """Whether the current window of ``windows[level]`` can hold its count by ``now``, given the shorter
    windows' counts (ten per five minutes fill the hour's fifty from its fifth five-minute window on)."""
    now_us, length_us = _since_epoch(windows[level].seconds, now)
    return now_us % length_us >= round(full_from(windows, level) * 1e6)


def _jitter(span: float, rng: random.Random) -> float:
    return rng.uniform(0.0, min(max(0.0, span) * JITTER_SHARE, MAX_JITTER_SECONDS))


_RANDOM = random.Random()


# -- how a task waits ------------------------------------------------------------------------------

#: A rate-limit wait shorter than this may sleep in the worker when the task is not deferrable.
MAX_IN_WORKER_WAIT = dt.timedelta(seconds=60)

#: How a task waits: deferred to the triggerer, asleep in the worker, or by a retry (worker handed back).
WaitHow = Literal["defer", "sleep", "retry"]
HOW_IT_WAITS: dict[str, str] = {
    "defer": "deferring (worker slot released)",
    "sleep": "sleeping in the worker",
    "retry": "handing the worker back with a retry",
}


@dataclass(frozen=True)
class RateLimitWait:
    decision: WaitDecision
    how: WaitHow
    #: Seconds already waited since the first refusal of this payload.
    waited: float
    #: Waiting on would pass ``max_rate_limit_wait``: the task fails instead.
    too_long: bool

    @property
    def seconds(self) -> float:
        return self.decision.seconds

    @property
    def until(self) -> dt.datetime:
        return self.decision.until


def plan_wait(
    now: dt.datetime,
    headers: RateLimitHeaders | None,
    *,
    windows: tuple[Window, ...],
    earlier: EarlierWait | None,
    waiting_since: dt.datetime,
    max_wait: dt.timedelta,
    deferrable: bool,
) -> RateLimitWait:
    """How long, and how, a task refused for the rate limit waits (``deferrable``: in the triggerer)."""
    decision = decide_wait(now, headers, windows=windows, earlier=earlier)
    waited = max(0.0, (now - waiting_since).total_seconds())
    how: WaitHow = (
        "defer"
        if deferrable
        else "sleep"
        if decision.seconds <= MAX_IN_WORKER_WAIT.total_seconds()
        else "retry"
    )
    too_long = waited + decision.seconds > max_wait.total_seconds()
    return RateLimitWait(decision, how, waited, too_long)


def full_from(windows: tuple[Window, ...], level: int) -> float:
    """Seconds into its window from which ``windows[level]`` can be full, given the shorter ones' counts."""
    return max(
        (
            (math.ceil(windows[level].count / shorter.count) - 1) * shorter.seconds
            for shorter in windows[:level]
        ),
        default=0.0,
    )


def markdown_table() -> str:
    """README's table of how a wait is decided, rendered from :data:`HEADER_RULES` and the windows."""
    lines = ["| rule | the 429's answer | the wait ends at |", "| --- | --- | --- |"]
    for n, (name, _, what) in enumerate(HEADER_RULES, start=1):
        lines.append(f"| {n} | `{name}`{' (and no usable one above)' if n > 1 else ''} | {what} |")
    first = len(HEADER_RULES) + 1
    for level, window in enumerate(PUBLISHED_WINDOWS):
        n = first + level
        when = (
            "no header, a first refusal"
            if level == 0
            else (f"no header, refused again right after a wait for {PUBLISHED_WINDOWS[level - 1].name}")
        )
        ends = f"the start of the next {window.period} ({window.count} {window.per})"
        if level:
            since = format_duration(full_from(PUBLISHED_WINDOWS, level))
            ends += f", once that many can have been sent ({since} into it); before that, as rule {n - 1}"
        lines.append(f"| {n} | {when} | {ends} |")
    return "\n".join(lines) + "\n"


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


if __name__ == "__main__":
    print(markdown_table(), end="")
