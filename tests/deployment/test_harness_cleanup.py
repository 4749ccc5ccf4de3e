"""
The deployment's components run in sessions of their own, out of reach of a signal sent to pytest:
if pytest is terminated (CI's time limit) or exits before a fixture's stop(), the harness still
takes every component down. Proven with a stand-in component (``sleep``) in a child interpreter.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.deployment.harness import REPO

CHILD = """
import os, sys, threading, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tests.deployment.harness import Deployment, _install_orphan_guard
deployment = Deployment(Path(sys.argv[2]))
deployment._configure()
_install_orphan_guard()
component = deployment._popen("stand-in", ["sleep", "600"])
print(component.process.pid, flush=True)
if sys.argv[3] == "exit":
    sys.exit(0)
try:
    time.sleep(600)
except KeyboardInterrupt:
    # As execnet does to an interrupted worker that is still busy 10 s later: exit at once, no atexit.
    threading.Timer(10, os._exit, [1]).start()
    time.sleep(30)  # a fixture's graceful stop, slower than that
"""


def group_gone(pgid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


#: how -> (the signal the test sends the child, or None, and the environment it adds)
HOW = {
    "terminated": (signal.SIGTERM, {}),
    "exit": (None, {}),
    # A pytest-xdist worker whose controller is gone: execnet interrupts it, then exits it hard.
    "xdist-worker-interrupted": (signal.SIGINT, {"PYTEST_XDIST_WORKER": "gw0"}),
    # The same worker under a pytest started as a shell's background job: it inherits SIGINT ignored.
    "xdist-worker-of-a-background-job": (signal.SIGINT, {"PYTEST_XDIST_WORKER": "gw0"}),
}


def _as_a_background_job() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("how", list(HOW))
def test_components_do_not_outlive_pytest(tmp_path: Path, how: str):
    sent, env = HOW[how]
    stderr = tmp_path / "child-stderr.txt"
    with stderr.open("w") as err:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(REPO), str(tmp_path), how],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={**os.environ, **env},
            preexec_fn=_as_a_background_job if how.endswith("background-job") else None,
        )
    pgid = None
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip().isdigit(), f"the child did not start its component:\n{stderr.read_text()}"
        pgid = int(line)
        if sent is not None:
            child.send_signal(sent)
        code = child.wait(timeout=60)
        assert code == (-sent if sent is not None else 0)
        assert group_gone(pgid, within=15), f"the component's process group {pgid} outlived its pytest"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        if pgid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
