"""
What the browser and CLI tests need around them: Debian's Chromium, a real ``airflow api-server``.

Plain helpers; the fixtures that use them live in ``tests/ui/conftest.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.conftest import REPO, airflow_env
from tests.ports import free_port

#: Screenshots and the api-server log land here (git-ignored; CI keeps it as an artifact).
ARTIFACTS = REPO / "test-artifacts"

#: Debian's package; never a browser build downloaded by Playwright.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium")

#: This machine reaches nothing but loopback: keep Chromium from trying (and failing noisily).
#: Playwright adds ``--headless`` and a fresh temporary ``--user-data-dir`` for every launch.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

INSTALL_HINT = "run scripts/install-browser.sh (Debian's chromium + chromium-driver)"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip a browser test on a developer machine that lacks the browser; in CI, fail instead."""
    if in_ci():
        pytest.fail(f"{reason}. CI=true: the browser tests must run in CI, not be skipped.", pytrace=False)
    pytest.skip(reason)


def find_chromium() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.access(path, os.X_OK):
            return path
    return None


class ApiServer:
    """``airflow api-server`` on 127.0.0.1 in its own process group, sharing the session's Airflow home."""

    def __init__(self, log_path: Path, *, startup_timeout: float = 300.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ApiServer:
        env = airflow_env(
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",  # no login page
            AIRFLOW__CORE__TEST_CONNECTION="Enabled",  # the connections list's Test button
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "airflow", "api-server"),
                    *("--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"),
                ],
                env=env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends uvicorn's worker too
            )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"airflow api-server exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.3)
        raise RuntimeError(
            f"airflow api-server not healthy after {self.startup_timeout:g} s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # uvicorn's worker shares the group; make sure none is left behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "<no log>"

    # -- REST, for checking what the UI stored ----------------------------------------------------

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            raw = answer.read()
        return json.loads(raw) if raw else None
