"""What the sandbox knows: workspaces, declared events and their counters, the counts of the
rate-limit windows (see :mod:`.ratelimits`), and ``SandboxState``, the one object request handlers
read and change.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from moengage_provider.testing.sandbox.events import Event, attached
from moengage_provider.testing.sandbox.faults import FaultQueue
from moengage_provider.testing.sandbox.options import event_specs
from moengage_provider.testing.sandbox.protocol import new_object_id
from moengage_provider.testing.sandbox.ratelimits import NAMED_OPTIONS, Window, stand
from moengage_provider.testing.sandbox.records import Recorder, TriggerRecord
from moengage_provider.testing.sandbox.settings import Settings
from moengage_provider.testing.sandbox.validation import normalize_attributes


@dataclass
class Workspace:
    workspace_id: str
    #: the key it was created with (``MoEngageSandbox.api_key``)
    api_key: str
    events: dict[str, Event]
    #: window name -> its count (created when first counted)
    windows: dict[str, Window] = field(default_factory=dict)
    #: every API key of the workspace -> whether it has the business-events scope
    keys: dict[str, bool] = field(default_factory=dict)

    def reset(self) -> None:
        self.windows = {}
        for event in self.events.values():
            event.forget_triggers()


class SandboxState:
    """The workspaces, records, faults and settings of one sandbox, under one lock, with its clock.

    Request handlers receive this object (never the server that owns it), so what a request can
    see and change is exactly what is here.
    """

    def __init__(self, settings: Settings, primary: str, clock: Callable[[], float] | None = None) -> None:
        self.settings = settings
        self.primary = primary
        self.lock: threading.RLock = threading.RLock()
        self.workspaces: dict[str, Workspace] = {}
        self.recorder: Recorder = Recorder(self.secret_forms)
        self.faults: FaultQueue = FaultQueue()
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
        self,
        workspace_id: str,
        api_key: str,
        *,
        events: Mapping[str, Mapping[str, Any]] | None = None,
        business_events_scope: bool = True,
    ) -> None:
        if not workspace_id or not api_key:
            raise ValueError("workspace_id and api_key must be non-empty strings")
        with self.lock:
            if workspace_id not in self.workspaces:
                self.workspaces[workspace_id] = Workspace(workspace_id, api_key, {})
            else:
                self.workspaces[workspace_id].api_key = api_key
            self.workspaces[workspace_id].keys[api_key] = bool(business_events_scope)
        self.declare_events(events or {}, workspace_id=workspace_id)

    def add_api_key(
        self, api_key: str, *, workspace_id: str | None = None, business_events_scope: bool = True
    ) -> None:
        """Accept another key for a workspace, or change whether a key has the business-events scope."""
        if not isinstance(api_key, str) or not api_key:
            raise ValueError("api_key must be a non-empty string")
        with self.lock:
            self.workspace(workspace_id).keys[api_key] = bool(business_events_scope)

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
        campaigns: Sequence[Any] | None = None,
        flows: Sequence[Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("event name must be a non-empty string")
        attrs = normalize_attributes(attributes, name)
        attached_campaigns, attached_flows = attached(
            name, bool(active_campaign), bool(flow), campaigns, flows
        )
        now = self.now()
        with self.lock:
            ws = self.workspace(workspace_id)
            previous = ws.events.get(name)
            ws.events[name] = Event(
                name=name,
                attributes=attrs,
                event_id=previous.event_id if previous else new_object_id(),
                object_id=previous.object_id if previous else new_object_id(),
                created_ts=previous.created_ts if previous else now,
                created_by=previous.created_by if previous else "sandbox@example.com",
                campaigns=attached_campaigns,
                flows=attached_flows,
                flow=bool(flow) or bool(flows),
                listed=campaigns is not None or flows is not None,
                accepted_at=previous.accepted_at if previous else [],
                launched=previous.launched if previous else [],
            )

    def events(self, workspace_id: str | None = None) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {e.name: e.as_spec() for e in self.workspace(workspace_id).events.values()}

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

    def keep_trigger(self, record: TriggerRecord) -> None:
        """Remember an accepted trigger (and append it to the record file, when there is one)."""
        self.recorder.trigger(record)
        if self.settings.record_file is not None:
            with self.settings.record_file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, ensure_ascii=True) + "\n")

    def secret_forms(self) -> list[str]:
        """Every form an API key could be seen in: scrubbed from all the sandbox keeps or prints."""
        forms: list[str] = []
        for ws in list(self.workspaces.values()):
            for key in [ws.api_key, *ws.keys]:
                pair = f"{ws.workspace_id}:{key}"
                forms += [base64.b64encode(pair.encode()).decode(), pair, key]
        return forms
