"""
``if_outcome_unknown="check"`` resolving an unknown outcome in the same try, and ``idempotency_key``
across task instances, on real Airflow (``dag.test()``, SQLite) against the sandbox. The killed-worker
cases run on a real deployment in tests/deployment.
"""

from __future__ import annotations

import textwrap
import uuid

import pytest

from tests.conftest import requires_airflow_3_3
from tests.dagrun import run_dag

EVENTS = {"NewSeriesAlert": {"attributes": {"season": "string", "episodes": "int"}}}
pytestmark = [requires_airflow_3_3, pytest.mark.moengage_sandbox(permissive=False, events=EVENTS)]

SOURCE = """
import datetime
from airflow.sdk import DAG
from moengage_provider.operators.business_event import TriggerBusinessEventOperator

with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False,
         params={{"season": "Season 1"}}) as dag:
    TriggerBusinessEventOperator(
        task_id="fire",
        event_name="NewSeriesAlert",
        event_attributes={{"season": "{{{{ params.season }}}}", "episodes": 10}},
        retries=1,
        retry_delay=datetime.timedelta(seconds=0),
        check_settle_delay=datetime.timedelta(seconds=0),
        {extra}
    )
"""


@pytest.fixture
def make_dag(dag_from_source):
    def make(extra: str):
        dag_id = f"once_{uuid.uuid4().hex[:10]}"
        return dag_from_source(textwrap.dedent(SOURCE.format(dag_id=dag_id, extra=extra)), dag_id)

    return make


def test_check_sees_the_lost_answer_was_delivered_and_does_not_resend(make_dag, moengage_sandbox, capfd):
    """MoEngage took the event, the answer was lost: one more on the counter -> delivered, one try."""
    moengage_sandbox.drop_next(path="/v1.0/business_event/trigger", accept=True)
    result = run_dag(make_dag('if_outcome_unknown="check",'))
    assert result.tasks["fire"] == ("success", 1)
    assert len(moengage_sandbox.triggers) == 1
    assert "delivered (MoEngage's counters" in result.xcom["fire"]["outcome"]
    assert "case 'one more, one send in flight'" in capfd.readouterr().out


def test_check_sees_nothing_arrived_and_sends_in_the_same_try(make_dag, moengage_sandbox, capfd):
    """A 500 that MoEngage did not process: counters unchanged -> not delivered -> sent, same try."""
    moengage_sandbox.fail_next(500, path="/v1.0/business_event/trigger")
    result = run_dag(make_dag('if_outcome_unknown="check",'))
    assert result.tasks["fire"] == ("success", 1)
    assert len(moengage_sandbox.triggers) == 1
    assert "case 'unchanged'" in capfd.readouterr().out


@pytest.mark.moengage_sandbox(permissive=False, events=EVENTS, api_version="api-v5")
def test_under_v5_the_check_reads_the_v5_counters(make_dag, moengage_sandbox, capfd):
    """The same lost answer under API V5: its list endpoint's trigger_count settles it, one request ID."""
    moengage_sandbox.drop_next(path="/v5/business-events/triggers", accept=True)
    result = run_dag(make_dag('if_outcome_unknown="check", triggered_by="ops@example.com",'))
    assert result.tasks["fire"] == ("success", 1)
    assert len(moengage_sandbox.triggers) == 1
    assert "case 'one more, one send in flight'" in capfd.readouterr().out
    reads = [r["path"] for r in moengage_sandbox.requests if r["method"] == "GET"]
    assert reads == ["/v5/business-events?name=NewSeriesAlert&limit=20"] * 2


def test_unreadable_counters_fall_back_to_fail_by_default(make_dag, moengage_sandbox, capfd):
    moengage_sandbox.drop_next(path="/v1.0/business_event/trigger", accept=True)
    moengage_sandbox.fail_next(500, path="/v1.0/business_event/search", count=10)
    result = run_dag(make_dag('if_outcome_unknown="check",'))
    assert result.tasks["fire"][0] == "failed"
    assert len(moengage_sandbox.triggers) == 1
    out = capfd.readouterr().out
    assert "case 'unreadable'" in out and "if_check_inconclusive='fail'" in out


def test_same_key_and_payload_in_a_later_run_skips_naming_the_earlier_run(make_dag, moengage_sandbox, capfd):
    dag = make_dag('idempotency_key="season-{{ params.season }}",')
    first = run_dag(dag)
    second = run_dag(dag)
    assert first.tasks["fire"][0] == "success" and second.tasks["fire"][0] == "skipped"
    assert len(moengage_sandbox.triggers) == 1
    out = capfd.readouterr().out
    assert "already announced under idempotency_key 'season-Season 1'" in out and first.run_id in out


def test_a_new_key_announces_again(make_dag, moengage_sandbox):
    dag = make_dag('idempotency_key="season-{{ params.season }}-{{ run_id }}",')
    run_dag(dag)
    run_dag(dag)
    assert len(moengage_sandbox.triggers) == 2


def test_changed_payload_under_the_same_key_fails_and_sends_nothing(make_dag, moengage_sandbox, capfd):
    dag = make_dag('idempotency_key="the-season-announcement",')
    run_dag(dag)
    second = run_dag(dag, run_conf={"season": "Season 2"})
    assert second.tasks["fire"][0] == "failed"
    assert [t["event_attributes"]["season"] for t in moengage_sandbox.triggers] == ["Season 1"]
    assert "use a new key" in capfd.readouterr().out


def test_idempotency_key_needs_a_literal_event_name(dag_from_source):
    source = textwrap.dedent(SOURCE.format(dag_id="once_templated", extra='idempotency_key="k",')).replace(
        'event_name="NewSeriesAlert"', 'event_name="{{ params.season }}"'
    )
    with pytest.raises(ValueError, match="idempotency_key needs a literal event_name"):
        dag_from_source(source, "once_templated")
