"""Run a DAG for real with ``dag.test()`` on the session's SQLite DB and read back what happened."""

from __future__ import annotations

import json
import logging
import sys
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

    if _airflow_3_0():
        _task_logs_to_this_test_on_airflow_3_0()
        _dag_and_its_assets_in_the_db_on_airflow_3_0(dag)
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


def captured_log(capture: Any) -> str:
    """
    What a test's capfd/capsys caught, as the text a user reads: Airflow 3.0's task log lines are JSON
    (see below), where quotes in a message come escaped; each such line becomes its string values.
    """
    out = []
    for line in "".join(capture.readouterr()).splitlines():
        try:
            record = json.loads(line) if line.startswith("{") else None
        except ValueError:
            record = None
        out.append(" ".join(_strings(record)) if isinstance(record, dict) else line)
    return "\n".join(out)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [str(value)]


def _airflow_3_0() -> bool:
    from importlib.metadata import version

    from packaging.version import Version

    return Version("3.0") <= Version(version("apache-airflow")) < Version("3.1")


def _dag_and_its_assets_in_the_db_on_airflow_3_0(dag) -> None:
    """
    Airflow 3.0's dag.test() runs a DAG the DB has never seen (3.1+ writes it first; apache/airflow
    #51644), so the assets in its inlets/outlets are not active and the task fails before it runs.
    Write it as the DAG processor does in a deployment, which activates its assets.
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.models.dag import DAG as SchedulerDAG
    from airflow.serialization.serialized_objects import SerializedDAG
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    scheduler_dag = SerializedDAG.deserialize_dag(SerializedDAG.serialize_dag(dag))
    SchedulerDAG.bulk_write_to_db("dags-folder", None, [scheduler_dag])


def _task_logs_to_this_test_on_airflow_3_0() -> None:
    """
    Airflow 3.0's dag.test() logs tasks through structlog bound to the stdout of the first test that
    configured it (pytest's capture of that test): rebind it to this test's stdout, as plain JSON lines
    (no rich traceback wrapping), so capfd sees the task log as it does on 2.x and 3.1+.
    """
    from airflow.sdk.log import configure_logging

    configure_logging(enable_pretty_log=False, output=_CurrentStdout(), cache_logger_on_first_use=False)
    # 3.0's dag.test() adds a StreamHandler on sys.stdout to the task logger unless one is there:
    # bound to the stdout of the test that added it, it copies later tests' task logs there. The task
    # log already reaches stdout through structlog; this stand-in keeps the copy out.
    task_logger = logging.getLogger("airflow.task")
    for handler in [h for h in task_logger.handlers if type(h) is logging.StreamHandler]:
        task_logger.removeHandler(handler)
    if not any(isinstance(h, _NoCopy) for h in task_logger.handlers):
        task_logger.addHandler(_NoCopy())


class _NoCopy(logging.StreamHandler):
    def emit(self, record: logging.LogRecord) -> None:
        pass


class _CurrentStdout:
    """
    The stdout of whichever test is running, looked up at each write. Bound to one test's stdout,
    the log outlives that test's capture: the next test's task logs hit a closed file, and 3.0's
    in-process API server, logging that error, recurses until RecursionError (a 'hang' in pytest,
    which then spends minutes formatting the traceback).
    """

    mode = "wb"  # configure_logging(enable_pretty_log=False) wants a binary stream

    def write(self, data: bytes) -> int:
        sys.stdout.flush()
        return sys.stdout.buffer.write(data)

    def flush(self) -> None:
        sys.stdout.buffer.flush()


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
