"""Rate limits in a DAG run: wait, never hammer, never hold a worker longer than needed. How long a
wait lasts (headers, windows, escalation) is tested in tests/api and tests/delivery."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import textwrap
import time
import uuid

import pytest

from moengage_provider.exceptions import MoEngageRateLimitWait, MoEngageServerError
from tests.conftest import AIRFLOW_3_3_PLUS, requires_airflow_3_3
from tests.dagrun import captured_log, run_dag

SOURCE = """
import datetime
from airflow.providers.common.compat.sdk import DAG, chain
from moengage_provider.operators.business_event import TriggerBusinessEventOperator

with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:
    chain(*[
        TriggerBusinessEventOperator(
            task_id=f"fire_{{i}}",
            event_name="PriceDrop",
            event_attributes={{"sku": f"SKU-{{i}}"}},
            rate_limit_window=datetime.timedelta(seconds={window}),
            {extra}
        )
        for i in range({count})
    ])
"""


@pytest.fixture
def chain_dag(dag_from_source):
    def make(count: int, window: float, extra: str = ""):
        dag_id = f"rl_{uuid.uuid4().hex[:10]}"
        source = SOURCE.format(dag_id=dag_id, count=count, window=window, extra=extra)
        return dag_from_source(textwrap.dedent(source), dag_id)

    return make


def _skus(sandbox) -> list[str]:
    return [t["event_attributes"]["sku"] for t in sandbox.triggers]


RATE_LIMITED = json.dumps(
    {
        "status": "error",
        "data": {
            "code": 429,
            "title": "rate limiter exception",
            "description": "Exceeded rate limit for this app",
        },
    }
).encode()


def refuse_next_for_rate_limit(sandbox, **kwargs) -> None:
    """One documented 429, whatever the clock: the windows themselves are tested in the sandbox's suite."""
    sandbox.fail_next(429, body=RATE_LIMITED, content_type="application/json", **kwargs)


def test_short_wait_sleeps_in_the_worker_then_sends(chain_dag, moengage_sandbox, capfd):
    refuse_next_for_rate_limit(moengage_sandbox)
    result = run_dag(chain_dag(3, window=2, extra="deferrable=False,"))
    assert result.state == "success"
    assert sorted(_skus(moengage_sandbox)) == ["SKU-0", "SKU-1", "SKU-2"]
    assert all(state == ("success", 1) for state in result.tasks.values())
    log = "".join(capfd.readouterr())
    assert "MoEngage rate limit hit for 'PriceDrop' (HTTP 429" in log
    assert "10 business event triggers per 5 minutes, 50 per hour and 200 per day" in log
    assert "sleeping in the worker" in log
    assert "This is a wait, not a failed delivery" in log
    # One refused request, then one accepted: the wait is for the window, not a hammering loop.
    assert [r["status"] for r in moengage_sandbox.rejected] == [429]


def test_deferrable_waits_in_the_triggerer_and_sends_from_the_worker(
    chain_dag, moengage_sandbox, capfd, caplog
):
    refuse_next_for_rate_limit(moengage_sandbox)
    result = run_dag(chain_dag(3, window=2, extra="deferrable=True,"))
    assert result.state == "success"
    assert sorted(_skus(moengage_sandbox)) == ["SKU-0", "SKU-1", "SKU-2"]
    log = "".join(capfd.readouterr()) + caplog.text
    assert "deferring (worker slot released)" in log
    assert "running trigger in line" in log  # dag.test() runs the DateTimeTrigger in-process
    assert len(moengage_sandbox.rejected) == 1


# MoEngage's five minutes as 20 s: the three triggers of the burst must land in one window for the
# third to be refused, and dag.test() starts each task in up to 3.7 s on a loaded machine (Airflow 3.2).
BURST_WINDOW = 20


