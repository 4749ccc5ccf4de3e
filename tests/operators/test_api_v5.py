"""
The operator on a connection with ``api_version`` v5, through real task tries (``dag.test()``,
SQLite) against the sandbox, whose config attaches campaigns and flows (with quotas) to the events.

The expected outcome of each case is written out below by hand, from what the README promises, not
read from the outcomes table: a table bug must not be able to confirm itself.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import AIRFLOW_3_1_PLUS
from tests.dagrun import captured_log, run_airflow, run_dag

EVENTS = {
    "AllReached": {
        "attributes": {"season": "string"},
        "campaigns": ["c-all-1", "c-all-2"],
        "flows": ["f-all-1"],
    },
    "SomeSkipped": {
        "attributes": {"season": "string"},
        "campaigns": ["c-open", {"id": "c-capped", "quota": 0}],
        "flows": [{"id": "f-capped", "quota": 0}],
    },
    "NobodyListens": {"attributes": {"season": "string"}, "active_campaign": False},
    "LegacyNobodyListens": {"attributes": {"season": "string"}, "active_campaign": False},
    "ScopeProbe": {"attributes": {"season": "string"}},
    "FlagsV5": {"attributes": {"is_new": "boolean"}},
    "FlagsLegacy": {"attributes": {"is_new": "string"}},
    "NoEmail": {"attributes": {"season": "string"}},
    "Typed": {"attributes": {"price": "number", "launched_at": "datetime"}},
    "TypedWrong": {"attributes": {"price": "number"}},
    "Resent": {"attributes": {"season": "string"}},
    "Capped": {"attributes": {"season": "string"}, "campaigns": [{"id": "c-quota", "quota": 0}]},
}
LIMITS = {"five_minute_limit": 1000, "hourly_limit": 1000, "daily_limit": 1000}
pytestmark = pytest.mark.moengage_sandbox(permissive=False, events=EVENTS, api_version="api-v5", **LIMITS)

NO_SCOPE_KEY = "key-without-business-events-scope"
S1 = {"season": "S1"}
EMAIL = "ops@example.com"

#: (task, connection, event, attributes, triggered_by, extra arguments) -> what a user sees:
#: final state, tries used (retries=2 on every task), trigger requests sent, and a text in the log.
CASES: list[tuple[str, str, str, dict[str, Any], str | None, dict[str, Any], tuple[str, int, int, str]]] = [
    ("all_reached", "v5", "AllReached", S1, EMAIL, {},
     ("success", 1, 1, "SUCCESS, 3 of 3 campaigns and flows triggered, 0 skipped by quota")),
    ("some_skipped", "v5", "SomeSkipped", S1, EMAIL, {},
     ("success", 1, 1, "skipped by quota: campaigns c-capped; flows f-capped")),
    ("nobody_listens", "v5", "NobodyListens", S1, EMAIL, {},
     ("failed", 1, 1, "No active campaign or flow uses this business event")),
    ("legacy_nobody_listens", "legacy", "LegacyNobodyListens", S1, EMAIL, {},
     ("failed", 1, 1, "No active campaign or flow uses this business event")),
    ("key_without_scope", "no_scope", "ScopeProbe", S1, EMAIL, {},
     ("failed", 1, 1, "lacks access to business events")),
    ("boolean_v5", "v5", "FlagsV5", {"is_new": True}, EMAIL, {}, ("success", 1, 1, "SUCCESS")),
    ("boolean_legacy", "legacy", "FlagsLegacy", {"is_new": True}, EMAIL, {},
     ("failed", 1, 0, "event_attributes.is_new: is a boolean")),
    ("no_triggered_by", "v5", "NoEmail", S1, None, {}, ("failed", 1, 0, "triggered_by: is required")),
    ("declared_types_match", "v5", "Typed", {"price": 12.5, "launched_at": "2026-12-01T10:00:00Z"}, EMAIL,
     {"check_declared_attributes": True}, ("success", 1, 1, "SUCCESS")),
    ("declared_type_wrong", "v5", "TypedWrong", {"price": "12"}, EMAIL, {"check_declared_attributes": True},
     ("failed", 1, 0, "event_attributes.price: is declared as number in MoEngage")),
]  # fmt: skip
CONNECTIONS = {"v5": "moengage_default", "legacy": "moengage_legacy", "no_scope": "moengage_no_scope"}

HEADER = """
import datetime
from airflow.providers.common.compat.sdk import DAG, chain
from moengage_provider.operators.business_event import TriggerBusinessEventOperator
{imports}
with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:
    chain(
"""


def dag_source(dag_id: str, tasks: list[tuple[Any, ...]], *, hooks: bool = False) -> str:
    """One DAG, its tasks chained (each runs whatever the one before did: ``all_done``); ``hooks``: run
    :func:`before_each_try` before each try (the DAG then imports this module)."""
    imports = "from tests.operators.test_api_v5 import before_each_try" if hooks else ""
    lines = [HEADER.format(imports=imports, dag_id=dag_id)]
    for task_id, conn, event, attributes, triggered_by, extra in tasks:
        arguments = [f"{name}={value!r}" for name, value in extra.items() if not isinstance(value, str)]
        arguments += [f"{name}={value}" for name, value in extra.items() if isinstance(value, str)]
        if hooks:
            arguments.append("pre_execute=before_each_try")
        lines.append(
            f"        TriggerBusinessEventOperator(task_id={task_id!r}, moengage_conn_id={CONNECTIONS[conn]!r}, "
            f"event_name={event!r}, event_attributes={attributes!r}, triggered_by={triggered_by!r}, retries=2, "
            f"retry_delay=datetime.timedelta(seconds=0), trigger_rule='all_done', {', '.join(arguments)}),\n"
        )
    return "".join(lines) + "    )\n"


#: task id -> what to do before its first try (faults queued for that task's request only).
_before_first_try: dict[str, Callable[[], None]] = {}


def before_each_try(context: Any) -> None:
    if context["ti"].try_number == 1 and context["ti"].task_id in _before_first_try:
        _before_first_try.pop(context["ti"].task_id)()


def make_dag(dag_from_source, tasks: list[tuple[Any, ...]], *, hooks: bool = False):
    dag_id = f"v5_{uuid.uuid4().hex[:10]}"
    return dag_from_source(dag_source(dag_id, tasks, hooks=hooks), dag_id)


def connect(monkeypatch, sandbox) -> None:
    sandbox.add_api_key(NO_SCOPE_KEY, business_events_scope=False)
    monkeypatch.setenv("AIRFLOW_CONN_MOENGAGE_LEGACY", sandbox.airflow_conn_json())
    no_scope = json.loads(sandbox.airflow_conn_json(api_version="api-v5")) | {"password": NO_SCOPE_KEY}
    monkeypatch.setenv("AIRFLOW_CONN_MOENGAGE_NO_SCOPE", json.dumps(no_scope))


def trigger_requests(sandbox, event: str) -> list[dict[str, Any]]:
    return [
        r for r in sandbox.requests
        if r["path"].endswith(("/triggers", "/trigger")) and json.loads(r["body"]).get("event_name") == event
    ]  # fmt: skip


def test_v5_outcomes_results_and_reruns_through_real_tries(
    dag_from_source, moengage_sandbox, monkeypatch, capfd
):
    """One DAG run for every case of the list above (it is the slow part), then a clear."""
    connect(monkeypatch, moengage_sandbox)
    dag = make_dag(dag_from_source, [case[:6] for case in CASES])
    result = run_dag(dag)
    log = captured_log(capfd)

    # Each case: final state, tries, what was sent, and what the log says.
    for task_id, _, event, _, _, _, (state, tries, sent, said) in CASES:
        requests = trigger_requests(moengage_sandbox, event)
        assert (task_id, *result.tasks[task_id], len(requests)) == (task_id, state, tries, sent), log[-4000:]
        assert said in log, f"{task_id}: {said!r} not in the log"
        for request in requests:
            if request["path"].startswith("/v5/"):
                assert uuid.UUID(request["headers"]["x-moe-request-id"]).version == 4

    # The result keeps today's keys and adds what came of the campaigns.
    [request] = trigger_requests(moengage_sandbox, "AllReached")
    request_id = request["headers"]["x-moe-request-id"]
    xcom = result.xcom["all_reached"]
    assert (xcom["event_name"], xcom["message"]) == ("AllReached", "The business event has been triggered")
    assert xcom["sent_at"] and xcom["response_id"] == "resp_" + request_id.replace("-", "")
    assert xcom["triggered_status"] == "SUCCESS"
    assert xcom["summary"] == {"total": 3, "triggered": 3, "failed": 0}
    assert xcom["triggered_campaign_ids"] == ["c-all-1", "c-all-2"] and xcom["triggered_flow_ids"] == [
        "f-all-1"
    ]
    assert xcom["failed_campaign_ids"] == [] and xcom["failed_flow_ids"] == []
    assert f"X-MOE-Request-Id {request_id}" in log
    partial = result.xcom["some_skipped"]
    assert partial["triggered_status"] == "PARTIAL_SUCCESS" and partial["failed_campaign_ids"] == ["c-capped"]

    # A refusal names the request ID it sent, and where to get a key with the scope.
    for event in ("NobodyListens", "ScopeProbe"):
        [request] = trigger_requests(moengage_sandbox, event)
        assert f"X-MOE-Request-Id: {request['headers']['x-moe-request-id']}" in log
    assert "Settings > Account > API keys" in log

    # A PARTIAL_SUCCESS is never sent again: cleared and rerun, it is recognised as delivered.
    if not AIRFLOW_3_1_PLUS:  # 3.0's dag.test() leaves the DAG unserialized; `tasks clear` reads the DB.
        run_airflow("dags", "reserialize")
    run_airflow("tasks", "clear", "-y", "-t", "^some_skipped$", dag.dag_id)
    rerun = run_airflow("tasks", "test", dag.dag_id, "some_skipped", result.run_id)
    assert "already delivered by this task instance" in rerun
    assert len(trigger_requests(moengage_sandbox, "SomeSkipped")) == 1


def _give_quota_once_refused(sandbox, stop: threading.Event) -> None:
    """What a MoEngage user does about a quota: raise it; here, once the first trigger was refused."""
    while not stop.is_set():
        if any(
            t.get("triggered_status") == "FAILURE" for t in sandbox.triggers if t["event_name"] == "Capped"
        ):
            sandbox.declare_events({"Capped": {"attributes": {"season": "string"}, "campaigns": ["c-quota"]}})
            return
        time.sleep(0.01)


def test_retries_and_waits_send_one_delivery_under_one_request_id(dag_from_source, moengage_sandbox, capfd):
    """A 500 (outcome unknown) is sent again on the next try, a quota FAILURE after the wait in the same
    try: each delivery carries one X-MOE-Request-Id on every request."""
    _before_first_try["resent"] = lambda: moengage_sandbox.fail_next(500, path="/v5/business-events/triggers")
    waits = {
        "rate_limit_window": "datetime.timedelta(seconds=1)",
        "max_rate_limit_wait": "datetime.timedelta(seconds=120)",
        "deferrable": False,
    }
    tasks = [("resent", "v5", "Resent", S1, EMAIL, {}), ("capped", "v5", "Capped", S1, EMAIL, waits)]
    stop = threading.Event()
    quota = threading.Thread(target=_give_quota_once_refused, args=(moengage_sandbox, stop), daemon=True)
    quota.start()
    try:
        result = run_dag(make_dag(dag_from_source, tasks, hooks=True))
    finally:
        stop.set()
        quota.join(5)
    log = captured_log(capfd)
    assert result.tasks["resent"] == ("success", 2), log[-4000:]
    assert result.tasks["capped"] == ("success", 1), log[-4000:]
    for event in ("Resent", "Capped"):
        ids = {r["headers"]["x-moe-request-id"] for r in trigger_requests(moengage_sandbox, event)}
        assert len(trigger_requests(moengage_sandbox, event)) >= 2 and len(ids) == 1, event
        assert f"X-MOE-Request-Id: {ids.pop()}" in log  # the try that met the 500 / the quota said it
    statuses = [t["triggered_status"] for t in moengage_sandbox.triggers if t["event_name"] == "Capped"]
    assert statuses[-1] == "SUCCESS" and set(statuses[:-1]) == {"FAILURE"}
    assert "Every campaign and flow attached to this business event was skipped by its quota" in log
    assert "This is a wait, not a failed delivery" in log
