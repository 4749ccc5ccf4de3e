"""
### Asset-driven, part 1: the data DAG

Loads the file of new episodes (`dags/data/new_episodes.csv`) into the catalog database, checks
the load, and only then updates the Airflow Asset **catalog_new_episodes**: `check_load` declares
it as its outlet and attaches `{"load_run_id": ..., "new_episodes": ...}` to the asset event.

This DAG knows nothing about MoEngage. The messaging DAG, `moengage_asset_announce_episodes`, is
scheduled on the asset and fires the business event: that is how a data team and a CRM team each
own their DAG.

**No rows, no event.** Episodes already in the database are not loaded twice; when the file adds
nothing, `check_load` is skipped (its log says why), the asset is not updated, and the messaging DAG
does not run.

Connection: `catalog_db` (SQLite by default, Postgres by changing the connection).
Retries: 2, three minutes apart.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Asset, Param, task

CATALOG_CONN_ID = "catalog_db"
TABLE = "new_episodes"
DATA_DIR = Path(__file__).resolve().parent / "data"
COLUMNS = ("series", "season", "episode", "episode_title", "air_date")
# The same name and URI in the messaging DAG: that is what ties the two together.
NEW_EPISODES = Asset(name="catalog_new_episodes", uri="catalog://catalog_db/new_episodes")

CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    series VARCHAR(200) NOT NULL,
    season INTEGER NOT NULL,
    episode INTEGER NOT NULL,
    episode_title VARCHAR(200) NOT NULL,
    air_date DATE NOT NULL,
    loaded_by_run VARCHAR(250) NOT NULL,
    loaded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (series, season, episode)
)
"""
INSERT_NEW = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}, loaded_by_run, loaded_at) "
    "VALUES ({placeholders}) ON CONFLICT (series, season, episode) DO NOTHING"
)


def read_episodes(path: Path) -> list[tuple[Any, ...]]:
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
                    raw["series"].strip(),
                    int(raw["season"]),
                    int(raw["episode"]),
                    raw["episode_title"].strip(),
                    dt.date.fromisoformat(raw["air_date"].strip()).isoformat(),
                )
            except (TypeError, ValueError, AttributeError) as err:
                raise AirflowFailException(f"{path}, line {line}: {err}") from None
            if not row[0] or not row[3] or row[1] < 1 or row[2] < 1:
                raise AirflowFailException(
                    f"{path}, line {line}: needs a series, a title, season/episode >= 1"
                )
            rows.append(row)
    return rows


with DAG(
    dag_id="moengage_asset_load_episodes",
    description="Load new episodes into the catalog DB; update the catalog_new_episodes asset",
    doc_md=__doc__,
    schedule="@daily",
    start_date=dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": dt.timedelta(minutes=3)},
    params={
        "episodes_file": Param(
            "new_episodes.csv",
            type="string",
            description="CSV of new episodes: a file name in dags/data/, or an absolute path.",
        )
    },
    tags=["moengage", "sample", "assets"],
) as dag:

    @task
    def load_new_episodes(params: dict[str, Any], run_id: str) -> dict[str, Any]:
        """Insert the file's episodes that the database does not have yet, in one transaction."""
        from contextlib import closing

        from airflow.providers.common.compat.sdk import BaseHook

        path = DATA_DIR / params["episodes_file"]
        rows = read_episodes(path)
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

    @task(outlets=[NEW_EPISODES])
    def check_load(loaded: dict[str, Any], run_id: str, outlet_events: Any) -> dict[str, Any]:
        """Count what this run committed; update the asset only when it added episodes."""
        from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSkipException, BaseHook

        hook = BaseHook.get_hook(CATALOG_CONN_ID)
        (new,) = hook.get_first(
            f"SELECT COUNT(*) FROM {TABLE} WHERE loaded_by_run = {hook.placeholder}", parameters=(run_id,)
        )
        if not new:
            raise AirflowSkipException(
                f"No new episodes: none of the {loaded['rows_in_file']} rows of {loaded['file']} is new to "
                f"the database. Not updating {NEW_EPISODES.name}, so no announcement runs."
            )
        if new > loaded["rows_in_file"]:
            raise AirflowFailException(
                f"{new} rows are marked as loaded by {run_id}, more than the file's {loaded['rows_in_file']}."
            )
        outlet_events[NEW_EPISODES].extra = {"load_run_id": run_id, "new_episodes": int(new)}
        return {"load_run_id": run_id, "new_episodes": int(new)}

    check_load(load_new_episodes())
