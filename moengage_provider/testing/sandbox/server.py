"""``MoEngageSandbox``: the object tests hold. It owns the configuration, the workspaces, the records
and the faults, and starts the transport; what each request gets is decided in :mod:`.api`.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from moengage_provider.testing.sandbox import connection
from moengage_provider.testing.sandbox.faults import FaultQueue
from moengage_provider.testing.sandbox.options import check_options, event_specs, is_loopback
from moengage_provider.testing.sandbox.protocol import DEFAULT_MAX_BODY_BYTES, naive_iso, new_object_id
from moengage_provider.testing.sandbox.records import Recorder, RejectedRecord, RequestRecord, TriggerRecord
from moengage_provider.testing.sandbox.state import WINDOWS, Event, Workspace
from moengage_provider.testing.sandbox.transport import Server
from moengage_provider.testing.sandbox.validation import normalize_attributes

if TYPE_CHECKING:
    from moengage_provider.testing.sandbox.spawn import SpawnedSandbox


def _spec(event: Event) -> dict[str, Any]:
    spec: dict[str, Any] = {"attributes": dict(event.attributes), "active_campaign": event.active_campaign}
    if event.flow:
        spec["flow"] = True
    return spec


class MoEngageSandbox:
    """A local MoEngage Business Events API.

    ``with MoEngageSandbox("W", "K") as sb:`` starts it on a free port of 127.0.0.1; ``sb.url`` is the
    base URL, ``sb.triggers`` the accepted triggers, ``sb.fail_next``/``stall_next``/``drop_next``
    inject faults. ``MoEngageSandbox.spawn(...)`` runs one in another process. See docs/sandbox.md.
    """

    def __init__(
        self,
        workspace_id: str,
        api_key: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        events: Mapping[str, Mapping[str, Any]] | None = None,
        permissive: bool = True,
        hourly_limit: int = 50,
        daily_limit: int = 200,
        hour_seconds: float = 3600.0,
        day_seconds: float = 86400.0,
        retry_after: bool = False,
        record_file: str | os.PathLike[str] | None = None,
        search_limit_per_minute: int = 100,
        minute_seconds: float = 60.0,
        event_limit: int = 50,
        allow_remote: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Callable[[], float] | None = None,
        flow_hourly_limit: int = 3,
        flow_daily_limit: int = 10,
        all_flows: bool = False,
        counter_lag_seconds: float = 0.0,
    ) -> None:
        if not isinstance(workspace_id, str) or not workspace_id:
            raise ValueError("workspace_id must be a non-empty string")
        if not isinstance(api_key, str) or not api_key:
            raise ValueError("api_key must be a non-empty string")
        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"refusing to bind the sandbox to non-loopback host {host!r}; pass allow_remote=True "
                "(--allow-remote) if you really mean it"
            )
        check_options(locals())
        self._host = host
        self._requested_port = int(port)
        self.permissive = bool(permissive)
        self.hourly_limit = int(hourly_limit)
        self.daily_limit = int(daily_limit)
        self.hour_seconds = float(hour_seconds)
        self.day_seconds = float(day_seconds)
        self.retry_after = bool(retry_after)
        self.record_file = Path(record_file) if record_file is not None else None
        self.search_limit_per_minute = int(search_limit_per_minute)
        self.minute_seconds = float(minute_seconds)
        self.event_limit = int(event_limit)
        self.max_body_bytes = int(max_body_bytes)
        self.flow_hourly_limit = int(flow_hourly_limit)
        self.flow_daily_limit = int(flow_daily_limit)
        self.all_flows = bool(all_flows)
        self.counter_lag_seconds = float(counter_lag_seconds)
        self._clock: Callable[[], float] = clock or time.time

        self._lock = threading.RLock()
        self._primary = workspace_id
        self._workspaces: dict[str, Workspace] = {}
        self._recorder = Recorder(self._secret_forms)
        self._faults = FaultQueue()
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._wake_r: socket.socket
        self._wake_w: socket.socket
        self._stopped = False
        self.add_workspace(workspace_id, api_key, events=events)

    @classmethod
    def spawn(
        cls, workspace_id: str = "sandbox-workspace", api_key: str | None = None, **options: Any
    ) -> SpawnedSandbox:
        """A sandbox in another process (``python -m moengage_provider.testing.sandbox``), started and
        ready; use it as a context manager or call ``stop()``. See :mod:`.spawn` for the options."""
        from moengage_provider.testing.sandbox.spawn import SpawnedSandbox

        return SpawnedSandbox(workspace_id, api_key, **options).start()

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> MoEngageSandbox:
        with self._lock:
            if self._stopped:
                raise RuntimeError("this sandbox was stopped; create a new MoEngageSandbox")
            if self._server is not None:
                return self
            family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
            server = Server((self._host.strip("[]"), self._requested_port), self, family)
            self._server = server
            self._wake_r, self._wake_w = socket.socketpair()
            self._thread = threading.Thread(
                target=self._serve, args=(server,), name=f"moengage-sandbox-{self.port}", daemon=True
            )
            self._thread.start()
        return self

    def _serve(self, server: Server) -> None:
        # Like serve_forever(), but woken at once by stop() instead of polling every 0.5 s.
        server.timeout = 0.5
        with selectors.DefaultSelector() as selector:
            selector.register(server, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select(timeout=0.5):  # the timeout is only a safety net
                    if key.fileobj is server and not self._stopping.is_set():
                        server.handle_request()

    def stop(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            if server is None or self._stopped:
                self._stopped = True
                return
            self._stopped = True
        self._stopping.set()  # also wakes stalled requests
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if thread is not None:
            thread.join(timeout=5)
        server.server_close()
        self._wake_r.close()
        self._wake_w.close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # wakes handler threads waiting on idle keep-alive connections
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> MoEngageSandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server is not None and not self._stopped else "not running"
        return f"<MoEngageSandbox workspace_id={self._primary!r} {where}>"

    @property
    def running(self) -> bool:
        return self._server is not None and not self._stopped

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not started; call start() first")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        if self._server is None:
            return self._host
        return str(self._server.server_address[0])

    @property
    def url(self) -> str:
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def workspace_id(self) -> str:
        return self._primary

    @property
    def api_key(self) -> str:
        """The API key of the primary workspace (for tests that build their own requests)."""
        return self._workspaces[self._primary].api_key

    # -- the Airflow connection (one place builds it: connection.py) ----------------------------
    def airflow_connection(self, conn_type: str = "moengage") -> connection.SandboxConnection:
        return connection.SandboxConnection(self.host, self.port, self._primary, self.api_key, conn_type)

    def airflow_conn_json(self, conn_type: str = "moengage") -> str:
        """The JSON form of an Airflow connection pointing at this sandbox (for AIRFLOW_CONN_...)."""
        return self.airflow_connection(conn_type).json()

    # -- configuration ----------------------------------------------------------------------------
    def add_workspace(
        self, workspace_id: str, api_key: str, *, events: Mapping[str, Mapping[str, Any]] | None = None
    ) -> None:
        """Accept a further workspace ID / API key pair (with its own events and rate limits)."""
        if not workspace_id or not api_key:
            raise ValueError("workspace_id and api_key must be non-empty strings")
        with self._lock:
            if workspace_id not in self._workspaces:
                self._workspaces[workspace_id] = Workspace(workspace_id, api_key, {})
            else:
                self._workspaces[workspace_id].api_key = api_key
        self.declare_events(events or {}, workspace_id=workspace_id)

    def declare_events(self, specs: Mapping[str, Any], *, workspace_id: str | None = None) -> None:
        """Declare several events at once: ``{name: {"attributes", "active_campaign", "flow"}}``."""
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
        """Declare (or redeclare) a business event and its typed attributes. ``flow=True``: a
        Business-Trigger flow uses it, so its triggers also count toward the flow limits."""
        if not isinstance(name, str) or not name:
            raise ValueError("event name must be a non-empty string")
        attrs = normalize_attributes(attributes, name)
        now = self._now()
        with self._lock:
            ws = self._workspace(workspace_id)
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
        """The declared events of a workspace, in the form ``events=`` accepts."""
        with self._lock:
            ws = self._workspace(workspace_id)
            return {e.name: _spec(e) for e in ws.events.values()}

    def _workspace(self, workspace_id: str | None) -> Workspace:
        key = workspace_id if workspace_id is not None else self._primary
        try:
            return self._workspaces[key]
        except KeyError:
            raise KeyError(f"unknown workspace {key!r}") from None

    # -- records ----------------------------------------------------------------------------------
    @property
    def triggers(self) -> list[TriggerRecord]:
        return list(self._recorder.copies("triggers"))

    @property
    def rejected(self) -> list[RejectedRecord]:
        return list(self._recorder.copies("rejected"))

    @property
    def requests(self) -> list[RequestRecord]:
        return list(self._recorder.copies("requests"))

    def reset(self) -> None:
        """Forget records, pending faults and rate-limit counters; declared events stay."""
        with self._lock:
            self._recorder.clear()
            self._faults.clear()
            for ws in self._workspaces.values():
                ws.reset()

    def rate_limit_state(self, workspace_id: str | None = None) -> dict[str, Any]:
        """Counters of the current windows; ``*_window_ends_at`` are epoch seconds (floats)."""
        now = self._now()
        with self._lock:
            ws = self._workspace(workspace_id)
            state: dict[str, Any] = {"workspace_id": ws.workspace_id}
            for name, (length_attr, limit_attr) in WINDOWS.items():
                seconds = float(getattr(self, length_attr))
                window = ws.windows[name]
                window.roll(now, seconds)
                label = "search" if name == "minute" else name
                state[f"{label}_count"] = window.count
                state[f"{label}_window_ends_at"] = window.ends_at(seconds)
                state[limit_attr] = getattr(self, limit_attr)
            return copy.deepcopy(state)

    # -- faults -----------------------------------------------------------------------------------
    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        body: str | bytes | Mapping[str, Any] | list[Any] | None = None,
        content_type: str | None = None,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``count`` API requests (only those to ``path``, if given) with ``status``."""
        self._faults.fail(
            status, count=count, body=body, content_type=content_type, path=path, headers=headers
        )

    def stall_next(
        self, seconds: float, *, count: int = 1, path: str | None = None, after_body: bool = True
    ) -> None:
        """Wait ``seconds`` before answering the next ``count`` API requests, then process them
        normally unless the client went away meanwhile."""
        self._faults.stall(seconds, count=count, path=path, after_body=after_body)

    def drop_next(
        self, *, count: int = 1, path: str | None = None, after_body: bool = True, accept: bool = False
    ) -> None:
        """Close the connection of the next ``count`` API requests without answering. With
        ``accept=True`` (needs ``after_body=True``) the request is processed (and recorded) first."""
        self._faults.drop(count=count, path=path, after_body=after_body, accept=accept)

    def pending_faults(self) -> int:
        """How many faulted requests are still to come."""
        return self._faults.pending()

    # -- DAG runs under the sandbox (Airflow imported only here) ---------------------------------
    def run_dag(self, dag: Any, **kwargs: Any) -> Any:
        """Run ``dag`` with ``dag.test()``, retries at once; a failed run raises ``DagRunFailed`` naming
        each failed task with its error, and this sandbox's rejections. See
        :func:`moengage_provider.testing.dag_runs.run_dag` (``retry_delay_cap``)."""
        from moengage_provider.testing.dag_runs import run_dag

        return run_dag(self, dag, **kwargs)

    def assert_delivered(
        self, event_name: str | None = None, *, count: int | None = None, **attributes: Any
    ) -> list[TriggerRecord]:
        """The accepted triggers (of ``event_name``, with these attributes); fails, showing what was
        rejected and why, when there are none (or not ``count``)."""
        from moengage_provider.testing.dag_runs import assert_delivered

        return assert_delivered(self, event_name, count=count, **attributes)

    # -- internals --------------------------------------------------------------------------------
    def _now(self) -> float:
        return float(self._clock())

    def _secret_forms(self) -> list[str]:
        forms: list[str] = []
        for ws in list(self._workspaces.values()):
            pair = f"{ws.workspace_id}:{ws.api_key}"
            forms += [base64.b64encode(pair.encode()).decode(), pair, ws.api_key]
        return forms

    def _track_connection(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)
