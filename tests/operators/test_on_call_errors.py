"""What the on-call engineer reads: errors that say what became of the event and what happens next."""

from __future__ import annotations

import textwrap
import uuid

import pytest

from moengage_provider.exceptions import MoEngageRateLimitError, MoEngageServerError
from tests.conftest import requires_airflow_3_3
from tests.dagrun import captured_log, run_dag

SOURCE = """
import datetime
from airflow.providers.common.compat.sdk import DAG
from moengage_provider.operators.business_event import TriggerBusinessEventOperator

with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:
    TriggerBusinessEventOperator(
        task_id="fire",
        event_name="NewSeriesAlert",
        event_attributes={{"season": "Season 1"}},
        retries={retries},
        retry_delay=datetime.timedelta(seconds=0),
        {extra}
    )
"""


@pytest.fixture
def fire_dag(dag_from_source):
    def make(retries: int = 2, extra: str = ""):
        dag_id = f"oncall_{uuid.uuid4().hex[:10]}"
        return dag_from_source(
            textwrap.dedent(SOURCE.format(dag_id=dag_id, retries=retries, extra=extra)), dag_id
        )

    return make


def test_missing_connection_fails_on_the_first_try_and_says_how_to_create_it(fire_dag, capfd):
    result = run_dag(fire_dag(extra='moengage_conn_id="moengage_nowhere",'))
    assert result.tasks["fire"] == ("failed", 1)  # no retries burned
    log = captured_log(capfd)
    assert "The MoEngage connection 'moengage_nowhere' does not exist" in log
    assert "Admin > Connections" in log
    assert 'AIRFLOW_CONN_MOENGAGE_NOWHERE=\'{"conn_type": "moengage"' in log
    assert "AIRFLOW_CONN_MOENGAGE_NOWHERE='moengage://" in log
    assert "AirflowNotFoundException" not in log


def test_unusable_connection_fails_on_the_first_try(fire_dag, monkeypatch, capfd):
    monkeypatch.setenv("AIRFLOW_CONN_MOENGAGE_DEFAULT", '{"conn_type": "moengage", "login": "WS"}')
    result = run_dag(fire_dag())
    assert result.tasks["fire"] == ("failed", 1)
    assert "MoEngage connection 'moengage_default': the API Key (password) is empty" in captured_log(capfd)


@requires_airflow_3_3
def test_unknown_outcome_is_said_on_the_try_that_met_it(fire_dag, moengage_sandbox, capfd):
    moengage_sandbox.fail_next(502)
    result = run_dag(fire_dag(extra='if_outcome_unknown="skip",'))
    assert result.tasks["fire"] == ("success", 2)
    log = captured_log(capfd)
    first_try = log.split("if_outcome_unknown='skip': not sending again")[0]
    assert "MoEngage may or may not have accepted business event 'NewSeriesAlert'" in first_try
    assert "The next try succeeds without sending it again (at most once)" in first_try


@requires_airflow_3_3
def test_last_try_keeps_the_history_of_an_earlier_doubt(fire_dag, moengage_sandbox, capfd):
    moengage_sandbox.fail_next(500)  # try 1: unknown
    moengage_sandbox.fail_next(400, count=1)  # try 2 (resend): refused, certainly not delivered
    result = run_dag(fire_dag(retries=1))
    assert result.tasks["fire"] == ("failed", 2)
    log = captured_log(capfd)
    assert "This request was not delivered, but an earlier try at" in log
    assert "may have delivered business event 'NewSeriesAlert'" in log


@requires_airflow_3_3
def test_unknown_outcome_on_the_last_try_says_no_retry_follows(fire_dag, moengage_sandbox, capfd):
    moengage_sandbox.fail_next(504)
    result = run_dag(fire_dag(retries=0))
    assert result.tasks["fire"] == ("failed", 1)
    log = captured_log(capfd)
    assert "this task will not retry by itself: check MoEngage's campaign analytics" in log
    assert "Retry policy decision" not in log  # no "retrying" line on a try with no retries left


@requires_airflow_3_3
def test_retry_policy_says_nothing_when_no_retries_are_left():
    from moengage_provider.delivery.retry_policy import MoEngageRetryPolicy

    error = MoEngageServerError(status=502, endpoint="/v1.0/business_event/trigger")
    policy = MoEngageRetryPolicy()
    assert policy.evaluate(error, try_number=3, max_tries=2).reason is None
    assert policy.evaluate(error, try_number=2, max_tries=2).action.value == "retry"
    assert "may or may not" in (policy.evaluate(error, try_number=1, max_tries=2).reason or "")


def test_fields_moengage_did_not_send_are_left_out():
    error = MoEngageRateLimitError(status=429, endpoint="/v1.0/business_event/trigger", message="Too many")
    text = str(error)
    assert "None" not in text and "request_id" not in text
    assert text.startswith(
        "MoEngage answered HTTP 429 to POST /v1.0/business_event/trigger: message='Too many'"
    )
    bare = MoEngageServerError(status=502, endpoint="/x")
    assert str(bare).startswith("MoEngage answered HTTP 502 to POST /x") and "None" not in str(bare)


@pytest.mark.moengage_sandbox(hourly_limit=1, hour_seconds=3600.0)
def test_rate_limit_log_has_no_request_id_none(fire_dag, moengage_sandbox, capfd):
    moengage_sandbox.fail_next(
        429, headers={"Retry-After": "1"}, body={"status": "error", "data": {"code": "429"}}
    )
    result = run_dag(fire_dag(extra="max_rate_limit_wait=datetime.timedelta(minutes=5),"))
    assert result.tasks["fire"][0] == "success"
    log = captured_log(capfd)
    assert "MoEngage rate limit hit for 'NewSeriesAlert' (HTTP 429)" in log
    assert "request_id=None" not in log


def test_an_email_a_strict_reader_refuses_fails_at_run_time_without_retries(
    fire_dag, moengage_sandbox, capfd
):
    # Parse time checks only the shape (importing the strict validator would slow every DAG parse).
    result = run_dag(fire_dag(extra='triggered_by="ops@example.invalid",'))
    assert result.tasks["fire"] == ("failed", 1)
    assert "triggered_by: 'ops@example.invalid' is not an email address MoEngage accepts" in captured_log(
        capfd
    )
    assert moengage_sandbox.requests == []
