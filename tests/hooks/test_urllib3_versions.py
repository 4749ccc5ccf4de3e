"""
A refused connection and a failed name lookup mean the same on urllib3 1.26 and 2.x: nothing was
sent, the hook sends again, and the error says so.

``requests`` allows urllib3 1.26, which lacks some of 2.x's exception classes; the hook must not
depend on them. The venvs of the suite have urllib3 2.x, so ``urllib3_probe.py`` runs here in-process,
and as a script in a side venv (``.venv-urllib3-1.26-<hash>``) that uv builds from uv.lock with only
urllib3 moved below 2: built once, then reused by every run (the matrix's too) until uv.lock changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.hooks import urllib3_probe

#: What the hook does with a request that certainly never left (the outcome table's first failure row),
#: written out here rather than read from that table: 3 sends, then an error saying nothing was sent.
SENDS_WHEN_NOT_SENT = 3

pytestmark = pytest.mark.timeout(600)  # the first build of the side venv downloads urllib3 1.26


def _uv() -> str:
    found = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv is needed to build the urllib3 1.26 venv: run `make install` first")
    return found


def _locked_versions_but_urllib3(uv: str) -> str:
    """The project's dependencies as uv.lock pins them, without urllib3."""
    export = subprocess.run(
        [
            uv,
            "export",
            "--frozen",
            "--no-dev",
            "--no-hashes",
            "--no-emit-project",
            "--no-header",
            "--no-annotate",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return "".join(line + "\n" for line in export.splitlines() if not line.startswith("urllib3=="))


@contextlib.contextmanager
def _urllib3_1_26_python() -> Iterator[Path]:
    """The side venv's interpreter, built if needed; locked so that no other test run removes it meanwhile."""
    uv = _uv()
    constraints = _locked_versions_but_urllib3(uv)
    recipe = hashlib.sha256((constraints + sys.version).encode()).hexdigest()[:12]
    venv = REPO / f".venv-urllib3-1.26-{recipe}"
    python = venv / "bin" / "python"
    built = venv / ".built"
    with open(REPO / ".venv-urllib3-1.26.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            for stale in REPO.glob(".venv-urllib3-1.26-*"):  # built for an older uv.lock
                shutil.rmtree(stale)
            quiet = ["--no-config", "--quiet"]
            subprocess.run([uv, "venv", *quiet, "--python", sys.executable, str(venv)], check=True)
            pinned = venv / "constraints.txt"
            pinned.write_text(constraints)
            install = [uv, "pip", "install", *quiet, "--python", str(python), "-c", str(pinned)]
            subprocess.run([*install, "-e", str(REPO), "urllib3<2"], check=True, cwd=REPO)
            built.touch()
        fcntl.flock(lock, fcntl.LOCK_SH)  # other runs may use it too, none may rebuild it
        yield python


def _probe(python: Path, tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env |= {
        "AIRFLOW_HOME": str(tmp_path),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    done = subprocess.run(
        [str(python), "-m", urllib3_probe.__name__],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("urllib3_line", ["1.26", "this venv's"])
def test_refused_and_unresolvable_are_resent_then_say_nothing_was_sent(urllib3_line, tmp_path):
    if urllib3_line == "1.26":
        with _urllib3_1_26_python() as python:
            probe = _probe(python, tmp_path)
        assert probe["urllib3"].startswith("1.26."), probe
    else:
        probe = urllib3_probe.run_cases()
    expected_words = {"refused": "Connection refused", "dns": "Name or service not known"}
    for case, words in expected_words.items():
        result = probe["cases"][case]
        assert result["raised"] == "MoEngageConnectionError", (case, result)
        assert result["failure"] == case, (case, result)
        assert result["outcome_unknown"] is False, (case, result)
        assert result["sends"] == SENDS_WHEN_NOT_SENT, (case, result)
        assert result["message"].startswith("Could not connect to MoEngage (POST "), (case, result)
        assert result["message"].endswith(f"{words}; nothing was sent."), (case, result)
