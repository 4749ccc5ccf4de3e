"""The fixture fails loudly and quickly: a failed DAG run names each failed task with its own error
and the sandbox's rejections, retries do not wait out the DAG's retry_delay, a proxy in the
environment is bypassed, and ``assert_delivered`` shows what was refused; Airflow state is isolated
unless the user opts out."""

from __future__ import annotations

import os
import socket
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
        task_id="announce", event_name="NewSeriesAlert", retries={retries}, moengage_conn_id="{conn_id}",
        event_attributes={{"season": "Season 1", "episodes": {episodes}}},
        retry_delay=datetime.timedelta(minutes={retry_minutes}),
    )
"""


#: The load returns a boolean, which no MoEngage attribute can hold (a literal one fails at parse).
BOOLEAN_LOAD_DAG_SOURCE = """
import datetime
from airflow.providers.common.compat.sdk import DAG, task
from moengage_provider.operators.business_event import TriggerBusinessEventOperator

with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:

    @task
    def load():
        return {{"season": "Season 1", "is_finale": True}}

    TriggerBusinessEventOperator(task_id="announce", event_name="NewSeriesAlert", event_attributes=load())
"""


def dag_source(
    dag_id: str,
    episodes: object = 12,
    retries: int = 0,
    conn_id: str = "moengage_default",
    retry_minutes: int = 5,
) -> str:
    return DAG_SOURCE.format(
        dag_id=dag_id, episodes=episodes, retries=retries, conn_id=conn_id, retry_minutes=retry_minutes
    )


@pytest.mark.moengage_sandbox(permissive=False, events=EVENTS)
def test_a_failed_run_names_the_task_and_the_rejection(
    dag_from_source, moengage_sandbox: MoEngageSandbox
) -> None:
    dag_id = f"loud_{uuid.uuid4().hex[:8]}"
    dag = dag_from_source(dag_source(dag_id, episodes='"twelve"'), dag_id)
    with pytest.raises(DagRunFailed) as failure:
        moengage_sandbox.run_dag(dag)
    message = str(failure.value)
    assert f"DAG run '{dag_id}' ended failed" in message
    assert "failed tasks: announce (failed, try 1)" in message
    # the task's own error: MoEngage's answer, as the hook raised it
    assert "  announce: MoEngageClientError: MoEngage answered HTTP 400" in message
    assert (
        "/v1.0/business_event/trigger -> 400 400 Bad Request: Bad request event='NewSeriesAlert'" in message
    )
    assert "Wrong Attribute data type is passed : 'string' (declared 'int')" in message  # the details
    assert "Accepted triggers: 0" in message


@pytest.mark.moengage_sandbox(permissive=False, events=EVENTS)
def test_a_failed_run_names_the_tasks_own_validation_error(
    dag_from_source, moengage_sandbox: MoEngageSandbox
) -> None:
    """Refused before sending: the sandbox saw nothing, so only the task's error can say why."""
    dag_id = f"loud_{uuid.uuid4().hex[:8]}"
    dag = dag_from_source(BOOLEAN_LOAD_DAG_SOURCE.format(dag_id=dag_id), dag_id)
    with pytest.raises(DagRunFailed) as failure:
        moengage_sandbox.run_dag(dag)
    message = str(failure.value)
    assert "failed tasks: announce (failed, try 1)." in message
    assert (
        "  announce: MoEngageValidationError: Invalid MoEngage business event, event_attributes.is_finale: is a boolean"
        in message
    )
    assert "Nothing was sent." in message
    assert "The MoEngage sandbox rejected no request." in message


@pytest.mark.moengage_sandbox(permissive=False, events=EVENTS)
def test_a_failed_run_names_the_missing_connection(
    dag_from_source, moengage_sandbox: MoEngageSandbox
) -> None:
    dag_id = f"loud_{uuid.uuid4().hex[:8]}"
    dag = dag_from_source(dag_source(dag_id, conn_id="moengage_nowhere"), dag_id)
    with pytest.raises(DagRunFailed) as failure:
        moengage_sandbox.run_dag(dag)
    message = str(failure.value)
    assert (
        "  announce: MoEngageConfigurationError: The MoEngage connection 'moengage_nowhere' does not exist"
        in message
    )
    assert "AIRFLOW_CONN_MOENGAGE_NOWHERE=" in message  # how to create it


@pytest.mark.moengage_sandbox(permissive=False, events=EVENTS)
def test_a_successful_run_is_returned_and_delivered(
    dag_from_source, moengage_sandbox: MoEngageSandbox
) -> None:
    dag_id = f"loud_{uuid.uuid4().hex[:8]}"
    dag = dag_from_source(dag_source(dag_id), dag_id)
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
    (dags / "announce.py").write_text(dag_source("isolated_announce"))
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


@pytest.mark.timeout(900)
def test_a_corporate_shell_fails_nothing_and_waits_out_no_retry_delay(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTPS_PROXY / HTTP_PROXY set, no NO_PROXY, and DAGs that retry an hour apart. The proxy is a dead
    port on 127.0.0.1: a request sent through it fails. In a fresh pytest process (the fixture as a user
    gets it), both tests pass: requests to the sandbox bypass the proxy, and the retry after MoEngage's
    500 runs at once (waiting out the hour would outlast the subprocess's deadline)."""
    with socket.socket() as dead:
        dead.bind(("127.0.0.1", 0))  # bound, never listening: a connection to it is refused
        proxy = f"http://127.0.0.1:{dead.getsockname()[1]}"
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.setenv(name, proxy)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        dags = pytester.path / "dags"
        dags.mkdir()
        (dags / "announce.py").write_text(dag_source("proxied_announce", retries=2, retry_minutes=60))
        monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(dags))
        pytester.makepyfile(
            textwrap.dedent(
                f"""
                import datetime, os, runpy

                DAG_FILE = {str(dags / "announce.py")!r}

                def test_the_sandbox_is_reached_past_the_proxy(moengage_sandbox):
                    assert os.environ["HTTPS_PROXY"] == {proxy!r}  # still set: only the sandbox bypasses it
                    moengage_sandbox.run_dag(runpy.run_path(DAG_FILE)["dag"])
                    moengage_sandbox.assert_delivered("NewSeriesAlert", count=1)

                def test_a_retry_runs_at_once(moengage_sandbox):
                    dag = runpy.run_path(DAG_FILE)["dag"]
                    moengage_sandbox.fail_next(500)  # outcome unknown: the hook does not resend, Airflow retries
                    moengage_sandbox.run_dag(dag)
                    moengage_sandbox.assert_delivered("NewSeriesAlert", count=1)
                    assert len(moengage_sandbox.requests) == 2  # the 500, then the retry
                    assert dag.task_dict["announce"].retry_delay == datetime.timedelta(minutes=60)  # given back
                """
            )
        )
        result = pytester.runpytest_subprocess(
            "-p", "moengage_sandbox", "-p", "no:cacheprovider", timeout=840
        )
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
