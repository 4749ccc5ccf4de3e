"""Reruns, clears and unknown outcomes never send the same event twice, on every Airflow version.

Airflow 3.3+ keeps the delivery record in the task state store, older Airflow in a Variable
(moengage_provider.delivery.stores); the guarantee a user sees is the same.
"""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest

from tests.conftest import AIRFLOW_3_1_PLUS, AIRFLOW_3_3_PLUS
from tests.dagrun import run_airflow, run_dag

SOURCE = """
import datetime
from airflow.providers.common.compat.sdk import DAG
from moengage_provider.operators.business_event import TriggerBusinessEventOperator

with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False,
         params={{"season": "Season 1"}}) as dag:
    TriggerBusinessEventOperator(
        task_id="fire",
        event_name="NewSeriesAlert",
        event_attributes={{"season": "{{{{ params.season }}}}", "episodes": 10}},
        triggered_by="ops@example.com",
        retries=2,
        retry_delay=datetime.timedelta(seconds=0),
        {extra}
    )
"""


@pytest.fixture
def rerun_dag(dag_from_source):
    def make(extra: str = ""):
        dag_id = f"rerun_{uuid.uuid4().hex[:10]}"
        return dag_from_source(textwrap.dedent(SOURCE.format(dag_id=dag_id, extra=extra)), dag_id)

    return make


def clear_and_rerun(dag_id: str, run_id: str, *task_test_args: str) -> str:
    if not AIRFLOW_3_1_PLUS:  # 3.0's dag.test() leaves the DAG unserialized; `tasks clear` reads the DB.
        run_airflow("dags", "reserialize")
    run_airflow("tasks", "clear", "-y", "-t", "^fire$", dag_id)
    return run_airflow("tasks", "test", dag_id, "fire", run_id, *task_test_args)


def test_cleared_and_rerun_task_does_not_send_again(rerun_dag, moengage_sandbox):
    dag = rerun_dag()
    result = run_dag(dag)
    assert result.tasks["fire"][0] == "success"
    assert len(moengage_sandbox.triggers) == 1

    log = clear_and_rerun(dag.dag_id, result.run_id)
    assert len(moengage_sandbox.triggers) == 1
    assert "already delivered by this task instance" in log
    assert "deduplicate=False" in log


def test_changed_payload_is_sent_and_said_so(rerun_dag, moengage_sandbox):
    dag = rerun_dag()
    result = run_dag(dag)
    log = clear_and_rerun(dag.dag_id, result.run_id, "-t", json.dumps({"season": "Season 2"}))
    assert [t["event_attributes"]["season"] for t in moengage_sandbox.triggers] == ["Season 1", "Season 2"]
    assert "The payload changed since this task instance delivered" in log


def test_deduplicate_false_sends_again(rerun_dag, moengage_sandbox):
    dag = rerun_dag("deduplicate=False,")
    result = run_dag(dag)
    clear_and_rerun(dag.dag_id, result.run_id)
    assert len(moengage_sandbox.triggers) == 2


def test_retry_after_an_unknown_outcome_resends_by_default_and_says_why(rerun_dag, moengage_sandbox, capfd):
    moengage_sandbox.fail_next(500)
    result = run_dag(rerun_dag())
    assert result.tasks["fire"] == ("success", 2)
    assert len(moengage_sandbox.triggers) == 1
    log = "".join(capfd.readouterr())
    assert "may have delivered 'NewSeriesAlert'" in log
    assert "if_outcome_unknown='resend': sending again" in log


def test_unknown_outcome_skip_does_not_resend(rerun_dag, moengage_sandbox, capfd):
    moengage_sandbox.drop_next(accept=True)
    result = run_dag(rerun_dag('if_outcome_unknown="skip",'))
    assert result.tasks["fire"] == ("success", 2)
    # The dropped request was processed by the sandbox; the retry did not send a second one.
    assert len(moengage_sandbox.triggers) == 1
    assert len(moengage_sandbox.requests) == 1
    assert "if_outcome_unknown='skip': not sending again" in "".join(capfd.readouterr())


def test_unknown_outcome_fail_stops_for_a_human(rerun_dag, moengage_sandbox, capfd):
    moengage_sandbox.fail_next(504)
    result = run_dag(rerun_dag('if_outcome_unknown="fail",'))
    assert result.tasks["fire"] == ("failed", 2)
    assert "check MoEngage's campaign analytics" in "".join(capfd.readouterr())
    assert moengage_sandbox.triggers == []


def test_failure_known_to_deliver_nothing_leaves_no_doubt(rerun_dag, moengage_sandbox, capfd):
    moengage_sandbox.fail_next(503, count=3)  # the hook retries 503 itself, then Airflow retries
    result = run_dag(rerun_dag())
    assert result.tasks["fire"] == ("success", 2)
    log = "".join(capfd.readouterr())
    assert "may have delivered" not in log
    assert len(moengage_sandbox.triggers) == 1


@pytest.mark.skipif(AIRFLOW_3_3_PLUS, reason="Airflow 3.3+ has the task state store")
def test_without_a_task_state_store_the_record_is_a_variable_and_said_so(rerun_dag, moengage_sandbox):
    from airflow.models.variable import Variable

    from moengage_provider.delivery.stores import STORE_KEY, VariableStateStore

    dag = rerun_dag()
    result = run_dag(dag)
    log = clear_and_rerun(dag.dag_id, result.run_id)  # a fresh process: the warning is once per process
    assert len(moengage_sandbox.triggers) == 1
    assert "has no task state store (added in 3.3): the delivery record lives in an Airflow Variable" in log
    key = VariableStateStore(dag.dag_id, "fire", result.run_id).variable_key(STORE_KEY)
    record = json.loads(Variable.get(key))
    assert record["status"] == "delivered"
    assert record["event_name"] == "NewSeriesAlert"
