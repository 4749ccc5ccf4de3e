"""
The API key, ``workspace_id:api_key`` and its base64 Authorization value never leak: not in task
logs (DEBUG logging of requests/urllib3 included), exceptions, XCom, rendered template fields, or
anything the sandbox prints or records.
"""

from __future__ import annotations

import base64
import json
import logging
import textwrap
import uuid

import pytest

from moengage_provider.testing import MoEngageSandbox
from tests.conftest import DAGS_FOLDER, REPO, airflow_env

WORKSPACE = "LEAKCHECK-WS"
API_KEY = "k3y-that-must-never-leak-9f2c"
WRONG_KEY = "wrong-k3y-also-secret-77ab"


def secret_forms(key: str) -> list[str]:
    pair = f"{WORKSPACE}:{key}"
    return [key, pair, base64.b64encode(pair.encode()).decode()]


DAG_SOURCE = """
import datetime
from airflow.providers.common.compat.sdk import DAG
from moengage_provider.operators.business_event import TriggerBusinessEventOperator

with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:
    common = dict(event_name="NewSeriesAlert", event_attributes={{"season": "Season 1", "episodes": 12}},
                  triggered_by="ops@example.com", trigger_rule="all_done", retries=0, deferrable=False)
    ok = TriggerBusinessEventOperator(task_id="ok", **common)
    unauthorized = TriggerBusinessEventOperator(task_id="unauthorized", moengage_conn_id="moengage_badkey", **common)
    limited = TriggerBusinessEventOperator(task_id="limited", moengage_conn_id="moengage_limited",
                                           max_rate_limit_wait=datetime.timedelta(seconds=1), **common)
    broken = TriggerBusinessEventOperator(task_id="broken", moengage_conn_id="moengage_broken", **common)
    ok >> unauthorized >> limited >> broken
"""


def conn(sandbox: MoEngageSandbox, key: str) -> str:
    return json.dumps({"conn_type": "moengage", "host": sandbox.url, "login": WORKSPACE, "password": key})


@pytest.mark.timeout(600)
def test_no_secret_form_anywhere_after_a_debug_logged_run(airflow_db, caplog):
    import subprocess
    import sys

    caplog.set_level(logging.DEBUG)
    dag_id = f"leakcheck_{uuid.uuid4().hex[:8]}"
    (DAGS_FOLDER / f"{dag_id}.py").write_text(textwrap.dedent(DAG_SOURCE.format(dag_id=dag_id)))
    with (
        MoEngageSandbox(WORKSPACE, API_KEY) as good,
        MoEngageSandbox(WORKSPACE, API_KEY, hourly_limit=0, hour_seconds=3600) as limited,
        MoEngageSandbox(WORKSPACE, API_KEY) as broken,
    ):
        broken.fail_next(500, count=10)
        env = airflow_env(
            AIRFLOW__LOGGING__LOGGING_LEVEL="DEBUG",
            AIRFLOW_CONN_MOENGAGE_DEFAULT=conn(good, API_KEY),
            AIRFLOW_CONN_MOENGAGE_BADKEY=conn(good, WRONG_KEY),
            AIRFLOW_CONN_MOENGAGE_LIMITED=conn(limited, API_KEY),
            AIRFLOW_CONN_MOENGAGE_BROKEN=conn(broken, API_KEY),
        )
        run = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "test", dag_id],
            env=env,
            capture_output=True,
            text=True,
            timeout=500,
            cwd=REPO,
        )
        sandbox_records = json.dumps(
            [
                sb.triggers + sb.rejected + [{**r, "body": r["body"].decode()} for r in sb.requests]
                for sb in (good, limited, broken)
            ],
            default=str,
        )
    output = run.stdout + run.stderr
    # The run happened as designed: one success, then 401, 429 and 500 failures.
    assert len(good.triggers) == 1, output[-3000:]
    assert [r["status"] for r in good.rejected] == [401]
    assert [r["status"] for r in limited.rejected] == [429]
    assert [r["status"] for r in broken.rejected] == [500]
    assert "urllib3.connectionpool" in output or "Starting new HTTP connection" in output  # DEBUG was on

    # Airflow 3.3.2's in-process runner logs its own MaskSecret(value=...) request to the supervisor at
    # DEBUG; that line is Airflow's, outside our control, and is the only line excluded.
    log_lines = [line for line in output.splitlines() if "MaskSecret(value=" not in line]
    task_logs = (
        [p.read_text(errors="replace") for p in (airflow_db / "logs").rglob("*") if p.is_file()]
        if (airflow_db / "logs").exists()
        else []
    )
    stored = _stored_values(dag_id)
    haystacks = {
        "task log output": "\n".join(log_lines),
        "task log files": "\n".join(task_logs),
        "XCom and rendered template fields": stored,
        "sandbox records": sandbox_records,
        "sandbox log": caplog.text,
    }
    assert "Business event" in stored or "NewSeriesAlert" in stored  # the DB rows were really read
    for key in (API_KEY, WRONG_KEY):
        for form in secret_forms(key):
            for where, text in haystacks.items():
                leaked = form in text  # a bool, so a failure message never prints the secret itself
                assert not leaked, f"a secret form ({len(form)} chars) leaked into {where}"


def _stored_values(dag_id: str) -> str:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    from tests.dagrun import xcom_table

    XComModel, value_of = xcom_table()
    with create_session() as session:
        xcoms = [value_of(row) for row in session.query(XComModel).filter_by(dag_id=dag_id).all()]
        rendered = [
            row.rendered_fields
            for row in session.query(RenderedTaskInstanceFields).filter_by(dag_id=dag_id).all()
        ]
    assert rendered, "no rendered template fields were stored"
    return json.dumps({"xcom": xcoms, "rendered": rendered}, default=str)
