"""The fixture fails loudly: a failed DAG run names the failed task and the sandbox's rejection, and
``assert_delivered`` shows what was refused; Airflow state is isolated unless the user opts out."""

from __future__ import annotations

import os
import textwrap
import uuid

import pytest
import requests

from moengage_provider.testing import DagRunFailed, MoEngageSandbox, NotDelivered
from tests.testing.sandbox_helpers import TRIGGER

pytest_plugins = ["pytester"]

EVENTS = {"NewSeriesAlert": {"attributes": {"season": "string", "episodes": "int"}, "active_campaign": True}}
DAG_SOURCE = """
import datetime
from airflow.providers.common.compat.sdk import DAG
from moengage_provider.operators.business_event import TriggerBusinessEventOperator

with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:
    TriggerBusinessEventOperator(
        task_id="announce", event_name="NewSeriesAlert", retries=0,
        event_attributes={{"season": "Season 1", "episodes": {episodes}}},
    )
"""


@pytest.mark.moengage_sandbox(permissive=False, events=EVENTS)
def test_a_failed_run_names_the_task_and_the_rejection(
    dag_from_source, moengage_sandbox: MoEngageSandbox
) -> None:
    dag_id = f"loud_{uuid.uuid4().hex[:8]}"
    dag = dag_from_source(DAG_SOURCE.format(dag_id=dag_id, episodes='"twelve"'), dag_id)
    with pytest.raises(DagRunFailed) as failure:
        moengage_sandbox.run_dag(dag)
    message = str(failure.value)
    assert f"DAG run '{dag_id}' ended failed" in message
    assert "failed tasks: announce (failed, try 1)" in message
    assert (
        "/v1.0/business_event/trigger -> 400 400 Bad Request: Bad request event='NewSeriesAlert'" in message
    )
    assert "Wrong Attribute data type is passed : 'string' (declared 'int')" in message  # the details
    assert "Accepted triggers: 0" in message


@pytest.mark.moengage_sandbox(permissive=False, events=EVENTS)
def test_a_successful_run_is_returned_and_delivered(
    dag_from_source, moengage_sandbox: MoEngageSandbox
) -> None:
    dag_id = f"loud_{uuid.uuid4().hex[:8]}"
    dag = dag_from_source(DAG_SOURCE.format(dag_id=dag_id, episodes=12), dag_id)
    run = moengage_sandbox.run_dag(dag)
    assert str(run.state) == "success"
    [trigger] = moengage_sandbox.assert_delivered("NewSeriesAlert", count=1, episodes=12)
    assert trigger["event_attributes"]["season"] == "Season 1"


def test_assert_delivered_shows_what_was_refused(moengage_sandbox: MoEngageSandbox) -> None:
    auth = (moengage_sandbox.workspace_id, moengage_sandbox.api_key)
    url = moengage_sandbox.url + TRIGGER
    requests.post(url, json={"event_name": "A", "event_attributes": {}}, auth=auth, timeout=5)
    requests.post(url, json={"event_name": "B", "event_attributes": []}, auth=auth, timeout=5)
    assert len(moengage_sandbox.assert_delivered("A")) == 1
    with pytest.raises(NotDelivered) as failure:
        moengage_sandbox.assert_delivered("B")
    message = str(failure.value)
    assert "expected at least one accepted trigger of B, found 0" in message
    assert "event_attributes - Not a valid JSON object : 'array'" in message
    assert "Accepted triggers: 1 (events: A)" in message
    with pytest.raises(NotDelivered, match="expected exactly 2"):
        moengage_sandbox.assert_delivered("A", count=2)


@pytest.mark.timeout(900)
def test_the_fixture_isolates_airflow_state_by_default(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    dags = pytester.path / "dags"
    dags.mkdir()
    (dags / "announce.py").write_text(DAG_SOURCE.format(dag_id="isolated_announce", episodes=12))
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(dags))
    outer = os.environ["AIRFLOW_HOME"]
    pytester.makepyfile(
        textwrap.dedent(
            f"""
            import os, pathlib, runpy
            import pytest

            OUTER = {outer!r}

            def test_isolated(moengage_sandbox):
                home = os.environ["AIRFLOW_HOME"]
                assert home != OUTER and (pathlib.Path(home) / "airflow.db").exists()
                dag = runpy.run_path({str(dags / "announce.py")!r})["dag"]
                moengage_sandbox.run_dag(dag)
                moengage_sandbox.assert_delivered("NewSeriesAlert", count=1)

            def test_restored_afterwards():
                assert os.environ["AIRFLOW_HOME"] == OUTER
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "moengage_sandbox", "-p", "no:cacheprovider", timeout=840)
    result.assert_outcomes(passed=2)


def test_keep_leaves_the_configured_airflow_home(moengage_sandbox: MoEngageSandbox) -> None:
    """This suite says moengage_sandbox_airflow_home = keep (pyproject.toml): its own home stays."""
    from tests.conftest import AIRFLOW_HOME

    assert os.environ["AIRFLOW_HOME"] == str(AIRFLOW_HOME)


def test_the_isolated_home_keeps_the_users_dags_folder(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's layout sets only AIRFLOW_HOME: its $AIRFLOW_HOME/dags must stay the dags folder."""
    from moengage_provider.testing.airflow_home import IsolatedAirflowHome

    home = tmp_path / "my-airflow-home"
    home.mkdir()
    isolated = IsolatedAirflowHome(tmp_path / "isolated")
    monkeypatch.delenv("AIRFLOW__CORE__DAGS_FOLDER", raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    assert isolated.environ["AIRFLOW__CORE__DAGS_FOLDER"] == str(home / "dags")
    (home / "airflow.cfg").write_text("[core]\ndags_folder = {AIRFLOW_HOME}/pipelines\n")
    assert isolated.environ["AIRFLOW__CORE__DAGS_FOLDER"] == str(home / "pipelines")
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(tmp_path / "from-env"))
    assert isolated.environ["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path / "from-env")
