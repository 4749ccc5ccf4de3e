"""One report per try tells how the try ended: the typed value metrics and lineage read."""

from __future__ import annotations

import textwrap
import uuid

import pytest

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


@pytest.mark.moengage_sandbox(
    api_version="api-v5",
    events={
        "NewSeriesAlert": {"attributes": {"season": "string"}, "campaigns": ["c1", {"id": "c2", "quota": 0}]}
    },
)
def test_under_v5_the_report_and_the_lineage_facet_carry_what_came_of_the_campaigns(
    dag_from_source, moengage_sandbox
):
    from moengage_provider.observability.lineage import RUN_FACET_KEY, operator_lineage

    SEEN.clear()
    dag_id = f"tryresult_{uuid.uuid4().hex[:10]}"
    source = textwrap.dedent(SOURCE.format(dag_id=dag_id)).replace(
        "retries=1,", 'retries=1, triggered_by="ops@example.com",'
    )
    assert run_dag(dag_from_source(source, dag_id)).tasks["fire"] == ("success", 1)
    [seen] = SEEN
    assert (seen.outcome, seen.triggered_status) == ("delivered", "PARTIAL_SUCCESS")
    facet = operator_lineage(seen).run_facets[RUN_FACET_KEY]
    assert facet.triggeredStatus == "PARTIAL_SUCCESS" and facet.outcome == "delivered"