@pytest.mark.moengage_sandbox(five_minute_limit=2, five_minute_seconds=BURST_WINDOW)
def test_a_burst_waits_exactly_until_the_reset_moengage_names_then_sends_each_event_once(
    chain_dag, moengage_sandbox, capfd
):
    while not 0.05 <= time.time() % BURST_WINDOW < 0.8:  # the burst starts early in a window
        time.sleep(0.02)
    result = run_dag(chain_dag(3, window=3600, extra="deferrable=True,"))
    assert result.state == "success"
    assert _skus(moengage_sandbox) == ["SKU-0", "SKU-1", "SKU-2"]  # each once, in order
    log = captured_log(capfd)
    assert "decided by x-ratelimit-reset (MoEngage's x-ratelimit-reset header says" in log
    refused = [r for r in moengage_sandbox.requests if r["status"] == 429]
    assert len(refused) == 1
    refused_at = dt.datetime.fromisoformat(refused[0]["received_at"]).timestamp()
    reset = math.ceil(refused_at / BURST_WINDOW) * BURST_WINDOW
    assert dt.datetime.fromisoformat(moengage_sandbox.triggers[-1]["received_at"]).timestamp() >= reset
    assert "MoEngage rate limit: 1 of 2 left until" in log  # the first trigger's log line


@pytest.mark.moengage_sandbox(five_minute_limit=0, rate_limit_headers=False)
def test_without_headers_a_deferred_task_remembers_its_wait_and_escalates(chain_dag, moengage_sandbox, capfd):
    # MoEngage's hour as 72 s (five minutes 6 s): from the fifth "five minutes" of an "hour" on (ten per
    # five minutes could have filled its fifty), a refusal right after a five-minute wait waits for the
    # hour, which the deferred task knows from its delivery record when it resumes. "Right after" is
    # within one five-minute window of the wait's end: 6 s here, more than a resumed task takes to send
    # again under dag.test() (3.7 s on Airflow 3.2 on a loaded machine; 3 s windows were too short).
    # Started 37-48 s into the "hour", the hourly wait stays under max_rate_limit_wait (40 s).
    while not 37 <= time.time() % 72 < 48:
        time.sleep(0.05)
    extra = "deferrable=True, max_rate_limit_wait=datetime.timedelta(seconds=40),"
    result = run_dag(chain_dag(1, window=72, extra=extra))
    assert result.tasks["fire_0"][0] == "failed"
    log = captured_log(capfd)
    # Each wait once, in order (Airflow 2.11's dag.test() may print a task's log line twice).
    waits = list(
        dict.fromkeys(re.findall(r"Waiting \w+, until \S+ (\S+) UTC, decided by (the \S+ window)", log))
    )
    assert [by for _, by in waits[:2]] == ["the five-minute window", "the hourly window"], waits
    hour_ends = dt.datetime.strptime(waits[1][0], "%H:%M:%S")
    assert (hour_ends.minute * 60 + hour_ends.second) % 72 <= 4  # the top of the "hour", plus jitter
    assert "past max_rate_limit_wait=40s" in log
    assert moengage_sandbox.triggers == []


@pytest.mark.moengage_sandbox(hourly_limit=0, hour_seconds=2.0)
def test_total_wait_is_bounded_and_the_failure_names_both_limits(chain_dag, moengage_sandbox, capfd):
    extra = "deferrable=False, max_rate_limit_wait=datetime.timedelta(seconds=1), retries=3,"
    result = run_dag(chain_dag(1, window=2, extra=extra))
    assert result.tasks["fire_0"] == ("failed", 1)
    log = "".join(capfd.readouterr())
    assert "past max_rate_limit_wait=1s" in log
    assert "10 business event triggers per 5 minutes, 50 per hour and 200 per day" in log
    assert "still refused after waiting" in log
    assert moengage_sandbox.triggers == []


