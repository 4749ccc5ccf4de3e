"""TriggerBusinessEventOperator run for real: DAG files in the dags folder, dag.test(), the sandbox."""

from __future__ import annotations

import datetime as dt
import textwrap
import uuid

import pytest

from moengage_provider.operators.business_event import TriggerBusinessEventOperator
from tests.dagrun import run_dag

HEADER = """
import datetime
from airflow.providers.common.compat.sdk import DAG, task
from moengage_provider.operators.business_event import TriggerBusinessEventOperator

with DAG(
    "{dag_id}",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    params={{"season": "Season 2", "episodes": 10, "who": "ops@example.com", "name": "NewSeriesAlert"}},
) as dag:
"""


def dag_source(body: str) -> tuple[str, str]:
    dag_id = f"op_{uuid.uuid4().hex[:10]}"
    return dag_id, HEADER.format(dag_id=dag_id) + textwrap.indent(textwrap.dedent(body), "    ")


@pytest.fixture
def make_dag(dag_from_source):
    def make(body: str):
        dag_id, source = dag_source(body)
        return dag_from_source(source, dag_id)

    return make


def test_templated_dict_values_keep_their_types(make_dag, moengage_sandbox):
    dag = make_dag(
        """
        TriggerBusinessEventOperator(
            task_id="fire",
            event_name="{{ params.name }}",
            event_attributes={
                "season": "{{ params.season }}",
                "episodes": 12,
                "code": "12",
                "cast": ["{{ params.season }} cast", "Jane Doe"],
                "released": datetime.date(2023, 11, 11),
                "at": datetime.datetime(2023, 11, 11, 10, 0, tzinfo=datetime.timezone.utc),
                "rating": 4.5,
            },
            triggered_by="{{ params.who }}",
        )
        """
    )
    result = run_dag(dag)
    assert result.state == "success"
    (trigger,) = moengage_sandbox.triggers
    assert trigger["event_name"] == "NewSeriesAlert"
    assert trigger["triggered_by"] == "ops@example.com"
    assert trigger["event_attributes"] == {
        "season": "Season 2",
        "episodes": 12,
        "code": "12",
        "cast": ["Season 2 cast", "Jane Doe"],
        "released": "2023-11-11",
        "at": "2023-11-11T10:00:00+00:00",
        "rating": 4.5,
    }
    xcom = result.xcom["fire"]
    assert xcom["message"] == "The business event has been triggered"
    assert xcom["event_name"] == "NewSeriesAlert"
    sent_at = dt.datetime.fromisoformat(xcom["sent_at"])
    assert abs((dt.datetime.now(dt.timezone.utc) - sent_at).total_seconds()) < 120


def test_attributes_from_an_upstream_task_xcom(make_dag, moengage_sandbox):
    dag = make_dag(
        """
        @task
        def summarize():
            return {"new_titles": 3, "names": ["A", "B", "C"], "loaded_on": datetime.date(2024, 5, 1), "batch": "007"}

        TriggerBusinessEventOperator(task_id="fire", event_name="NewTitles", event_attributes=summarize())
        """
    )
    assert run_dag(dag).state == "success"
    assert moengage_sandbox.triggers[0]["event_attributes"] == {
        "new_titles": 3,
        "names": ["A", "B", "C"],
        "loaded_on": "2024-05-01",
        "batch": "007",
    }


def test_template_string_rendering_to_a_json_object(make_dag, moengage_sandbox):
    dag = make_dag(
        """
        TriggerBusinessEventOperator(
            task_id="fire",
            event_name="NewSeriesAlert",
            event_attributes='{"season": "{{ params.season }}", "episodes": {{ params.episodes }}}',
        )
        """
    )
    assert run_dag(dag).state == "success"
    assert moengage_sandbox.triggers[0]["event_attributes"] == {"season": "Season 2", "episodes": 10}


def test_xcom_pull_rendered_by_plain_jinja_is_still_an_object(make_dag, moengage_sandbox):
    dag = make_dag(
        """
        @task
        def summarize():
            return {"count": 2, "names": ["x", "y"]}

        s = summarize()
        fire = TriggerBusinessEventOperator(
            task_id="fire",
            event_name="Loaded",
            event_attributes="{{ ti.xcom_pull(task_ids='summarize') }}",
        )
        s >> fire
        """
    )
    assert run_dag(dag).state == "success"
    assert moengage_sandbox.triggers[0]["event_attributes"] == {"count": 2, "names": ["x", "y"]}


def test_one_log_line_names_event_host_and_attribute_names_not_values(make_dag, moengage_sandbox, capfd):
    dag = make_dag(
        """
        TriggerBusinessEventOperator(
            task_id="fire", event_name="PriceDrop", event_attributes={"sku": "SECRET-SKU-VALUE", "price": 5}
        )
        """
    )
    assert run_dag(dag).state == "success"
    out = capfd.readouterr()
    log = out.out + out.err
    lines = [line for line in log.splitlines() if "MoEngage business event 'PriceDrop' triggered" in line]
    assert len(lines) == 1
    assert f"on 127.0.0.1:{moengage_sandbox.port}" in lines[0]
    assert "(attributes: sku, price)" in lines[0]
    assert " ms" in lines[0]
    assert "SECRET-SKU-VALUE" not in lines[0]


