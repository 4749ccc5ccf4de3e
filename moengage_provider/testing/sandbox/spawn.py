"""The one way to run a sandbox in another process: ``MoEngageSandbox.spawn(...)`` / ``SpawnedSandbox``.

It runs ``python -m moengage_provider.testing.sandbox --port 0``, hands it the API key through the
environment (never the command line: ``ps`` shows that), waits (bounded) for the "listening" line,
and stops the process by its PID. ``scripts/demo.py``, ``scripts/bench`` and the tests use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from moengage_provider.testing.sandbox.banner import LISTENING
from moengage_provider.testing.sandbox.connection import AirflowConnectionOf

#: Seconds to wait for the child to say it listens; a loaded CI machine needs more than a laptop.
DEFAULT_START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
#: Keyword -> command-line flag (value flags); booleans are in ``_SWITCHES``.
_FLAGS = {
    "five_minute_limit": "--five-minute-limit",
    "five_minute_seconds": "--five-minute-seconds",
    "hourly_limit": "--hourly-limit",
    "daily_limit": "--daily-limit",
    "hour_seconds": "--hour-seconds",
    "day_seconds": "--day-seconds",
    "record_file": "--record-file",
}
_SWITCHES = {"strict": "--strict", "retry_after": "--retry-after", "quiet": "--quiet"}
#: Keyword -> (flag, given when the value is this): switches that turn a default off.
_OFF_SWITCHES = {"rate_limit_headers": ("--no-rate-limit-headers", False)}


def _flags(options: Mapping[str, Any]) -> list[str]:
    """The command-line flags that give a child these keyword options."""
    args: list[str] = []
    for name, value in options.items():
        if name in _SWITCHES:
            args += [_SWITCHES[name]] if value else []
        elif name in _OFF_SWITCHES:
            flag, when = _OFF_SWITCHES[name]
            args += [flag] if value is when else []
        elif name == "rate_limits":
            for window, fields in (value or {}).items():
                seconds = f"/{fields['seconds']}" if "seconds" in fields else ""
                args += ["--rate-limit", f"{window}={fields.get('limit', '')}{seconds}"]
        elif value is not None:
            args += [_FLAGS[name], os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return args


class SandboxStartError(RuntimeError):
    """The sandbox process did not report that it listens (exited, or the wait timed out)."""


class SpawnedSandbox(AirflowConnectionOf):
    """A sandbox process. Options: ``config`` (a mapping of config-file keys or a file path), the CLI
    options as keywords (``strict``, ``five_minute_limit``, ``five_minute_seconds``,
    ``hourly_limit``, ``daily_limit``, ``hour_seconds``, ``day_seconds``, ``rate_limits``,
    ``retry_after``, ``rate_limit_headers``, ``record_file``, ``quiet=True``), ``env`` (the child's
    environment, default ``os.environ``), ``cwd``, ``stderr`` (a file to append the child's log to),
    ``on_output`` (called with each stdout line), ``start_timeout`` and ``python``."""

    def __init__(
        self,
        workspace_id: str = "sandbox-workspace",
        api_key: str | None = None,
        *,
        config: Mapping[str, Any] | str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        stderr: IO[str] | None = None,
        on_output: Callable[[str], None] | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        python: str = sys.executable,
        **options: Any,
    ) -> None:
        known = {*_FLAGS, *_SWITCHES, *_OFF_SWITCHES, "rate_limits"}
        unknown = set(options) - known
        if unknown:
            raise TypeError(f"unknown sandbox options {sorted(unknown)}; known: {sorted(known)}")
        self.workspace_id = workspace_id
        self.api_key: str = api_key or "sbx-" + secrets.token_urlsafe(24)
        self._tmp = Path(tempfile.mkdtemp(prefix="moengage-sandbox-"))
        if isinstance(config, Mapping):
            config_path = self._tmp / "config.json"
            config_path.write_text(json.dumps(dict(config)), encoding="utf-8")
            config = config_path
        self.args: list[str] = [python, "-m", "moengage_provider.testing.sandbox", "--port", "0"]
        self.args += ["--workspace-id", workspace_id]
        if config is not None:
            self.args += ["--config", os.fspath(config)]
        options.setdefault("quiet", True)
        self.args += _flags(options)
        self._env = {**(os.environ if env is None else env), "MOENGAGE_SANDBOX_API_KEY": self.api_key}
        self._cwd = cwd
        self._stderr = stderr
        self._on_output = on_output
        self.start_timeout: float = float(start_timeout)
        self.proc: subprocess.Popen[str] | None = None
        self.url: str = ""
        self.output: list[str] = []
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> SpawnedSandbox:
        log = self._stderr or (self._tmp / "stderr.log").open("a", encoding="utf-8")
        try:
            self.proc = subprocess.Popen(
                self.args,
                env=self._env,
                cwd=self._cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                bufsize=1,
            )
        finally:
            if log is not self._stderr:
                log.close()
        ready = threading.Event()
        threading.Thread(
            target=self._pump, args=(ready,), name="moengage-sandbox-output", daemon=True
        ).start()
        listened = ready.wait(self.start_timeout) and bool(self.url)
        if not listened:
            code = self.proc.poll()
            if code is None and ready.is_set():  # stdout closed: the process is exiting, reap it
                try:
                    code = self.proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    code = None
            why = (
                f"exited with code {code}"
                if code is not None
                else f"did not listen within {self.start_timeout:.0f} s"
            )
            diagnostics = self._diagnostics()
            self.stop()
            raise SandboxStartError(f"the MoEngage sandbox process {why}.\n{diagnostics}")
        return self

    def _pump(self, ready: threading.Event) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if self._on_output is not None:
                with contextlib.suppress(Exception):  # a failing callback must not stop the draining
                    self._on_output(line)
            if line.startswith(LISTENING) and not ready.is_set():
                self.url = line[len(LISTENING) :].strip()
                ready.set()
        ready.set()

    def _diagnostics(self) -> str:
        stdout = "".join(self.output[-20:]).replace(self.api_key, "<redacted>")
        text = f"command: {' '.join(self.args)}\nstdout:\n{stdout or '(nothing)'}"
        stderr_file = self._tmp / "stderr.log"
        if stderr_file.exists():
            tail = stderr_file.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
            text += "\nstderr:\n" + "\n".join(tail).replace(self.api_key, "<redacted>")
        return text

    def stop(self) -> int | None:
        """SIGTERM to the PID, a bounded wait, then SIGKILL; the exit code (None if never started)."""
        proc, self.proc = self.proc, None
        code = None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=STOP_TIMEOUT)
            code = proc.returncode
            if proc.stdout is not None:
                proc.stdout.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
        return code

    def __enter__(self) -> SpawnedSandbox:
        return self if self.proc is not None else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- where it is ------------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("the sandbox process is not running")
        return self.proc.pid

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://").rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    # -- the control API --------------------------------------------------------------------------
    def control(self, path: str, *, method: str = "GET", body: Any = None, timeout: float = 30.0) -> Any:
        """``/_sandbox/...`` of the child, decoded (e.g. ``control("/_sandbox/triggers")``)."""
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(self.url + path, method=method, data=data)
        with self._opener.open(request, timeout=timeout) as response:
            return json.loads(response.read())

    @property
    def triggers(self) -> list[dict[str, Any]]:
        return list(self.control("/_sandbox/triggers"))

    @property
    def rejected(self) -> list[dict[str, Any]]:
        return list(self.control("/_sandbox/rejected"))
