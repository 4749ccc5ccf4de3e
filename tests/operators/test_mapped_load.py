"""Load: 150 mapped triggers against a 50-per-window limit all arrive exactly once, deferral waiting."""

from __future__ import annotations

import collections
import textwrap
import time
import uuid

import pytest

from moengage_provider.testing import MoEngageSandbox
from tests.conftest import AIRFLOW_3_3_PLUS
from tests.dagrun import run_dag

#: The rate-limit window of the operator and of the sandbox: seconds, where MoEngage's is an hour.
WINDOW_SECONDS = 2
LIMIT = 50
TRIGGERS = 150


class StillUntilRefused:
    """
    The sandbox's clock in this test. A deployment's workers fire a mapped burst together; dag.test()
    runs the mapped tasks one after another, at whatever pace the machine has, so on the real clock a
    window of seconds would meet the limit on a fast machine and never on a loaded one. Here the
    sandbox's time stands still while the burst arrives and moves on by one window at each 429 the
    sandbox has answered: on any machine the 51st trigger of a window is refused, and the refused task,
    once its deferral has waited for the operator's next window (a real wait, under WINDOW_SECONDS),
    sends into a fresh window, as a real burst's deferred tasks send in the next hour.
    """

    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self.start = time.time() // window_seconds * window_seconds
        #: The sandbox whose refusals move this clock; none while the fixture builds it.
        self.sandbox: MoEngageSandbox | None = None

    def __call__(self) -> float:
        records = self.sandbox.rejected if self.sandbox is not None else []
        refused = sum(1 for record in records if record["status"] == 429)
        return self.start + refused * self.window_seconds


CLOCK = StillUntilRefused(WINDOW_SECONDS)

SOURCE = """
import datetime
from airflow.providers.common.compat.sdk import DAG
from moengage_provider.operators.business_event import TriggerBusinessEventOperator

with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:
    TriggerBusinessEventOperator.partial(
        task_id="fire",
        event_name="BackInStock",
        triggered_by="ops@example.com",
        deferrable=True,
        rate_limit_window=datetime.timedelta(seconds={window}),
        max_active_tis_per_dag=8,
        retries=2,
        retry_delay=datetime.timedelta(seconds=1),
    ).expand(event_attributes=[{{"sku": f"SKU-{{i:03d}}", "stock": i}} for i in range({triggers})])
"""


@pytest.mark.skipif(
    not AIRFLOW_3_3_PLUS,
    reason="dag.test() before Airflow 3.3 runs mapped task instances about 4x slower (150 in ~250 s, "
    "not ~60 s): the load runs on the Airflow in uv.lock; the deferral on a 429 is tested on every "
    "release line (tests/operators/test_rate_limits.py)",
)
@pytest.mark.timeout(900)
@pytest.mark.moengage_sandbox(
    hourly_limit=LIMIT, hour_seconds=WINDOW_SECONDS, daily_limit=10_000, clock=CLOCK
)
def test_150_mapped_triggers_each_delivered_once(dag_from_source, moengage_sandbox, capfd):
    CLOCK.sandbox = moengage_sandbox
    dag_id = f"load_{uuid.uuid4().hex[:8]}"
    source = SOURCE.format(dag_id=dag_id, window=WINDOW_SECONDS, triggers=TRIGGERS)
    dag = dag_from_source(textwrap.dedent(source), dag_id)
    result = run_dag(dag)
    assert result.state == "success"
    skus = collections.Counter(t["event_attributes"]["sku"] for t in moengage_sandbox.triggers)
    assert len(skus) == TRIGGERS
    assert set(skus.values()) == {1}, [sku for sku, n in skus.items() if n > 1]
    # The limit was met after the 50th and after the 100th trigger, and only there.
    refused = [r for r in moengage_sandbox.rejected if r["status"] == 429]
    assert len(refused) == TRIGGERS // LIMIT - 1
    assert len(moengage_sandbox.rejected) == len(refused)
    log = "".join(capfd.readouterr())
    # Every refusal was waited out by deferring, never by a hammering loop or a failed try.
    assert log.count("deferring (worker slot released)") == len(refused)
    assert all(state == "success" and tries == 1 for state, tries in result.tasks.values())
