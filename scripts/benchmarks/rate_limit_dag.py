"""Benchmark DAG: COUNT triggers, one mapped task each. Copied into the dags folder as
``<dag_id>.py`` next to ``<dag_id>.json`` holding its parameters (dag_id, conn_id, deferrable,
window, count)."""

import datetime
import json
from pathlib import Path

from airflow.sdk import DAG

from moengage_provider.operators.business_event import TriggerBusinessEventOperator

params = json.loads(Path(__file__).with_suffix(".json").read_text())

with DAG(params["dag_id"], schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:
    TriggerBusinessEventOperator.partial(
        task_id="fire",
        event_name="BackInStock",
        triggered_by="ops@example.com",
        moengage_conn_id=params["conn_id"],
        deferrable=params["deferrable"],
        rate_limit_window=datetime.timedelta(seconds=params["window"]),
        retries=0,
    ).expand(event_attributes=[{"sku": f"SKU-{i:03d}", "stock": i} for i in range(params["count"])])
