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
import sys, time
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
time.sleep(600)
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


@pytest.mark.parametrize("how", ["terminated", "exit"])
def test_components_do_not_outlive_pytest(tmp_path: Path, how: str):
    stderr = tmp_path / "child-stderr.txt"
    with stderr.open("w") as err:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(REPO), str(tmp_path), how],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    pgid = None
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip().isdigit(), f"the child did not start its component:\n{stderr.read_text()}"
        pgid = int(line)
        if how == "terminated":
            child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=60)
        assert code == (-signal.SIGTERM if how == "terminated" else 0)
        assert group_gone(pgid, within=15), f"the component's process group {pgid} outlived its pytest"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        if pgid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
