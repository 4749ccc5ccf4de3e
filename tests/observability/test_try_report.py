"""One report per try tells how the try ended: the typed value metrics and lineage read."""

from __future__ import annotations

import textwrap
import uuid

from moengage_provider.observability.report import TryReport
from tests.conftest import requires_airflow_3_3
from tests.dagrun import run_dag

SEEN: list = []

SOURCE = """
import datetime
from airflow.providers.common.compat.sdk import DAG
from moengage_provider.operators.business_event import TriggerBusinessEventOperator
from tests.observability.test_try_report import SEEN


class Recording(TriggerBusinessEventOperator):
    def _try_finished(self, report):
        super()._try_finished(report)
        SEEN.append(report)


with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:
    Recording(
        task_id="fire",
        event_name="NewSeriesAlert",
        event_attributes={{"season": "Season 1"}},
        retries=1,
        retry_delay=datetime.timedelta(seconds=0),
    )
"""


@requires_airflow_3_3
def test_each_try_reports_its_outcome_once(dag_from_source, moengage_sandbox):
    SEEN.clear()
    moengage_sandbox.fail_next(500)
    dag_id = f"tryresult_{uuid.uuid4().hex[:10]}"
    result = run_dag(dag_from_source(textwrap.dedent(SOURCE.format(dag_id=dag_id)), dag_id))
    assert result.tasks["fire"] == ("success", 2)
    first, second = SEEN
    assert isinstance(first, TryReport) and isinstance(second, TryReport)
    assert (first.outcome, first.http_status, first.resolution) == ("unknown", 500, None)
    assert (second.outcome, second.http_status, second.resolution) == ("delivered", None, "resend")
    assert first.event_name == second.event_name == "NewSeriesAlert"
    assert first.deduplicated is None and second.deduplicated is None