def test_long_wait_without_retries_says_to_enable_retries_or_deferral(chain_dag, moengage_sandbox, capfd):
    # An hour's wait whatever the clock says: a clock-aligned window is under a minute away in the last
    # minute of every hour, and that short wait would sleep in the worker and send again.
    refuse_next_for_rate_limit(moengage_sandbox, headers={"Retry-After": "3600"})
    result = run_dag(chain_dag(1, window=3600, extra="deferrable=False, retries=0,"))
    assert result.tasks["fire_0"] == ("failed", 1)
    log = "".join(capfd.readouterr())
    assert "Enable retries (retries >= 1) or deferrable=True" in log
    assert len(moengage_sandbox.requests) == 1


def test_retry_after_header_is_honoured(chain_dag, moengage_sandbox, capfd):
    refuse_next_for_rate_limit(moengage_sandbox, headers={"Retry-After": "1"})
    result = run_dag(chain_dag(2, window=3600, extra="deferrable=False,"))
    assert result.state == "success"
    assert "decided by Retry-After (MoEngage's Retry-After header says" in "".join(capfd.readouterr())
    assert len(moengage_sandbox.triggers) == 2


@requires_airflow_3_3
def test_retry_policy_retries_a_long_rate_limit_wait_exactly_when_the_window_reopens():
    from moengage_provider.delivery.retry_policy import MoEngageRetryPolicy

    policy = MoEngageRetryPolicy()
    decision = policy.evaluate(MoEngageRateLimitWait("wait", wait_seconds=754.0), try_number=1, max_tries=3)
    assert decision.action.value == "retry"
    assert decision.retry_delay == dt.timedelta(seconds=754)
    server = MoEngageServerError(status=502, endpoint="/v1.0/business_event/trigger")
    assert policy.evaluate(server, 1, 3).action.value == "retry"
    assert policy.evaluate(server, 1, 3).retry_delay is None
    assert policy.evaluate(KeyError("x"), 1, 3).action.value == "default"


@requires_airflow_3_3
def test_operator_uses_the_retry_policy_by_default():
    from moengage_provider.delivery.retry_policy import MoEngageRetryPolicy
    from moengage_provider.operators.business_event import TriggerBusinessEventOperator

    op = TriggerBusinessEventOperator(task_id="t", event_name="E", event_attributes={})
    assert isinstance(op.retry_policy, MoEngageRetryPolicy)


@pytest.mark.skipif(AIRFLOW_3_3_PLUS, reason="Airflow 3.3+ has RetryPolicy")
@pytest.mark.moengage_sandbox(hourly_limit=0, hour_seconds=3600.0)
def test_below_airflow_3_3_a_long_wait_retries_after_retry_delay_and_says_so(
    chain_dag, moengage_sandbox, capfd
):
    extra = "deferrable=False, retries=1, retry_delay=datetime.timedelta(seconds=0),"
    result = run_dag(chain_dag(1, window=3600, extra=extra))
    assert result.tasks["fire_0"] == ("failed", 2)
    log = "".join(capfd.readouterr())
    assert "This Airflow has no retry policies (added in 3.3)" in log
    assert "Enable retries (retries >= 1) or deferrable=True" in log  # the retry was refused too
    assert moengage_sandbox.triggers == []


@pytest.mark.skipif(AIRFLOW_3_3_PLUS, reason="Airflow 3.3+ has RetryPolicy")
def test_below_airflow_3_3_the_operator_falls_back_to_plain_retries():
    from moengage_provider.operators.business_event import TriggerBusinessEventOperator

    op = TriggerBusinessEventOperator(task_id="t", event_name="E", event_attributes={}, retries=2)
    assert getattr(op, "retry_policy", None) is None
    assert op.retries == 2


@pytest.mark.parametrize("window", [dt.timedelta(0), dt.timedelta(seconds=-5), 3600])
def test_a_rate_limit_window_that_is_no_positive_duration_is_refused_when_the_dag_is_parsed(window):
    from moengage_provider.operators.business_event import TriggerBusinessEventOperator

    with pytest.raises(ValueError, match=r"'t': rate_limit_window must be a positive datetime\.timedelta"):
        TriggerBusinessEventOperator(
            task_id="t", event_name="E", event_attributes={}, rate_limit_window=window
        )
