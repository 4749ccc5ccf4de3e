"""Reference: one DAG, one TriggerBusinessEventOperator."""

import datetime

from airflow.sdk import DAG

from moengage_provider.operators.business_event import TriggerBusinessEventOperator

with DAG(
    "bench_minimal_moengage", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False
) as dag:
    TriggerBusinessEventOperator(
        task_id="announce",
        event_name="NewSeriesAlert",
        event_attributes={"season": "{{ params.season }}", "episodes": 12},
        triggered_by="data-team@example.com",
    )
