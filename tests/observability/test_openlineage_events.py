"""
Lineage through the OpenLineage provider, for real: DAGs run in an ``airflow dags test`` process with
the provider's file transport, and the test parses the events it wrote. The sample DAG shows
"catalog table -> business event"; the facet says what was sent (names and JSON types, values only
on opt-in) and what came of it; no secret appears in any form.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DAGS_FOLDER, REPO, airflow_env

pytest.importorskip(
    "airflow.providers.openlineage", reason="needs apache-airflow-providers-openlineage (the extra)"
)

DATA = REPO / "dags" / "data"
DECLARED_EVENTS = json.loads((DATA / "moengage_events.json").read_text())["events"]
FACET = "moengage_businessEvent"


def run_with_openlineage(dag_id: str, events_file: Path) -> str:
    """``airflow dags test`` with OpenLineage writing every event to ``events_file``."""
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", dag_id],
        env=airflow_env(AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(transport)),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    return result.stdout + result.stderr


def task_events(events_file: Path, job_name: str) -> dict[str, dict[str, Any]]:
    """The task's events by type (START, COMPLETE, FAIL), parsed from the file transport's lines."""
    assert events_file.exists(), "OpenLineage wrote no event at all"
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    return {e["eventType"]: e for e in events if e["job"]["name"] == job_name}


def assert_no_secret(text: str, workspace_id: str, *keys: str) -> None:
    for key in keys:
        pair = f"{workspace_id}:{key}"
        for form in (key, pair, base64.b64encode(pair.encode()).decode()):
            assert form not in text


def json_type(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}[type(value)]


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "catalog.db"
    monkeypatch.setenv("AIRFLOW_CONN_CATALOG_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return path


@pytest.mark.moengage_sandbox(permissive=False, events=DECLARED_EVENTS)
def test_sample_dag_lineage_runs_from_the_catalog_table_to_the_business_event(
    sample_dags_folder: Path, catalog: Path, moengage_sandbox, tmp_path: Path
):
    events_file = tmp_path / "openlineage.jsonl"
    output = run_with_openlineage("moengage_load_then_announce", events_file)

    assert [t["event_name"] for t in moengage_sandbox.triggers] == ["NewTitlesAdded"], output[-3000:]
    sent = moengage_sandbox.triggers[0]["event_attributes"]
    events = task_events(events_file, "moengage_load_then_announce.announce_new_titles")
    complete = events["COMPLETE"]

    assert [(d["namespace"], d["name"]) for d in complete["inputs"]] == [
        ("catalog://catalog_db", "new_titles")
    ]
    (event,) = complete["outputs"]
    assert event["namespace"] == f"moengage://127.0.0.1:{moengage_sandbox.port}"
    assert event["name"] == "sandbox-workspace/business_events/NewTitlesAdded"
    fields = {f["name"]: f["type"] for f in event["facets"]["schema"]["fields"]}
    assert fields == {name: json_type(value) for name, value in sent.items()}

    facet = complete["run"]["facets"][FACET]
    assert facet["outcome"] == "delivered"
    assert facet["eventName"] == "NewTitlesAdded"
    assert facet["workspaceId"] == "sandbox-workspace"
    assert facet["attributes"] == fields
    assert facet.get("attributeValues") is None  # values only when the task opts in
    for value in sent.values():
        if isinstance(value, str):
            assert json.dumps(value) not in json.dumps(complete)
    assert_no_secret(events_file.read_text(), moengage_sandbox.workspace_id, moengage_sandbox.api_key)


@pytest.mark.moengage_sandbox(permissive=False, events=DECLARED_EVENTS)
def test_the_notifier_shows_the_event_as_an_output_of_the_task_it_is_attached_to(
    sample_dags_folder: Path, moengage_sandbox, tmp_path: Path
):
    events_file = tmp_path / "openlineage.jsonl"
    output = run_with_openlineage("moengage_notify_price_list", events_file)

    assert [t["event_name"] for t in moengage_sandbox.triggers] == ["PriceListPublished"], output[-3000:]
    sent = moengage_sandbox.triggers[0]["event_attributes"]
    complete = task_events(events_file, "moengage_notify_price_list.publish_price_list")["COMPLETE"]
    (event,) = [d for d in complete["outputs"] if d["namespace"].startswith("moengage://")]
    assert event["namespace"] == f"moengage://127.0.0.1:{moengage_sandbox.port}"
    assert event["name"] == "sandbox-workspace/business_events/PriceListPublished"
    fields = {f["name"]: f["type"] for f in event["facets"]["schema"]["fields"]}
    assert fields == {name: json_type(value) for name, value in sent.items()}
    assert_no_secret(events_file.read_text(), moengage_sandbox.workspace_id, moengage_sandbox.api_key)


SOURCE = """
import datetime
from airflow.providers.common.compat.sdk import DAG, Asset
from moengage_provider.operators.business_event import TriggerBusinessEventOperator

with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:
    opted_in = TriggerBusinessEventOperator(
        task_id="opted_in", event_name="PriceDrop", event_attributes={{"sku": "B2", "price": 9.5}},
        lineage_include_values=True, inlets=[Asset(uri="file:///data/prices.csv")],
    )
    refused = TriggerBusinessEventOperator(
        task_id="refused", event_name="PriceDrop", event_attributes={{"sku": "C3"}},
        moengage_conn_id="moengage_wrong_key", retries=0,
    )
    opted_in >> refused
"""


def test_values_only_on_opt_in_and_a_refusal_carries_status_and_request_id(
    airflow_db: Path, moengage_sandbox, monkeypatch, tmp_path: Path
):
    wrong_key = "wrong-" + uuid.uuid4().hex
    conn = json.loads(moengage_sandbox.airflow_conn_json())
    monkeypatch.setenv("AIRFLOW_CONN_MOENGAGE_WRONG_KEY", json.dumps({**conn, "password": wrong_key}))
    dag_id = f"lineage_{uuid.uuid4().hex[:10]}"
    (DAGS_FOLDER / f"{dag_id}.py").write_text(textwrap.dedent(SOURCE.format(dag_id=dag_id)))
    events_file = tmp_path / "openlineage.jsonl"

    output = run_with_openlineage(dag_id, events_file)

    assert len(moengage_sandbox.triggers) == 1, output[-3000:]
    opted_in = task_events(events_file, f"{dag_id}.opted_in")["COMPLETE"]
    assert [(d["namespace"], d["name"]) for d in opted_in["inputs"]] == [("file", "/data/prices.csv")]
    facet = opted_in["run"]["facets"][FACET]
    assert facet["attributeValues"] == {"sku": "B2", "price": 9.5}
    assert facet["attributes"] == {"sku": "string", "price": "number"}

    failed = task_events(events_file, f"{dag_id}.refused")["FAIL"]
    (rejection,) = moengage_sandbox.rejected
    facet = failed["run"]["facets"][FACET]
    assert (facet["outcome"], facet["httpStatus"]) == ("client_error", 401)
    assert facet["requestId"] == rejection["request_id"]
    assert failed["outputs"][0]["name"] == "sandbox-workspace/business_events/PriceDrop"
    assert_no_secret(
        events_file.read_text(), moengage_sandbox.workspace_id, moengage_sandbox.api_key, wrong_key
    )
