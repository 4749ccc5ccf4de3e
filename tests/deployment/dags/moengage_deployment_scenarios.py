"""
DAGs for the deployment tests (tests/deployment), one per scenario, each with its own connection
(``moengage_<dag_id>``, created by the test and pointed at that scenario's own sandbox) so that
scenarios can run side by side without sharing faults or counts.
"""

from __future__ import annotations

import datetime as dt

from airflow.providers.common.compat.sdk import DAG

from moengage_provider.operators.business_event import TriggerBusinessEventOperator

START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
#: if_outcome_unknown settings exercised with a worker killed mid-request.
KILL_MODES = ("resend", "skip", "fail", "check")
#: Where the request is when the worker dies: stalled at the sandbox (not taken) or taken with the
#: answer held back (tests/deployment/holding_proxy.py).
KILL_WHERE = ("stalled", "held")
EVENT = "DeploymentCheck"


def conn_id(dag_id: str) -> str:
    return f"moengage_{dag_id}"


def _dag(dag_id: str, **default_args: object) -> DAG:
    return DAG(
        dag_id,
        schedule=None,
        start_date=START,
        catchup=False,
        is_paused_upon_creation=False,
        max_active_runs=4,
        # Retries to spare: on a loaded machine a try can also fail before it runs (an api-server
        # timeout); the tests follow the try that was killed, not a try number.
        default_args={"retries": 3, "retry_delay": dt.timedelta(seconds=1), **default_args},
        tags=["moengage", "deployment-test"],
    )


for _dag_id in ("deploy_defer", "deploy_clear"):
    with _dag(_dag_id):
        TriggerBusinessEventOperator(
            task_id="announce",
            event_name=EVENT,
            event_attributes={"run": "{{ run_id }}", "scenario": _dag_id},
            moengage_conn_id=conn_id(_dag_id),
            deferrable=True,
        )

for _mode in KILL_MODES:
    for _where in KILL_WHERE:
        _dag_id = f"deploy_kill_{_mode}_{_where}"
        with _dag(_dag_id):
            TriggerBusinessEventOperator(
                task_id="announce",
                event_name=EVENT,
                event_attributes={"run": "{{ run_id }}", "scenario": _dag_id},
                moengage_conn_id=conn_id(_dag_id),
                if_outcome_unknown=_mode,
            )
