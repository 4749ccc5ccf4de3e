"""
### One event per item

Loads the restock file (`dags/data/restocked_products.csv`) into the catalog database, then fires
one MoEngage business event **BackInStock** per restocked product with dynamic task mapping
(`TriggerBusinessEventOperator.partial(...).expand(event_attributes=...)`): one mapped task per
product, named by its SKU in the UI, so a failed item can be retried on its own.

Attributes of each event: `sku` (string), `product_name` (string), `category` (string),
`units` (int), `price` (float), `restocked_on` (date).

**Gentle bursts.** MoEngage accepts 10 business event triggers per 5 minutes, 50 per hour and 200
per day per workspace. Here:

* `max_active_tis_per_dag=2` sends at most two events at a time, across all runs of this DAG
  (a pool shared by every DAG that calls MoEngage does the same across DAGs). That smooths the
  burst; it does not change how many triggers the hour counts;
* so `plan_announcements` refuses a burst larger than the `max_events` budget (20 by default) and
  fails *before anything is sent*: announce a large restock with one event and a list attribute
  instead (as `moengage_load_then_announce` does);
* a trigger over the limit gets HTTP 429 (`MoEngageRateLimitError`) and waits as MoEngage's
  headers say, or for the next window (`deferrable=True`: in the triggerer, no worker slot held;
  needs a running `airflow triggerer`),
  then sends; nothing is sent twice. A wait longer than `max_rate_limit_wait` (3 hours) fails the
  task with nothing delivered.

**No rows, no event.** A product restocked on a day already in the database is not loaded twice;
when the file adds nothing, `plan_announcements` is skipped (its log says why) and so is every
trigger.

Connections: `catalog_db` (SQLite by default, Postgres by changing the connection) and
`moengage_default`.
Retries: 2, three minutes apart, for every task. MoEngage errors that a retry cannot fix (HTTP 4xx)
fail a trigger at once; 5xx answers and timeouts are retried.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Asset, Param, task

from moengage_provider.operators.business_event import TriggerBusinessEventOperator

CATALOG_CONN_ID = "catalog_db"
TABLE = "restocked_products"
DATA_DIR = Path(__file__).resolve().parent / "data"
COLUMNS = ("sku", "product_name", "category", "units", "price", "restocked_on")

CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    sku VARCHAR(32) NOT NULL,
    product_name VARCHAR(200) NOT NULL,
    category VARCHAR(64) NOT NULL,
    units INTEGER NOT NULL,
    price NUMERIC(10, 2) NOT NULL,
    restocked_on DATE NOT NULL,
    loaded_by_run VARCHAR(250) NOT NULL,
    loaded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (sku, restocked_on)
)
"""
INSERT_NEW = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}, loaded_by_run, loaded_at) "
    "VALUES ({placeholders}) ON CONFLICT (sku, restocked_on) DO NOTHING"
)


def read_restocks(path: Path) -> list[tuple[Any, ...]]:
    """The CSV's rows, typed, in COLUMNS order; a bad row fails the load before anything is written."""
    import csv

    from airflow.providers.common.compat.sdk import AirflowFailException

    rows = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or list(reader.fieldnames) != list(COLUMNS):
            raise AirflowFailException(f"{path}: expected the columns {', '.join(COLUMNS)}")
        for line, raw in enumerate(reader, start=2):
            try:
                row = (
                    raw["sku"].strip(),
                    raw["product_name"].strip(),
                    raw["category"].strip(),
                    int(raw["units"]),
                    float(raw["price"]),
                    dt.date.fromisoformat(raw["restocked_on"].strip()).isoformat(),
                )
            except (TypeError, ValueError, AttributeError) as err:
                raise AirflowFailException(f"{path}, line {line}: {err}") from None
            if not row[0] or not row[1] or row[3] < 1 or row[4] <= 0:
                raise AirflowFailException(f"{path}, line {line}: needs a sku, a name, units >= 1, price > 0")
            rows.append(row)
    return rows


with DAG(
    dag_id="moengage_event_per_item",
    description="Load restocked products, fire one MoEngage BackInStock event per product (mapped)",
    doc_md=__doc__,
    schedule="@daily",
    start_date=dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": dt.timedelta(minutes=3)},
    params={
        "restocks_file": Param(
            "restocked_products.csv",
            type="string",
            description="CSV of restocked products: a file name in dags/data/, or an absolute path.",
        ),
        "max_events": Param(
            20,
            type="integer",
            minimum=1,
            description="Most BackInStock events one run may send (MoEngage: 10 per 5 minutes, 50/hour, 200/day).",
        ),
    },
    tags=["moengage", "sample", "dynamic-task-mapping"],
) as dag:

    @task
    def load_restocks(params: dict[str, Any], run_id: str) -> dict[str, Any]:
        """Insert the file's restocks that the database does not have yet, in one transaction."""
        from contextlib import closing

        from airflow.providers.common.compat.sdk import BaseHook

        path = DATA_DIR / params["restocks_file"]
        rows = read_restocks(path)
        hook = BaseHook.get_hook(CATALOG_CONN_ID)
        loaded_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
        insert = INSERT_NEW.format(placeholders=", ".join([hook.placeholder] * (len(COLUMNS) + 2)))
        with closing(hook.get_conn()) as conn:
            cursor = conn.cursor()
            cursor.execute(CREATE_TABLE)
            if rows:
                cursor.executemany(insert, [(*row, run_id, loaded_at) for row in rows])
            conn.commit()
        return {"file": str(path), "rows_in_file": len(rows)}

    @task
    def plan_announcements(loaded: dict[str, Any], params: dict[str, Any], run_id: str) -> list[dict]:
        """One attribute set per product this run added; skip when none, fail when over budget."""
        from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSkipException, BaseHook

        hook = BaseHook.get_hook(CATALOG_CONN_ID)
        new = hook.get_records(
            f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE loaded_by_run = {hook.placeholder} ORDER BY sku",
            parameters=(run_id,),
        )
        if not new:
            raise AirflowSkipException(
                f"No new restocks: none of the {loaded['rows_in_file']} rows of {loaded['file']} is new "
                "to the database. Not sending BackInStock."
            )
        budget = int(params["max_events"])
        if len(new) > budget:
            raise AirflowFailException(
                f"{len(new)} products were restocked, more than this run's budget of {budget} events "
                "(MoEngage allows 10 triggers per 5 minutes, 50 per hour and 200 per day per workspace). "
                "Nothing was sent; "
                "the rows are loaded. Announce a restock this large with one event and a list attribute "
                "(as moengage_load_then_announce does), or raise max_events if the workspace has room."
            )
        return [
            {
                "sku": str(sku),
                "product_name": str(name),
                "category": str(category),
                "units": int(units),
                "price": float(price),
                # SQLite hands dates back as text, Postgres as dates: send a date either way.
                "restocked_on": dt.date.fromisoformat(str(day)[:10]),
            }
            for sku, name, category, units, price, day in new
        ]

    TriggerBusinessEventOperator.partial(
        task_id="announce_back_in_stock",
        event_name="BackInStock",
        triggered_by="merchandising@example.com",
        # At most two sends at a time, across every run of this DAG (MoEngage's limits are per workspace).
        max_active_tis_per_dag=2,
        # Over the rate limit, wait for the next window in the triggerer, not in a worker slot.
        deferrable=True,
        map_index_template="{{ task.event_attributes['sku'] }}",
        # Lineage: the catalog table feeds the events (OpenLineage shows "table -> event").
        inlets=[Asset(uri=f"catalog://{CATALOG_CONN_ID}/{TABLE}")],
    ).expand(event_attributes=plan_announcements(load_restocks()))
