"""
MoEngage's trigger limits and how long to wait when they are hit.

MoEngage documents 50 triggers per hour and 200 per day per workspace, a 429 body, and no
``Retry-After`` header. Without that header we assume the limit resets at the next clock-aligned
window (the top of the next UTC hour for the hourly limit) and wait for it; a small jitter keeps
many waiting tasks from arriving in the same instant.
"""

from __future__ import annotations

import datetime as dt
import math
import random

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


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
