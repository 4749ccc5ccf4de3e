"""``MoEngageSandbox``: the object tests hold. It owns a :class:`.state.SandboxState` (settings,
workspaces, records, faults) and the transport that serves it; what each request gets is decided
in :mod:`.api`.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from moengage_provider.testing.sandbox.connection import AirflowConnectionOf
from moengage_provider.testing.sandbox.options import is_loopback
from moengage_provider.testing.sandbox.protocol import DEFAULT_MAX_BODY_BYTES
from moengage_provider.testing.sandbox.ratelimits import NAMED_OPTIONS
from moengage_provider.testing.sandbox.records import RejectedRecord, RequestRecord, TriggerRecord
from moengage_provider.testing.sandbox.settings import Settings
from moengage_provider.testing.sandbox.spawn import SpawnedSandbox
from moengage_provider.testing.sandbox.state import SandboxState
from moengage_provider.testing.sandbox.transport import Server


class _Setting:
    """A public attribute of the sandbox that reads (and writes) one of its settings; a rate-limit
    option (``hourly_limit``, ``hour_seconds``, ...) reads and changes its windows."""

    name: str

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, sandbox: MoEngageSandbox | None, owner: type | None = None) -> Any:
        if sandbox is None:
            return self
        settings = sandbox._state.settings
        if self.name in NAMED_OPTIONS:
            return settings.limits.option(self.name)
        return getattr(settings, self.name)

    def __set__(self, sandbox: MoEngageSandbox, value: Any) -> None:
        settings = sandbox._state.settings
        with sandbox._state.lock:
            if self.name in NAMED_OPTIONS:
                settings.limits.update({self.name: value})
            else:
                setattr(settings, self.name, value)
                settings.normalize()


class MoEngageSandbox(AirflowConnectionOf):
    """A local MoEngage Business Events API.

    ``with MoEngageSandbox("W", "K") as sb:`` starts it on a free port of 127.0.0.1; ``sb.url`` is the
    base URL, ``sb.triggers`` the accepted triggers, ``sb.fail_next``/``stall_next``/``drop_next``
    inject faults. ``MoEngageSandbox.spawn(...)`` runs one in another process. See docs/sandbox.md.
    """

    permissive: _Setting = _Setting()
    five_minute_limit: _Setting = _Setting()
    five_minute_seconds: _Setting = _Setting()
    hourly_limit: _Setting = _Setting()
    daily_limit: _Setting = _Setting()
    hour_seconds: _Setting = _Setting()
    day_seconds: _Setting = _Setting()
    retry_after: _Setting = _Setting()
    rate_limit_headers: _Setting = _Setting()
    record_file: _Setting = _Setting()
    search_limit_per_minute: _Setting = _Setting()
    minute_seconds: _Setting = _Setting()
    event_limit: _Setting = _Setting()
    max_body_bytes: _Setting = _Setting()
    flow_hourly_limit: _Setting = _Setting()
    flow_daily_limit: _Setting = _Setting()
    all_flows: _Setting = _Setting()
    counter_lag_seconds: _Setting = _Setting()

    def __init__(
        self,
        workspace_id: str,
        api_key: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        events: Mapping[str, Mapping[str, Any]] | None = None,
        permissive: bool = True,
        hourly_limit: int | None = None,
        daily_limit: int | None = None,
        hour_seconds: float | None = None,
        day_seconds: float | None = None,
        retry_after: bool = False,
        record_file: str | os.PathLike[str] | None = None,
        search_limit_per_minute: int | None = None,
        minute_seconds: float | None = None,
        event_limit: int = 50,
        allow_remote: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Callable[[], float] | None = None,
        flow_hourly_limit: int | None = None,
        flow_daily_limit: int | None = None,
        all_flows: bool = False,
        counter_lag_seconds: float = 0.0,
        five_minute_limit: int | None = None,
        five_minute_seconds: float | None = None,
        rate_limits: Mapping[str, Mapping[str, float]] | None = None,
        rate_limit_headers: bool = True,
        business_events_scope: bool = True,
    ) -> None:
        """Rate-limit options left at None take MoEngage's published values (see :mod:`.ratelimits`
        for the table and how the options map onto its windows)."""
        if not isinstance(workspace_id, str) or not workspace_id:
            raise ValueError("workspace_id must be a non-empty string")
        if not isinstance(api_key, str) or not api_key:
            raise ValueError("api_key must be a non-empty string")
        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"refusing to bind the sandbox to non-loopback host {host!r}; pass allow_remote=True "
                "(--allow-remote) if you really mean it"
            )
        self._host = host
        self._requested_port = int(port)
        self._state = SandboxState(Settings.from_options(locals()), workspace_id, clock)
        self._lock = threading.RLock()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._wake_r: socket.socket
        self._wake_w: socket.socket
        self._stopped = False
        self.add_workspace(workspace_id, api_key, events=events, business_events_scope=business_events_scope)

    @classmethod
    def spawn(
        cls, workspace_id: str = "sandbox-workspace", api_key: str | None = None, **options: Any
    ) -> SpawnedSandbox:
        """A sandbox in another process (``python -m moengage_provider.testing.sandbox``), started and
        ready; use it as a context manager or call ``stop()``. See :mod:`.spawn` for the options."""
        return SpawnedSandbox(workspace_id, api_key, **options).start()

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> MoEngageSandbox:
        with self._lock:
            if self._stopped:
                raise RuntimeError("this sandbox was stopped; create a new MoEngageSandbox")
            if self._server is not None:
                return self
            family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
            server = Server((self._host.strip("[]"), self._requested_port), self._state, family)
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
            while not server.stopping.is_set():
                for key, _ in selector.select(timeout=0.5):  # the timeout is only a safety net
                    if key.fileobj is server and not server.stopping.is_set():
                        server.handle_request()

    def stop(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            if server is None or self._stopped:
                self._stopped = True
                return
            self._stopped = True
        server.stopping.set()  # also wakes stalled requests
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if thread is not None:
            thread.join(timeout=5)
        server.server_close()
        self._wake_r.close()
        self._wake_w.close()
        server.shut_connections()

    def __enter__(self) -> MoEngageSandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server is not None and not self._stopped else "not running"
        return f"<MoEngageSandbox workspace_id={self.workspace_id!r} {where}>"

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
        if self._server is None:
            raise RuntimeError("the sandbox is not started; call start() first")
        return self._server.url

    @property
    def workspace_id(self) -> str:
        return self._state.primary

    @property
    def api_key(self) -> str:
        """The API key of the primary workspace (for tests that build their own requests)."""
        return self._state.workspace().api_key

    # -- configuration ----------------------------------------------------------------------------
    def add_workspace(
        self,
        workspace_id: str,
        api_key: str,
        *,
        events: Mapping[str, Mapping[str, Any]] | None = None,
        business_events_scope: bool = True,
    ) -> None:
        """Accept a further workspace ID / API key pair (with its own events and rate limits)."""
        self._state.add_workspace(
            workspace_id, api_key, events=events, business_events_scope=business_events_scope
        )

    def add_api_key(
        self, api_key: str, *, workspace_id: str | None = None, business_events_scope: bool = True
    ) -> None:
        """Accept another API key for a workspace (the primary one by default), or change whether a
        key has the business-events scope: V5 answers a key without it 403, the legacy API 401."""
        self._state.add_api_key(
            api_key, workspace_id=workspace_id, business_events_scope=business_events_scope
        )

    def declare_events(self, specs: Mapping[str, Any], *, workspace_id: str | None = None) -> None:
        """Declare several events at once: ``{name: {"attributes", "active_campaign", "flow",
        "campaigns", "flows"}}`` (see :mod:`.events`)."""
        self._state.declare_events(specs, workspace_id=workspace_id)

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
        """Declare (or redeclare) a business event and its typed attributes. ``flow=True``: a
        Business-Trigger flow uses it, so its triggers also count toward the flow limits.
        ``campaigns`` / ``flows``: what is attached to it, ids or ``{"id", "quota"}`` (see
        :mod:`.events`)."""
        self._state.declare_event(
            name,
            attributes,
            active_campaign,
            workspace_id=workspace_id,
            flow=flow,
            campaigns=campaigns,
            flows=flows,
        )

    def events(self, workspace_id: str | None = None) -> dict[str, dict[str, Any]]:
        """The declared events of a workspace, in the form ``events=`` accepts."""
        return self._state.events(workspace_id)

    # -- records ----------------------------------------------------------------------------------
    @property
    def triggers(self) -> list[TriggerRecord]:
        return list(self._state.recorder.copies("triggers"))

    @property
    def rejected(self) -> list[RejectedRecord]:
        return list(self._state.recorder.copies("rejected"))

    @property
    def requests(self) -> list[RequestRecord]:
        return list(self._state.recorder.copies("requests"))

    def reset(self) -> None:
        """Forget records, pending faults and rate-limit counters; declared events stay."""
        self._state.reset()

    def rate_limit_state(self, workspace_id: str | None = None) -> dict[str, Any]:
        """Counters of the current windows; ``*_window_ends_at`` are epoch seconds (floats)."""
        return self._state.rate_limit_state(workspace_id)

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
        self._state.faults.fail(
            status, count=count, body=body, content_type=content_type, path=path, headers=headers
        )

    def stall_next(
        self, seconds: float, *, count: int = 1, path: str | None = None, after_body: bool = True
    ) -> None:
        """Wait ``seconds`` before answering the next ``count`` API requests, then process them
        normally unless the client went away meanwhile."""
        self._state.faults.stall(seconds, count=count, path=path, after_body=after_body)

    def drop_next(
        self, *, count: int = 1, path: str | None = None, after_body: bool = True, accept: bool = False
    ) -> None:
        """Close the connection of the next ``count`` API requests without answering. With
        ``accept=True`` (needs ``after_body=True``) the request is processed (and recorded) first."""
        self._state.faults.drop(count=count, path=path, after_body=after_body, accept=accept)

    def pending_faults(self) -> int:
        """How many faulted requests are still to come."""
        return self._state.faults.pending()

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
