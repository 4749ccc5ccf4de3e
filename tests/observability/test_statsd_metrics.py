"""
Metrics through Airflow's own StatsD settings: a DAG runs in an ``airflow dags test`` process whose
``[metrics]`` config points at a UDP socket this test bound on 127.0.0.1, and the test reads what
arrives. Tags travel InfluxDB-style (``statsd_influxdb_enabled``), the one StatsD dialect with tags.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DAGS_FOLDER, REPO, airflow_env

#: Airflow puts its ``[metrics] statsd_prefix`` (set to ``airflow`` below) before every name.
PREFIX = "airflow.moengage.business_event."

SOURCE = """
import datetime
from airflow.providers.common.compat.sdk import DAG
from moengage_provider.operators.business_event import TriggerBusinessEventOperator


def fail_first_try_after_delivery(context, result):
    if context["ti"].try_number == 1:
        raise RuntimeError("this try fails after MoEngage took the event")


with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:
    common = dict(triggered_by="ops@example.com", retry_delay=datetime.timedelta(0))
    waited_then_unknown = TriggerBusinessEventOperator(
        task_id="waited_then_unknown", event_name="Restock Alert", event_attributes={{"sku": "A1"}},
        retries=1, **common,
    )
    delivered_then_rerun = TriggerBusinessEventOperator(
        task_id="delivered_then_rerun", event_name="PriceDrop", event_attributes={{"sku": "B2"}},
        retries=1, post_execute=fail_first_try_after_delivery, **common,
    )
    refused = TriggerBusinessEventOperator(
        task_id="refused", event_name="PriceDrop", event_attributes={{"sku": "C3"}},
        moengage_conn_id="moengage_wrong_key", retries=0, **common,
    )
    waited_then_unknown >> delivered_then_rerun >> refused
"""


class StatsdListener:
    """A UDP socket on 127.0.0.1 (ephemeral port); a thread reads it as lines arrive (no kernel-buffer overflow)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.lines.extend(line for line in data.decode("utf-8", "replace").splitlines() if line)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def drain(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def ours(self) -> list[dict]:
        """Our metrics, parsed: ``name,tag=v,...:value|type``."""
        parsed = []
        for line in self.drain():
            if not line.startswith(PREFIX):
                continue
            head, _, rest = line.partition(":")
            value, _, kind = rest.partition("|")
            name, *tags = head.split(",")
            parsed.append(
                {
                    "name": name[len(PREFIX) :],
                    "tags": dict(tag.split("=", 1) for tag in tags),
                    "value": float(value),
                    "type": kind.split("|")[0],
                }
            )
        return parsed


@pytest.fixture
def statsd() -> Iterator[StatsdListener]:
    listener = StatsdListener()
    try:
        yield listener
    finally:
        listener.close()


def run_dag_test(dag_id: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", dag_id],
        env=airflow_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def metrics_env(port: int) -> dict[str, str]:
    return {
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(port),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        "AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": "True",
    }


def test_outcomes_arrive_as_statsd_metrics_tagged_by_event_and_data_center(
    airflow_db: Path, moengage_sandbox, monkeypatch, statsd: StatsdListener
):
    wrong_key = "wrong-" + uuid.uuid4().hex
    conn = json.loads(moengage_sandbox.airflow_conn_json())
    monkeypatch.setenv("AIRFLOW_CONN_MOENGAGE_WRONG_KEY", json.dumps({**conn, "password": wrong_key}))
    dag_id = f"metrics_{uuid.uuid4().hex[:10]}"
    (DAGS_FOLDER / f"{dag_id}.py").write_text(textwrap.dedent(SOURCE.format(dag_id=dag_id)))
    # The first task's first request is refused for the rate limit (retry after 1 s); its second
    # gets a 500, an unknown outcome: the retry resends.
    moengage_sandbox.fail_next(429, headers={"Retry-After": "1"})
    moengage_sandbox.fail_next(500)

    result = run_dag_test(dag_id, **metrics_env(statsd.port))

    output = result.stdout + result.stderr
    assert [t["event_name"] for t in moengage_sandbox.triggers] == ["Restock Alert", "PriceDrop"], output[
        -3000:
    ]
    # The listener may still be receiving: wait (bounded) for the last metric the run sends.
    deadline = time.monotonic() + 10
    metrics = statsd.ours()
    while not any(m["name"] == "client_error" for m in metrics) and time.monotonic() < deadline:
        time.sleep(0.05)
        metrics = statsd.ours()

    def count(name: str, **tags: str) -> int:
        return sum(
            int(m["value"])
            for m in metrics
            if m["name"] == name and m["type"] == "c" and tags.items() <= m["tags"].items()
        )

    restock = {"event_name": "Restock_Alert", "data_center": "custom_host"}
    price_drop = {"event_name": "PriceDrop", "data_center": "custom_host"}
    assert count("rate_limited", **restock) == 1, metrics
    assert count("outcome_unknown", **restock) == 1
    assert count("unknown_resolved", **restock, resolution="resend") == 1
    assert count("delivered", **restock) == 1
    assert count("delivered", **price_drop) == 1
    assert count("deduplicated", **price_drop, reason="rerun") == 1
    assert count("client_error", **price_drop, status="401") == 1
    assert count("client_error") == 1 and count("delivered") == 2

    waits = [m for m in metrics if m["name"] == "rate_limit_wait"]
    assert len(waits) == 1 and waits[0]["type"] == "ms"
    # Retry-After: 1 names a moment, one second after the answer arrived: the wait, from when the task
    # decided it, is that second less the moments the task took to read the answer, plus at most 5%.
    assert 800 <= waits[0]["value"] <= 1050
    durations = [
        (m["tags"]["event_name"], m["tags"]["outcome"]) for m in metrics if m["name"] == "request_duration"
    ]
    assert sorted(durations) == sorted(
        [
            ("Restock_Alert", "rate_limited"),
            ("Restock_Alert", "unknown"),
            ("Restock_Alert", "delivered"),
            ("PriceDrop", "delivered"),
            ("PriceDrop", "client_error"),
        ]
    )
    assert all(m["type"] == "ms" and m["value"] >= 0 for m in metrics if m["name"] == "request_duration")

    # No secret in any form, in anything that reached the metrics backend.
    everything = "\n".join(statsd.drain())
    for key in (moengage_sandbox.api_key, wrong_key):
        pair = f"{moengage_sandbox.workspace_id}:{key}"
        for secret in (key, pair, base64.b64encode(pair.encode()).decode()):
            assert secret not in everything
