"""
### Load, then announce

Loads the file of new titles (`dags/data/new_titles.csv`) into the catalog database, checks the
load, then fires the MoEngage business event **NewTitlesAdded**. Campaigns set to that event
message the matching users.

The event's attributes are read back from the database **after the load has committed**, so they
describe what is really in the catalog, with the types MoEngage expects:

| attribute | type | value |
| --- | --- | --- |
| `new_titles` | int | titles this run added to the catalog |
| `titles` | array | their names, by release date |
| `genres` | array | their distinct genres |
| `total_episodes` | int | episodes across the new titles |
| `first_release` | date | earliest release date among them |
| `catalog_size` | int | titles in the catalog after the load |

**No rows, no event.** Titles already in the catalog are not loaded twice, so a re-run (or a file
that only repeats earlier titles, or an empty file) adds nothing: `check_load` is then *skipped*,
its log says why, and `announce_new_titles` is skipped with it. A load or check that fails stops
the run before anything is sent.

Connections: `catalog_db` (any SQL database Airflow has a hook for: a SQLite file by default,
Postgres by changing the connection) and `moengage_default`. With MoEngage's Business Events API V5
(extra `api_version`), the trigger also says whether the event's campaigns went out
(`triggered_status` in its log line and result) and fails at once when no active campaign uses it:

    export AIRFLOW_CONN_MOENGAGE_DEFAULT='{"conn_type": "moengage", "login": "YOUR_WORKSPACE_ID",
      "password": "YOUR_API_KEY", "extra": {"data_center": "DC-01", "api_version": "api-v5"}}'

Retries: 2, three minutes apart, for every task. MoEngage errors that a retry cannot fix (a bad
event, a wrong key: HTTP 4xx) fail the trigger at once; 5xx answers and timeouts are retried.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Asset, Param, task

from moengage_provider.operators.business_event import TriggerBusinessEventOperator

CATALOG_CONN_ID = "catalog_db"
TABLE = "new_titles"
DATA_DIR = Path(__file__).resolve().parent / "data"
COLUMNS = ("title_id", "title", "kind", "genre", "episodes", "release_date")

# Portable SQL (SQLite 3.24+, Postgres 9.5+): the same statements run on either database.
CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    title_id VARCHAR(32) PRIMARY KEY,
    title VARCHAR(200) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    genre VARCHAR(64) NOT NULL,
    episodes INTEGER NOT NULL,
    release_date DATE NOT NULL,
    loaded_by_run VARCHAR(250) NOT NULL,
    loaded_at TIMESTAMP NOT NULL
)
"""
INSERT_NEW = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}, loaded_by_run, loaded_at) "
    "VALUES ({placeholders}) ON CONFLICT (title_id) DO NOTHING"
)

log = logging.getLogger(__name__)


def read_titles(path: Path) -> list[tuple[Any, ...]]:
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
                    raw["title_id"].strip(),
                    raw["title"].strip(),
                    raw["kind"].strip(),
                    raw["genre"].strip(),
                    int(raw["episodes"]),
                    dt.date.fromisoformat(raw["release_date"].strip()).isoformat(),
                )
            except (TypeError, ValueError, AttributeError) as err:
                raise AirflowFailException(f"{path}, line {line}: {err}") from None
            if not row[0] or not row[1] or row[4] < 1:
                raise AirflowFailException(
                    f"{path}, line {line}: needs a title_id, a title and episodes >= 1"
                )
            rows.append(row)
    return rows


with DAG(
    dag_id="moengage_load_then_announce",
    description="Load new titles into the catalog DB, check the load, fire MoEngage NewTitlesAdded",
    doc_md=__doc__,
    schedule="@daily",
    start_date=dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": dt.timedelta(minutes=3)},
    params={
        "titles_file": Param(
            "new_titles.csv",
            type="string",
            description="CSV of new titles: a file name in dags/data/, or an absolute path.",
        )
    },
    tags=["moengage", "sample", "catalog"],
) as dag:

    @task
    def load_new_titles(params: dict[str, Any], run_id: str) -> dict[str, Any]:
        """Insert the file's titles that the catalog does not have yet, in one transaction."""
        from contextlib import closing

        from airflow.providers.common.compat.sdk import BaseHook

        path = DATA_DIR / params["titles_file"]
        rows = read_titles(path)
        hook = BaseHook.get_hook(CATALOG_CONN_ID)
        loaded_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
        insert = INSERT_NEW.format(placeholders=", ".join([hook.placeholder] * (len(COLUMNS) + 2)))
        # One transaction: the check (and so the event) sees all of the file's new rows or none.
        with closing(hook.get_conn()) as conn:
            cursor = conn.cursor()
            cursor.execute(CREATE_TABLE)
            if rows:
                cursor.executemany(insert, [(*row, run_id, loaded_at) for row in rows])
            conn.commit()
        log.info("Loaded %s (%d rows) into %s on connection %r", path, len(rows), TABLE, CATALOG_CONN_ID)
        return {"file": str(path), "rows_in_file": len(rows)}

    @task
    def check_load(loaded: dict[str, Any], run_id: str) -> dict[str, Any]:
        """Read back what this run committed; skip (no event) when it added nothing."""
        from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSkipException, BaseHook

        hook = BaseHook.get_hook(CATALOG_CONN_ID)
        new = hook.get_records(
            f"SELECT title, genre, episodes, release_date FROM {TABLE} "
            f"WHERE loaded_by_run = {hook.placeholder} ORDER BY release_date, title",
            parameters=(run_id,),
        )
        (catalog_size,) = hook.get_first(f"SELECT COUNT(*) FROM {TABLE}")
        if not new:
            reason = (
                f"No new titles: {loaded['file']} has {loaded['rows_in_file']} rows and none is new to "
                f"the catalog ({catalog_size} titles). Not sending NewTitlesAdded."
            )
            raise AirflowSkipException(reason)  # the task log shows the reason
        if len(new) > loaded["rows_in_file"]:
            raise AirflowFailException(
                f"{len(new)} rows are marked as loaded by {run_id}, more than the file's "
                f"{loaded['rows_in_file']}: the catalog is not in the state this run left it in."
            )
        titles = [str(title) for title, _, _, _ in new]
        if any(not title.strip() for title in titles) or any(int(eps) < 1 for _, _, eps, _ in new):
            raise AirflowFailException(f"{TABLE}: rows loaded by {run_id} have an empty title or no episodes")
        summary = {
            "new_titles": len(new),
            "titles": titles,
            "genres": sorted({str(genre) for _, genre, _, _ in new}),
            "total_episodes": sum(int(eps) for _, _, eps, _ in new),
            # SQLite hands dates back as text, Postgres as dates: send a date either way.
            "first_release": min(dt.date.fromisoformat(str(day)[:10]) for _, _, _, day in new),
            "catalog_size": int(catalog_size),
        }
        log.info("Load checked: %d new titles, %d in the catalog", len(new), catalog_size)
        return summary

    announce = TriggerBusinessEventOperator(
        task_id="announce_new_titles",
        event_name="NewTitlesAdded",
        event_attributes=check_load(load_new_titles()),
        triggered_by="data-platform@example.com",
        # Lineage: the catalog table feeds the event (OpenLineage shows "table -> event").
        inlets=[Asset(uri=f"catalog://{CATALOG_CONN_ID}/{TABLE}")],
    )
