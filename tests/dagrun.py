"""Run a DAG for real with ``dag.test()`` on the session's SQLite DB and read back what happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DagRunResult:
    state: str
    run_id: str
    #: None for a run triggered by hand in Airflow 3 (CLI, REST API, UI)
    logical_date: Any = None
    #: task_id (or task_id[map_index]) -> (state, try_number)
    tasks: dict[str, tuple[str | None, int]] = field(default_factory=dict)
    #: task_id (or task_id[map_index]) -> return value pushed to XCom
    xcom: dict[str, Any] = field(default_factory=dict)


def xcom_table() -> tuple[Any, Any]:
    """The XCom table's model (Airflow 2 names it XCom) and a row's value (deserialized on load in both)."""
    try:
        from airflow.models.xcom import XComModel
    except ImportError:  # Airflow 2
        from airflow.models.xcom import XCom as XComModel
    return XComModel, lambda row: row.value


def run_dag(dag, **test_kwargs: Any) -> DagRunResult:
    from airflow.utils.session import create_session

    XComModel, value_of = xcom_table()

    _task_logs_to_this_test_on_airflow_3_0()
    dag_run = dag.test(**test_kwargs)
    result = DagRunResult(state=str(dag_run.state), run_id=dag_run.run_id, logical_date=dag_run.logical_date)
    with create_session() as session:
        for ti in dag_run.get_task_instances(session=session):
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            result.tasks[key] = (str(ti.state) if ti.state else None, ti.try_number)
        rows = (
            session.query(XComModel)
            .filter_by(dag_id=dag.dag_id, run_id=dag_run.run_id, key="return_value")
            .all()
        )
        for row in rows:
            key = row.task_id if row.map_index < 0 else f"{row.task_id}[{row.map_index}]"
            result.xcom[key] = value_of(row)
    return result


def _task_logs_to_this_test_on_airflow_3_0() -> None:
    """
    Airflow 3.0's dag.test() logs tasks through structlog bound to the stdout of the first test that
    configured it (pytest's capture of that test): rebind it to this test's stdout, as plain JSON lines
    (no rich traceback wrapping), so capfd sees the task log as it does on 2.x and 3.1+.
    """
    from importlib.metadata import version

    from packaging.version import Version

    if not Version("3.0") <= Version(version("apache-airflow")) < Version("3.1"):
        return
    import sys

    from airflow.sdk.log import configure_logging

    configure_logging(enable_pretty_log=False, output=sys.stdout, cache_logger_on_first_use=False)


def run_airflow(*args: str, check: bool = True, timeout: float = 240) -> str:
    """Run the ``airflow`` CLI on the session's home and DB; returns stdout + stderr."""
    import subprocess
    import sys

    from tests.conftest import REPO, airflow_env

    result = subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=airflow_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        raise AssertionError(f"airflow {' '.join(args)} exited {result.returncode}:\n{output[-4000:]}")
    return output
