"""Benchmark DAG: COUNT triggers, fired as the samples fire them: one mapped task per event
(``shape: "mapped"``, as ``moengage_event_per_item``) or one task per event (``shape: "tasks"``).
Copied into the dags folder as ``<dag_id>.py`` next to ``<dag_id>.json`` holding its parameters
(dag_id, conn_id, deferrable, hour_seconds, count, shape)."""

import datetime
import json
from pathlib import Path

from airflow.sdk import DAG

from moengage_provider.operators.business_event import TriggerBusinessEventOperator

params = json.loads(Path(__file__).with_suffix(".json").read_text())
common = dict(
    event_name="BackInStock",
    triggered_by="ops@example.com",
    moengage_conn_id=params["conn_id"],
    deferrable=params["deferrable"],
    # MoEngage's hour as the sandbox's: the windows that decide a wait without headers scale with it.
    rate_limit_window=datetime.timedelta(seconds=params["hour_seconds"]),
    retries=0,
)
events = [{"sku": f"SKU-{i:03d}", "stock": i} for i in range(params["count"])]

with DAG(params["dag_id"], schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:
    if params.get("shape", "mapped") == "mapped":
        TriggerBusinessEventOperator.partial(task_id="fire", **common).expand(event_attributes=events)
    else:
        for i, attributes in enumerate(events):
            TriggerBusinessEventOperator(task_id=f"fire_{i:03d}", event_attributes=attributes, **common)
