"""
MoEngage's trigger limits and how long to wait when they are hit.

MoEngage documents 50 triggers per hour and 200 per day per workspace, a 429 body, and no
``Retry-After`` header. Without that header we assume the limit resets at the next clock-aligned
window (the top of the next UTC hour for the hourly limit) and wait for it; a small jitter keeps
many waiting tasks from arriving in the same instant. :func:`plan_wait` decides how a task waits:
in the triggerer, asleep in the worker, or by a retry when the window reopens; or that it has
waited long enough. Doing it (and saying so) is the try's (``delivery/attempt.py``).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from typing import Literal

HOURLY_LIMIT = 50
DAILY_LIMIT = 200
LIMITS_TEXT = (
    f"MoEngage allows {HOURLY_LIMIT} business event triggers per hour and {DAILY_LIMIT} per day per workspace"
)


def next_window_start(now: dt.datetime, window: dt.timedelta) -> dt.datetime:
    """Start of the next window of this length, aligned to the Unix epoch (UTC)."""
    length = window.total_seconds()
    start = math.floor(now.timestamp() / length + 1) * length
    return dt.datetime.fromtimestamp(start, tz=dt.timezone.utc)


def rate_limit_wait(
    now: dt.datetime, *, retry_after: float | None, window: dt.timedelta
) -> tuple[float, dt.datetime, str]:
    """Seconds to wait, when the wait ends, and why that long (for the log)."""
    # A jitter (5% of the Retry-After or of the window, at most 30 s) keeps waiting tasks from
    # arriving together.
    if retry_after is not None:
        seconds = retry_after + random.uniform(0, min(retry_after * 0.05, 30.0))
        reason = f"MoEngage asked to retry after {retry_after:g} s (Retry-After)"
    else:
        seconds = (next_window_start(now, window) - now).total_seconds()
        seconds += random.uniform(0, min(window.total_seconds() * 0.05, 30.0))
        reason = "no Retry-After header, so waiting for the next rate-limit window"
    return seconds, now + dt.timedelta(seconds=seconds), reason


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
    seconds: float
    #: When the wait ends (UTC), and why that long (for the log).
    until: dt.datetime
    reason: str
    how: WaitHow
    #: Seconds already waited since the first refusal of this payload.
    waited: float
    #: Waiting on would pass ``max_rate_limit_wait``: the task fails instead.
    too_long: bool


def plan_wait(
    now: dt.datetime,
    *,
    retry_after: float | None,
    window: dt.timedelta,
    waiting_since: dt.datetime,
    max_wait: dt.timedelta,
    deferrable: bool,
) -> RateLimitWait:
    """How long, and how, a task refused for the rate limit waits (``deferrable``: in the triggerer)."""
    seconds, until, reason = rate_limit_wait(now, retry_after=retry_after, window=window)
    waited = (now - waiting_since).total_seconds()
    how: WaitHow = (
        "defer" if deferrable else "sleep" if seconds <= MAX_IN_WORKER_WAIT.total_seconds() else "retry"
    )
    return RateLimitWait(
        seconds, until, reason, how, waited, too_long=waited + seconds > max_wait.total_seconds()
    )


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
