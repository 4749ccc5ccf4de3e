"""The notifier fires from callbacks; the extra link points at the right data center's dashboard."""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest

from moengage_provider.notifications.moengage import (
    MoEngageBusinessEventNotifier,
    send_moengage_business_event,
)
from tests.dagrun import run_dag

SOURCE = """
import datetime
from airflow.providers.common.compat.sdk import DAG, task
from moengage_provider.notifications.moengage import send_moengage_business_event

with DAG(
    "{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False,
    on_success_callback=send_moengage_business_event(
        event_name="PipelineDone", event_attributes={{"dag": "{{{{ dag.dag_id }}}}", "tasks": 1}},
    ),
) as dag:
    @task(on_failure_callback=send_moengage_business_event(
        event_name="LoadFailed",
        event_attributes='{{"task": "{{{{ ti.task_id }}}}", "try": {{{{ ti.try_number }}}}}}',
        triggered_by="oncall@example.com",
    ))
    def load():
        {load_body}

    load()
"""


def make_source(dag_id: str, load_body: str) -> str:
    return textwrap.dedent(SOURCE).format(dag_id=dag_id, load_body=load_body)


def test_alias_is_the_notifier():
    assert send_moengage_business_event is MoEngageBusinessEventNotifier
    assert {"event_name", "event_attributes", "triggered_by"} <= set(
        MoEngageBusinessEventNotifier.template_fields
    )


def test_task_failure_callback_fires_a_templated_event(dag_from_source, moengage_sandbox):
    dag_id = f"notify_{uuid.uuid4().hex[:8]}"
    dag = dag_from_source(make_source(dag_id, 'raise RuntimeError("load broke")'), dag_id)
    result = run_dag(dag)
    assert result.tasks["load"][0] == "failed"
    failed = [t for t in moengage_sandbox.triggers if t["event_name"] == "LoadFailed"]
    assert len(failed) == 1
    assert failed[0]["event_attributes"] == {"task": "load", "try": 1}
    assert failed[0]["triggered_by"] == "oncall@example.com"


def test_dag_success_callback_fires(dag_from_source, moengage_sandbox):
    dag_id = f"notify_{uuid.uuid4().hex[:8]}"
    dag = dag_from_source(make_source(dag_id, "return 1"), dag_id)
    assert run_dag(dag).state == "success"
    assert [t["event_name"] for t in moengage_sandbox.triggers] == ["PipelineDone"]
    assert moengage_sandbox.triggers[0]["event_attributes"] == {"dag": dag_id, "tasks": 1}


def test_notifier_validates_like_the_operator(moengage_sandbox):
    from moengage_provider.exceptions import MoEngageValidationError

    notifier = MoEngageBusinessEventNotifier(event_name="E", event_attributes={"bad": {"nested": 1}})
    with pytest.raises(MoEngageValidationError, match=r"event_attributes\.bad: is a nested object"):
        notifier.notify({})  # type: ignore[arg-type]
    assert moengage_sandbox.requests == []


LINK_DAG = """
import datetime
from airflow.providers.common.compat.sdk import DAG
from moengage_provider.operators.business_event import (
    CreateBusinessEventOperator, TriggerBusinessEventOperator,
)

with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:
    CreateBusinessEventOperator(
        task_id="create", event_name="E", attribute_types={{"a": "int"}}, created_by="ops@example.com",
    ) >> TriggerBusinessEventOperator(task_id="fire", event_name="E", event_attributes={{"a": 1}})
"""


def links_as_the_webserver_shows_them(dag, run_id: str, link_name: str) -> dict[str, str | None]:
    """
    Task ID -> the link's address, built as the webserver builds it: from the DAG as serialized to the
    database (Airflow 2: the link class on an operator without hook nor connection; Airflow 3: the
    address the worker stored) and the task instance's row.
    """
    from airflow.models.taskinstance import TaskInstance
    from airflow.serialization import serialized_objects
    from airflow.utils.session import create_session

    # Airflow 3.2+ names the codec DagSerialization (SerializedDAG is then the scheduler's DAG).
    codec = getattr(serialized_objects, "DagSerialization", serialized_objects.SerializedDAG)
    served = codec.from_dict(codec.to_dict(dag))
    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=run_id).all()
        return {ti.task_id: served.get_task(ti.task_id).get_extra_links(ti, link_name) or None for ti in tis}


@pytest.mark.moengage_sandbox(permissive=False)
@pytest.mark.parametrize(
    ("data_center", "expected"),
    [("dc-02", "https://dashboard-02.moengage.com/v4/#/campaigns"), (None, None)],
)
def test_dashboard_link_follows_the_connection(
    dag_from_source, moengage_sandbox, monkeypatch, data_center, expected
):
    fields = json.loads(moengage_sandbox.airflow_conn_json())
    if data_center:
        fields["extra"] = {"data_center": data_center}  # host still wins for requests: the sandbox
    monkeypatch.setenv("AIRFLOW_CONN_MOENGAGE_DEFAULT", json.dumps(fields))
    dag_id = f"link_{uuid.uuid4().hex[:8]}"
    dag = dag_from_source(LINK_DAG.format(dag_id=dag_id), dag_id)
    result = run_dag(dag)
    assert result.state == "success"
    assert len(moengage_sandbox.triggers) == 1

    links = links_as_the_webserver_shows_them(dag, result.run_id, "MoEngage campaigns")
    assert links == {"create": expected, "fire": expected}


@pytest.mark.moengage_sandbox(api_version="v5")
def test_the_notifier_speaks_the_api_of_its_connection(moengage_sandbox):
    """Under V5 it sends an X-MOE-Request-Id and needs triggered_by, as the operator does."""
    from moengage_provider.exceptions import MoEngageValidationError

    without_email = MoEngageBusinessEventNotifier(event_name="PipelineDone", event_attributes={"ok": True})
    with pytest.raises(MoEngageValidationError, match=r"triggered_by: is required"):
        without_email.notify({})  # type: ignore[arg-type]
    assert moengage_sandbox.requests == []
    MoEngageBusinessEventNotifier(
        event_name="PipelineDone", event_attributes={"ok": True}, triggered_by="ops@example.com"
    ).notify({})  # type: ignore[arg-type]
    [request] = moengage_sandbox.requests
    assert request["path"] == "/v5/business-events/triggers" and request["headers"]["x-moe-request-id"]
    assert moengage_sandbox.triggers[0]["event_attributes"] == {"ok": True}
