"""
### Callback-driven: a notifier announces the price list

Reads the restocked products file (`dags/data/restocked_products.csv`), checks it, and publishes a
price list (a JSON file under the Airflow home). When — and only when — `publish_price_list`
succeeds, its `on_success_callback`, `send_moengage_business_event`, fires the MoEngage business
event **PriceListPublished** with attributes taken from the task's return value:

| attribute | type | value |
| --- | --- | --- |
| `products` | int | products on the list |
| `categories` | array | their distinct categories |
| `cheapest_price` | float | the lowest price |
| `published_on` | date | the run's logical date, or the day it ran when triggered by hand |

A notifier fits an event that is a side effect of a task's success, with no task of its own. It has
the operator's validation, errors and log line, but no rerun de-duplication (callbacks have no task
state store): where a duplicate message would matter, use `TriggerBusinessEventOperator`.

Connection: `moengage_default`. Retries: 2, three minutes apart (the callback fires once, after the
try that succeeded).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task

from moengage_provider.notifications.moengage import send_moengage_business_event

DATA_DIR = Path(__file__).resolve().parent / "data"

announce_price_list = send_moengage_business_event(
    event_name="PriceListPublished",
    # `tojson` keeps the types of the task's return value: ints, floats and lists arrive as such.
    event_attributes="{{ ti.xcom_pull(task_ids='publish_price_list') | tojson }}",
    triggered_by="merchandising@example.com",
)

with DAG(
    dag_id="moengage_notify_price_list",
    description="Publish a price list; a success callback fires the MoEngage PriceListPublished event",
    doc_md=__doc__,
    schedule="@daily",
    start_date=dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "merchandising", "retries": 2, "retry_delay": dt.timedelta(minutes=3)},
    tags=["moengage", "sample", "notifier"],
) as dag:

    @task(on_success_callback=announce_price_list)
    def publish_price_list(**context: Any) -> dict[str, Any]:
        import csv
        import json
        import os

        with (DATA_DIR / "restocked_products.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            from airflow.providers.common.compat.sdk import AirflowSkipException

            raise AirflowSkipException("The restocked products file is empty: no price list, no event.")
        prices = sorted(({"sku": r["sku"], "price": float(r["price"])} for r in rows), key=lambda p: p["sku"])
        # A run triggered from the CLI, the REST API or the UI has no logical date in Airflow 3 (and
        # so no `ds`): its day is the day it was asked to run.
        day = (context.get("logical_date") or context["dag_run"].run_after).date().isoformat()
        target = Path(os.environ.get("AIRFLOW_HOME", ".")) / "price_lists" / f"{day}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(prices, indent=2))
        return {
            "products": len(prices),
            "categories": sorted({r["category"] for r in rows}),
            "cheapest_price": min(p["price"] for p in prices),
            "published_on": day,
        }

    publish_price_list()
