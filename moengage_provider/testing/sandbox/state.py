"""Workspace state: declared events, their counters, and the fixed rate-limit windows.

One table, ``WINDOWS``, names every limit the sandbox enforces: what it counts, the window length
and the limit (sandbox attributes), so adding or changing a limit is one row.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

from moengage_provider.testing.sandbox.protocol import naive_iso


@dataclass
class Event:
    name: str
    attributes: dict[str, str]
    active_campaign: bool
    event_id: str
    object_id: str
    created_at: str
    created_by: str
    #: A Business-Trigger flow uses this event: its triggers also count toward the flow limits.
    flow: bool = False
    #: Epoch seconds of every accepted trigger, ascending (the counters are derived from it).
    accepted_at: list[float] = field(default_factory=list)

    def counters(self, as_of: float) -> tuple[int, float | None]:
        """``total_trigger`` and the last trigger time, counting triggers accepted up to ``as_of``."""
        count = bisect.bisect_right(self.accepted_at, as_of)
        return count, self.accepted_at[count - 1] if count else None

    def as_search_result(self, db_name: str, as_of: float) -> dict[str, Any]:
        total, last = self.counters(as_of)
        result: dict[str, Any] = {
            "db_name": db_name,
            "event_id": self.event_id,
            "event_name": self.name,
            "event_attributes": [
                {"attribute_name": n, "attribute_data_type": t} for n, t in self.attributes.items()
            ],
            "created_at": self.created_at,
            "total_trigger": total,
            "users_in_segment": 0,
            "usage_count": 0,
            "created_by": self.created_by,
        }
        if last is not None:  # the spec types it as a date-time string, not nullable: absent until then
            result["last_received_time"] = naive_iso(last)
        result["_id"] = self.object_id
        return result


@dataclass
class Window:
    """A fixed window aligned to multiples of its length since the epoch."""

    index: int = -1
    count: int = 0

    def roll(self, now: float, seconds: float) -> None:
        index = math.floor(now / seconds)
        if index != self.index:
            self.index, self.count = index, 0

    def ends_at(self, seconds: float) -> float:
        return (self.index + 1) * seconds


#: name -> (length attribute, limit attribute) on the sandbox. "hour"/"day": every accepted trigger;
#: "flow_hour"/"flow_day": triggers of flow events; "minute": accepted searches.
WINDOWS: dict[str, tuple[str, str]] = {
    "hour": ("hour_seconds", "hourly_limit"),
    "day": ("day_seconds", "daily_limit"),
    "flow_hour": ("hour_seconds", "flow_hourly_limit"),
    "flow_day": ("day_seconds", "flow_daily_limit"),
    "minute": ("minute_seconds", "search_limit_per_minute"),
}
TRIGGER_WINDOWS = ("hour", "day")
FLOW_WINDOWS = ("flow_hour", "flow_day")
SEARCH_WINDOWS = ("minute",)


@dataclass
class Workspace:
    workspace_id: str
    api_key: str
    events: dict[str, Event]
    windows: dict[str, Window] = field(default_factory=lambda: {name: Window() for name in WINDOWS})

    def reset(self) -> None:
        self.windows = {name: Window() for name in WINDOWS}
        for event in self.events.values():
            event.accepted_at.clear()


def full_windows(ws: Workspace, names: tuple[str, ...], limits: Any, now: float) -> list[float]:
    """Roll the named windows to ``now``; the end times of those already at their limit."""
    ends = []
    for name in names:
        length_attr, limit_attr = WINDOWS[name]
        seconds = float(getattr(limits, length_attr))
        window = ws.windows[name]
        window.roll(now, seconds)
        if window.count >= int(getattr(limits, limit_attr)):
            ends.append(window.ends_at(seconds))
    return ends


def count(ws: Workspace, names: tuple[str, ...]) -> None:
    for name in names:
        ws.windows[name].count += 1
