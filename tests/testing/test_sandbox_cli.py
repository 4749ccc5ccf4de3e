"""The command line: python -m moengage_provider.testing.sandbox, config files, signals."""

from __future__ import annotations

import json
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import requests

from moengage_provider.testing import MoEngageSandbox, load_config
from moengage_provider.testing.sandbox import main
from tests.testing.sandbox_helpers import API_KEY, DOC_TRIGGER, SECRET_FORMS_OF, TRIGGER, WORKSPACE

LISTENING = "MoEngage sandbox listening on "


class CliRun:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moengage_provider.testing.sandbox", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr, False), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _pump(self, stream: IO[str], sink: list[str], announce: bool) -> None:
        for line in stream:
            sink.append(line)
            if announce:
                self.lines.put(line)
        if announce:
            self.lines.put(None)

    def wait_for_url(self, timeout: float = 10.0) -> str:
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"the CLI exited early: {''.join(self.stderr)}")
            if line.startswith(LISTENING):
                return line[len(LISTENING) :].strip()

    def finish(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=10)
        for thread in self._threads:
            thread.join(5)
        return code

    @property
    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)


@pytest.fixture
def cli_env() -> Iterator[dict[str, str]]:
    env = dict(os.environ)
    env.pop("MOENGAGE_SANDBOX_API_KEY", None)
    yield env


def test_cli_serves_prints_the_connection_and_stops_on_sigterm(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "events.json"
    config.write_text(
        json.dumps(
            {
                "events": {
                    "NewSeriesAlert": {
                        "attributes": {
                            "season": "string",
                            "episodes": "int",
                            "cast": "array",
                            "date": "date",
                        },
                        "active_campaign": True,
                    }
                },
                "hourly_limit": 5,
            }
        )
    )
    record_file = tmp_path / "triggers.jsonl"
    run = CliRun(
        [
            "--port",
            "0",
            "--workspace-id",
            WORKSPACE,
            "--config",
            str(config),
            "--strict",
            "--record-file",
            str(record_file),
        ],
        {**cli_env, "MOENGAGE_SANDBOX_API_KEY": API_KEY},
    )
    try:
        url = run.wait_for_url()
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        ok = requests.post(url + TRIGGER, json=DOC_TRIGGER, auth=(WORKSPACE, API_KEY), timeout=5)
        assert ok.status_code == 200, ok.text
        strict = requests.post(
            url + TRIGGER,
            json={"event_name": "Nope", "event_attributes": {}},
            auth=(WORKSPACE, API_KEY),
            timeout=5,
        )
        assert strict.status_code == 400
        assert requests.get(url + "/_sandbox/rate_limit", timeout=5).json()["hourly_limit"] == 5
        requests.post(url + TRIGGER, json=DOC_TRIGGER, auth=(WORKSPACE, "wrong"), timeout=5)
    finally:
        code = run.finish(signal.SIGTERM)
    assert code == 0, run.output
    assert "MoEngage sandbox stopped" in run.output
    stdout = "".join(run.stdout)
    [export] = [line for line in stdout.splitlines() if "export AIRFLOW_CONN_MOENGAGE_DEFAULT=" in line]
    conn = json.loads(shlex.split(export.strip().split("=", 1)[1])[0])
    assert conn == {
        "conn_type": "moengage",
        "host": "127.0.0.1",
        "port": int(url.rsplit(":", 1)[1]),
        "schema": "http",
        "login": WORKSPACE,
        "password": "<your sandbox api key>",
    }
    assert f"POST {TRIGGER} -> 200 event=NewSeriesAlert" in "".join(run.stderr)  # one log line per request
    [line] = record_file.read_text().splitlines()
    assert json.loads(line)["event_attributes"] == DOC_TRIGGER["event_attributes"]
    for secret in SECRET_FORMS_OF(WORKSPACE, API_KEY):
        assert secret not in run.output
        assert secret not in record_file.read_text()


def test_cli_api_key_flag_is_not_echoed_and_ctrl_c_exits_cleanly(cli_env: dict[str, str]) -> None:
    key = "flag-key-8d1e0b"
    run = CliRun(["--port", "0", "--workspace-id", "W", "--api-key", key, "--quiet"], cli_env)
    try:
        url = run.wait_for_url()
        assert requests.post(url + TRIGGER, json=DOC_TRIGGER, auth=("W", key), timeout=5).status_code == 200
    finally:
        code = run.finish(signal.SIGINT)
    assert code == 0, run.output
    for secret in SECRET_FORMS_OF("W", key):
        assert secret not in run.output
    assert "Traceback" not in run.output


def test_cli_refuses_a_non_loopback_host_and_a_missing_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOENGAGE_SANDBOX_API_KEY", API_KEY)
    with pytest.raises(SystemExit) as exc:
        main(["--host", "0.0.0.0", "--port", "0", "--workspace-id", "W"])
    assert exc.value.code == 2
    assert "--allow-remote" in capsys.readouterr().err
    monkeypatch.delenv("MOENGAGE_SANDBOX_API_KEY")
    with pytest.raises(SystemExit) as exc:
        main(["--port", "0", "--workspace-id", "W"])
    assert exc.value.code == 2
    assert "MOENGAGE_SANDBOX_API_KEY" in capsys.readouterr().err
    with pytest.raises(ValueError, match="allow_remote"):
        MoEngageSandbox("W", "K", host="0.0.0.0")


def test_config_files_json_and_yaml(tmp_path: Path) -> None:
    as_json = tmp_path / "c.json"
    as_json.write_text(
        json.dumps(
            {
                "events": {"NewSeriesAlert": {"attributes": {"season": "string"}, "active_campaign": False}},
                "permissive": False,
                "hourly_limit": 7,
                "hour_seconds": 2,
            }
        )
    )
    kwargs: dict[str, Any] = load_config(as_json)
    assert kwargs["hourly_limit"] == 7 and kwargs["permissive"] is False
    with MoEngageSandbox("W", "K", **kwargs) as sb:
        assert sb.events() == {
            "NewSeriesAlert": {"attributes": {"season": "string"}, "active_campaign": False}
        }
        assert sb.hour_seconds == 2.0

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hourly_limt": 3}))
    with pytest.raises(ValueError, match="hourly_limt"):
        load_config(bad)
    bad.write_text(json.dumps({"events": {"E": {"attributes": {"a": "bool"}}}}))
    with pytest.raises(ValueError, match="'bool'"):
        load_config(bad)

    pytest.importorskip("yaml")
    as_yaml = tmp_path / "c.yaml"
    as_yaml.write_text(
        "events:\n  PriceDrop:\n    attributes:\n      sku: string\n      price: float\n"
        "    active_campaign: true\npermissive: false\ndaily_limit: 9\n"
    )
    kwargs = load_config(as_yaml)
    assert kwargs["events"]["PriceDrop"]["attributes"] == {"sku": "string", "price": "float"}
    assert kwargs["daily_limit"] == 9
