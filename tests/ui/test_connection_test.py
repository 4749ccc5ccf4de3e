"""
``airflow connections test moengage_default`` against the sandbox, as a user runs it.

Each case is one real ``airflow`` process (AIRFLOW_CONN_MOENGAGE_DEFAULT in its environment, the
connection test enabled); the cases run side by side to keep the module to one CLI start-up's time.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from moengage_provider.testing import MoEngageSandbox
from tests.conftest import AIRFLOW_3_3_PLUS, REPO, airflow_env
from tests.ports import closed_port

WORKSPACE = "cli-workspace"
SEARCH_PATH = "/v1.0/business_event/search"
#: One ``airflow`` CLI start-up takes ~10 s of CPU; a loaded 2-core machine can make that minutes.
CLI_TIMEOUT = 600

# The module's processes start in the first test's set-up: give it the time a loaded machine needs.
pytestmark = pytest.mark.timeout(CLI_TIMEOUT + 300)


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        """stdout with whitespace flattened (rich wraps long lines at the terminal width)."""
        return " ".join(self.stdout.split())


@dataclass
class Sandboxes:
    ours: MoEngageSandbox  # the workspace's own data center
    other_data_center: MoEngageSandbox  # a data center that does not host the workspace
    dead_port: int  # nothing listens here


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    with (
        MoEngageSandbox(WORKSPACE, f"cli-key-{secrets.token_hex(6)}") as ours,
        MoEngageSandbox("someone-elses-workspace", f"other-{secrets.token_hex(6)}") as other,
    ):
        yield Sandboxes(ours, other, closed_port())


def _conn(sandbox: MoEngageSandbox, **changes: Any) -> dict[str, Any]:
    conn = {**json.loads(sandbox.airflow_conn_json()), "extra": json.dumps({"data_center": "DC-01"})}
    conn.update(changes)
    return conn


@pytest.fixture(scope="module")
def runs(airflow_db: Any, sandboxes: Sandboxes) -> dict[str, CliRun]:
    """Every case's ``airflow connections test`` result, one real process each."""
    ours = sandboxes.ours
    cases: dict[str, dict[str, Any] | str] = {
        "right": _conn(ours),
        # The URI form; the path is the schema, so http reaches the sandbox.
        "right_uri": f"moengage://{WORKSPACE}:{ours.api_key}@127.0.0.1:{ours.port}/http?data_center=DC-01",
        "wrong_key": _conn(ours, password="not-the-api-key"),
        "wrong_workspace": _conn(ours, login="no-such-workspace"),
        "wrong_data_center": _conn(sandboxes.other_data_center, login=WORKSPACE, password=ours.api_key),
        "unknown_data_center": _conn(ours, extra=json.dumps({"data_center": "DC-07"})),
        "unreachable": _conn(ours, port=sandboxes.dead_port),
        # Saved with workspace and key only: MoEngage is nowhere to be found.
        "nowhere": {"conn_type": "moengage", "login": WORKSPACE, "password": ours.api_key},
    }

    def run(conn: dict[str, Any] | str) -> CliRun:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "airflow", "connections", "test", "moengage_default"],
                env=airflow_env(
                    AIRFLOW_CONN_MOENGAGE_DEFAULT=conn if isinstance(conn, str) else json.dumps(conn),
                    AIRFLOW__CORE__TEST_CONNECTION="Enabled",
                    COLUMNS="400",
                ),
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=CLI_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"airflow connections test did not finish within {CLI_TIMEOUT} s", pytrace=False)
        return CliRun(done.returncode, done.stdout, done.stderr)

    # As many at a time as there are cores: more only makes each CLI start-up slower on a busy machine.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {name: pool.submit(run, conn) for name, conn in cases.items()}
        results = {name: future.result() for name, future in futures.items()}
    return results


#: ``airflow connections test`` exits 1 on a failed test from Airflow 3.3; before, it exits 0.
FAILED_TEST_EXIT = 1 if AIRFLOW_3_3_PLUS else 0


def _failed_with(run: CliRun, *parts: str) -> None:
    assert run.returncode == FAILED_TEST_EXIT, (run.stdout, run.stderr[-2000:])
    assert "Connection failed!" in run.text, run.stdout
    for part in parts:
        assert part in run.text, run.stdout


@pytest.mark.parametrize("case", ["right", "right_uri"])
def test_right_credentials_succeed(runs: dict[str, CliRun], case: str):
    run = runs[case]
    assert run.returncode == 0, (run.stdout, run.stderr[-2000:])
    assert "Connection success!" in run.text


def test_wrong_key_is_named(runs: dict[str, CliRun]):
    _failed_with(
        runs["wrong_key"],
        f"MoEngage rejected the API Key for workspace {WORKSPACE}",
        "not the Data API key",
    )


def test_wrong_workspace_is_named(runs: dict[str, CliRun], sandboxes: Sandboxes):
    _failed_with(
        runs["wrong_workspace"],
        f"MoEngage does not know workspace 'no-such-workspace' in 127.0.0.1:{sandboxes.ours.port}",
        "Check the Workspace ID and that the data center matches your dashboard URL.",
    )


def test_wrong_data_center_points_at_the_data_center(runs: dict[str, CliRun], sandboxes: Sandboxes):
    # MoEngage answers a workspace from another data center like an unknown workspace ("Invalid
    # APP_ID"), so the message names the host it asked and sends the user to the data center too.
    _failed_with(
        runs["wrong_data_center"],
        f"MoEngage does not know workspace '{WORKSPACE}' in 127.0.0.1:{sandboxes.other_data_center.port}",
        "the data center matches your dashboard URL",
    )


def test_unknown_data_center_lists_the_valid_ones(runs: dict[str, CliRun]):
    _failed_with(
        runs["unknown_data_center"],
        "data_center 'DC-07' is not a MoEngage data center",
        "DC-01 (US), DC-02 (EU), DC-03 (India), DC-04 (US), DC-05 (Singapore), DC-06 (Indonesia)",
    )


def test_unreachable_host_is_named(runs: dict[str, CliRun], sandboxes: Sandboxes):
    _failed_with(
        runs["unreachable"],
        f"Could not connect to MoEngage (POST {SEARCH_PATH} to 127.0.0.1:{sandboxes.dead_port})",
        "Connection refused",
        "nothing was sent",
        "Check the data center (or host) of the connection.",
    )


def test_no_data_center_and_no_host_names_the_fix(runs: dict[str, CliRun]):
    _failed_with(
        runs["nowhere"],
        "MoEngage connection 'moengage_default': set the data center (extra 'data_center', one of DC-01 (US),",
        "or a host (for a proxy or the local sandbox).",
    )


def test_only_the_read_only_search_was_called(runs: dict[str, CliRun], sandboxes: Sandboxes):
    ours, other = sandboxes.ours, sandboxes.other_data_center
    # right (JSON and URI), wrong key, wrong workspace: one search each; the unknown data center and the
    # connection without data center or host never left the process.
    assert sorted((r["method"], r["path"], r["status"]) for r in ours.requests) == [
        ("POST", SEARCH_PATH, 200),
        ("POST", SEARCH_PATH, 200),
        ("POST", SEARCH_PATH, 401),
        ("POST", SEARCH_PATH, 401),
    ]
    assert [(r["method"], r["path"], r["status"]) for r in other.requests] == [("POST", SEARCH_PATH, 401)]
    assert ours.triggers == [] and other.triggers == []
    assert ours.events() == {} and other.events() == {}  # nothing was created either
