"""What the sandbox knows: workspaces, declared events and their counters, the counts of the
rate-limit windows (see :mod:`.ratelimits`), and ``SandboxState``, the one object request handlers
read and change.
"""

from __future__ import annotations

import base64
import bisect
import copy
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from moengage_provider.testing.sandbox.faults import FaultQueue
from moengage_provider.testing.sandbox.options import event_specs
from moengage_provider.testing.sandbox.protocol import naive_iso, new_object_id
from moengage_provider.testing.sandbox.ratelimits import NAMED_OPTIONS, Window, stand
from moengage_provider.testing.sandbox.records import Recorder
from moengage_provider.testing.sandbox.settings import Settings
from moengage_provider.testing.sandbox.validation import normalize_attributes


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
class Workspace:
    workspace_id: str
    api_key: str
    events: dict[str, Event]
    #: window name -> its count (created when first counted)
    windows: dict[str, Window] = field(default_factory=dict)

    def reset(self) -> None:
        self.windows = {}
        for event in self.events.values():
            event.accepted_at.clear()


def _spec(event: Event) -> dict[str, Any]:
    spec: dict[str, Any] = {"attributes": dict(event.attributes), "active_campaign": event.active_campaign}
    if event.flow:
        spec["flow"] = True
    return spec


class SandboxState:
    """The workspaces, records, faults and settings of one sandbox, under one lock, with its clock.

    Request handlers receive this object (never the server that owns it), so what a request can
    see and change is exactly what is here.
    """

    def __init__(self, settings: Settings, primary: str, clock: Callable[[], float] | None = None) -> None:
        self.settings = settings
        self.primary = primary
        self.lock = threading.RLock()
        self.workspaces: dict[str, Workspace] = {}
        self.recorder = Recorder(self.secret_forms)
        self.faults = FaultQueue()
        self._clock: Callable[[], float] = clock or time.time

    def now(self) -> float:
        return float(self._clock())

    def workspace(self, workspace_id: str | None = None) -> Workspace:
        key = workspace_id if workspace_id is not None else self.primary
        try:
            return self.workspaces[key]
        except KeyError:
            raise KeyError(f"unknown workspace {key!r}") from None

    def add_workspace(
        self, workspace_id: str, api_key: str, *, events: Mapping[str, Mapping[str, Any]] | None = None
    ) -> None:
        if not workspace_id or not api_key:
            raise ValueError("workspace_id and api_key must be non-empty strings")
        with self.lock:
            if workspace_id not in self.workspaces:
                self.workspaces[workspace_id] = Workspace(workspace_id, api_key, {})
            else:
                self.workspaces[workspace_id].api_key = api_key
        self.declare_events(events or {}, workspace_id=workspace_id)

    def declare_events(self, specs: Mapping[str, Any], *, workspace_id: str | None = None) -> None:
        for name, spec in event_specs(specs):
            self.declare_event(name, workspace_id=workspace_id, **spec)

    def declare_event(
        self,
        name: str,
        attributes: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        active_campaign: bool = True,
        *,
        workspace_id: str | None = None,
        flow: bool = False,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("event name must be a non-empty string")
        attrs = normalize_attributes(attributes, name)
        now = self.now()
        with self.lock:
            ws = self.workspace(workspace_id)
            previous = ws.events.get(name)
            ws.events[name] = Event(
                name=name,
                attributes=attrs,
                active_campaign=bool(active_campaign),
                event_id=previous.event_id if previous else new_object_id(),
                object_id=previous.object_id if previous else new_object_id(),
                created_at=previous.created_at if previous else naive_iso(now),
                created_by=previous.created_by if previous else "sandbox@example.com",
                flow=bool(flow),
                accepted_at=previous.accepted_at if previous else [],
            )

    def events(self, workspace_id: str | None = None) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {e.name: _spec(e) for e in self.workspace(workspace_id).events.values()}

    def reset(self) -> None:
        with self.lock:
            self.recorder.clear()
            self.faults.clear()
            for ws in self.workspaces.values():
                ws.reset()

    def rate_limit_state(self, workspace_id: str | None = None) -> dict[str, Any]:
        """``windows``: each window's kind, limit, length, count and end (epoch seconds); and, flat,
        ``<window>_count`` and ``<window>_window_ends_at`` of each, the named options' values, and
        the answer options."""
        now = self.now()
        settings = self.settings
        with self.lock:
            ws = self.workspace(workspace_id)
            state: dict[str, Any] = {"workspace_id": ws.workspace_id, "windows": settings.limits.as_dict()}
            for row in settings.limits.windows.values():
                stand([row], ws.windows, now, take=False)
                window = ws.windows[row.name]
                state["windows"][row.name].update(count=window.count, ends_at=window.ends_at(row.seconds))
                state[f"{row.name}_count"] = window.count
                state[f"{row.name}_window_ends_at"] = window.ends_at(row.seconds)
            state.update({option: settings.limits.option(option) for option in NAMED_OPTIONS})
            state.update(rate_limit_headers=settings.rate_limit_headers, retry_after=settings.retry_after)
            return copy.deepcopy(state)

    def secret_forms(self) -> list[str]:
        """Every form an API key could be seen in: scrubbed from all the sandbox keeps or prints."""
        forms: list[str] = []
        for ws in list(self.workspaces.values()):
            pair = f"{ws.workspace_id}:{ws.api_key}"
            forms += [base64.b64encode(pair.encode()).decode(), pair, ws.api_key]
        return forms