@pytest.mark.parametrize(
    ("params_override", "fields", "message"),
    [
        ({"name": ""}, 'event_name="{{ params.name }}", event_attributes={"a": 1}', "event_name: is empty"),
        (
            {},
            'event_name="E", event_attributes={"a": 1}, triggered_by="{{ params.name }}"',
            "triggered_by: 'NewSeriesAlert' is not an email address",
        ),
        ({}, 'event_name="E", event_attributes="[1, 2]"', "event_attributes: rendered to a JSON list"),
        ({}, 'event_name="E", event_attributes="not json"', "event_attributes: rendered to 'not json'"),
    ],
)
def test_bad_rendered_values_fail_without_retries_and_send_nothing(
    make_dag, moengage_sandbox, capfd, params_override, fields, message
):
    dag = make_dag(
        f"""
        TriggerBusinessEventOperator(
            task_id="fire", retries=3, retry_delay=datetime.timedelta(seconds=0), {fields}
        )
        """
    )
    result = run_dag(dag, run_conf=params_override or None)
    assert result.tasks["fire"] == ("failed", 1)
    assert moengage_sandbox.requests == []
    out = capfd.readouterr()
    assert message in out.out + out.err
    assert "Nothing was sent" in out.out + out.err


def test_xcom_with_values_moengage_cannot_hold_fails_at_run_time(make_dag, moengage_sandbox, capfd):
    dag = make_dag(
        """
        @task
        def summarize():
            return {"ok": 1, "nested": {"deep": True}}

        TriggerBusinessEventOperator(task_id="fire", event_name="E", event_attributes=summarize(), retries=2)
        """
    )
    result = run_dag(dag)
    assert result.tasks["fire"] == ("failed", 1)
    assert "event_attributes.nested: is a nested object" in "".join(capfd.readouterr())
    assert moengage_sandbox.requests == []


@pytest.mark.moengage_sandbox(permissive=False)
def test_moengage_400_fails_at_once_with_message_and_request_id_in_the_log(make_dag, moengage_sandbox, capfd):
    dag = make_dag(
        """
        TriggerBusinessEventOperator(
            task_id="fire", event_name="Undeclared", event_attributes={"a": 1},
            retries=3, retry_delay=datetime.timedelta(seconds=0),
        )
        """
    )
    result = run_dag(dag)
    assert result.tasks["fire"] == ("failed", 1)
    (rejected,) = moengage_sandbox.rejected
    log = "".join(capfd.readouterr())
    assert "Business event does not exists" in log
    assert rejected["request_id"] in log


def test_moengage_401_fails_at_once(make_dag, moengage_sandbox, monkeypatch):
    import json

    monkeypatch.setenv(
        "AIRFLOW_CONN_MOENGAGE_WRONG_KEY",
        json.dumps(
            {
                "conn_type": "moengage",
                "host": moengage_sandbox.url,
                "login": moengage_sandbox.workspace_id,
                "password": "wrong-key",
            }
        ),
    )
    dag = make_dag(
        """
        TriggerBusinessEventOperator(
            task_id="fire", event_name="E", event_attributes={"a": 1}, moengage_conn_id="moengage_wrong_key",
            retries=3, retry_delay=datetime.timedelta(seconds=0),
        )
        """
    )
    assert run_dag(dag).tasks["fire"] == ("failed", 1)
    assert [r["status"] for r in moengage_sandbox.rejected] == [401]


def test_server_errors_use_airflow_retries(make_dag, moengage_sandbox):
    moengage_sandbox.fail_next(502, count=1)
    dag = make_dag(
        """
        TriggerBusinessEventOperator(
            task_id="fire", event_name="E", event_attributes={"a": 1},
            retries=2, retry_delay=datetime.timedelta(seconds=0),
        )
        """
    )
    result = run_dag(dag)
    assert result.tasks["fire"] == ("success", 2)
    assert len(moengage_sandbox.triggers) == 1


def test_literal_mistakes_fail_at_dag_parse():
    with pytest.raises(ValueError, match="'fire': event_name: is empty"):
        TriggerBusinessEventOperator(task_id="fire", event_name=" ", event_attributes={})
    with pytest.raises(ValueError, match=r"event_attributes\.tags: is a set"):
        TriggerBusinessEventOperator(task_id="fire", event_name="E", event_attributes={"tags": {"a"}})
    with pytest.raises(ValueError, match="triggered_by: 'nobody' is not an email"):
        TriggerBusinessEventOperator(
            task_id="fire", event_name="E", event_attributes={}, triggered_by="nobody"
        )
    # Templates are only judged once rendered.
    TriggerBusinessEventOperator(task_id="ok", event_name="{{ params.x }}", event_attributes="{{ params.y }}")


def test_template_fields_and_json_rendering_in_the_ui():
    assert set(TriggerBusinessEventOperator.template_fields) >= {
        "event_name",
        "event_attributes",
        "triggered_by",
    }
    assert TriggerBusinessEventOperator.template_fields_renderers["event_attributes"] == "json"


def test_native_rendering_keeps_literal_strings_and_types_templated_values(dag_from_source, moengage_sandbox):
    dag_id = f"native_{uuid.uuid4().hex[:10]}"
    source = f"""
import datetime
from airflow.providers.common.compat.sdk import DAG
from moengage_provider.operators.business_event import TriggerBusinessEventOperator

with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False,
         render_template_as_native_obj=True, params={{"episodes": 10}}) as dag:
    TriggerBusinessEventOperator(
        task_id="fire", event_name="E",
        event_attributes={{"code": "12", "episodes": "{{{{ params.episodes }}}}", "cast": "['A', 'B']"}},
    )
"""
    dag = dag_from_source(textwrap.dedent(source), dag_id)
    assert run_dag(dag).state == "success"
    # Jinja's native mode would have made "12" a number and "['A', 'B']" a list: literals stay as written.
    assert moengage_sandbox.triggers[0]["event_attributes"] == {
        "code": "12",
        "episodes": 10,
        "cast": "['A', 'B']",
    }
