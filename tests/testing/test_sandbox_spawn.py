"""The one way to run a sandbox in another process: MoEngageSandbox.spawn / SpawnedSandbox."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests

from moengage_provider.testing import MoEngageSandbox, SandboxStartError, SpawnedSandbox
from tests.testing.sandbox_helpers import DOC_TRIGGER, TRIGGER


def test_spawn_runs_a_sandbox_process_and_stops_it_by_pid(tmp_path: Path) -> None:
    record = tmp_path / "t.jsonl"
    events = {"NewSeriesAlert": {"attributes": {"season": "string"}, "active_campaign": True}}
    with MoEngageSandbox.spawn(
        "W1", config={"events": events}, strict=True, hourly_limit=1, record_file=record
    ) as sb:
        pid = sb.pid
        assert pid != os.getpid() and sb.url == f"http://127.0.0.1:{sb.port}"
        conn = json.loads(sb.airflow_conn_json())
        assert conn == {
            "conn_type": "moengage",
            "host": "127.0.0.1",
            "port": sb.port,
            "schema": "http",
            "login": "W1",
            "password": sb.api_key,
        }
        assert sb.airflow_connection().uri() == f"moengage://W1:{sb.api_key}@127.0.0.1:{sb.port}/http"
        auth = ("W1", sb.api_key)
        body = {"event_name": "NewSeriesAlert", "event_attributes": {"season": "S1"}}
        assert requests.post(sb.url + TRIGGER, json=body, auth=auth, timeout=10).status_code == 200
        assert requests.post(sb.url + TRIGGER, json=body, auth=auth, timeout=10).status_code == 429  # limit 1
        assert (
            requests.post(sb.url + TRIGGER, json=DOC_TRIGGER, auth=auth, timeout=10).status_code == 400
        )  # strict
        assert [t["event_name"] for t in sb.triggers] == ["NewSeriesAlert"]
        assert [r["status"] for r in sb.rejected] == [429, 400]
        assert sb.api_key not in " ".join(sb.args)  # the key travels in the environment only
    assert sb.proc is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert len(record.read_text().splitlines()) == 1


def test_a_sandbox_that_cannot_start_says_why(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"hourly_limt": 5}')
    with pytest.raises(SandboxStartError) as failure:
        SpawnedSandbox("W", "secret-key-123", config=bad).start()
    message = str(failure.value)
    assert "exited with code 2" in message and "unknown config keys ['hourly_limt']" in message
    assert "secret-key-123" not in message


def test_the_wait_for_readiness_is_bounded(tmp_path: Path) -> None:
    silent = tmp_path / "silent-python"
    silent.write_text("#!/bin/sh\nexec sleep 60\n")
    silent.chmod(0o755)
    sandbox = SpawnedSandbox("W", python=str(silent), start_timeout=1)
    with pytest.raises(SandboxStartError, match="did not listen within 1 s"):
        sandbox.start()
    assert sandbox.proc is None  # stopped by its PID, not left behind


def test_unknown_options_are_refused_at_once() -> None:
    with pytest.raises(TypeError, match="unknown sandbox options \\['hourly'\\]"):
        SpawnedSandbox("W", hourly=5)
