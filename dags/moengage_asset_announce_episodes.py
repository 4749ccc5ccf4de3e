"""
### Asset-driven, part 2: the messaging DAG

Scheduled on the Airflow Asset **catalog_new_episodes**, which the data DAG
`moengage_asset_load_episodes` updates after a checked load. Each asset event names the load
(`load_run_id` in its extra); this DAG reads those episodes back from the catalog database and fires
the MoEngage business event **NewEpisodesAvailable**:

| attribute | type | value |
| --- | --- | --- |
| `new_episodes` | int | episodes in the load(s) |
| `series` | array | the series they belong to |
| `episode_titles` | array | their titles, by air date |
| `first_air_date` | date | earliest air date |
| `last_air_date` | date | latest air date |

If several loads finish before this DAG starts, Airflow runs it once with all their asset events,
and one event announces them all. Triggered by hand (no asset event), it announces the load named
by the `load_run_id` param, or else the latest load.

**Announced once per load** (Airflow 3.3+): the trigger's `idempotency_key` names the load(s), so a
run by hand (or a second wake-up) for a load already announced is *skipped* and sends nothing; its
log names the run that announced it. See docs/exactly-once.md.

Connections: `catalog_db` (SQLite by default, Postgres by changing the connection) and
`moengage_default`.
Retries: 2, three minutes apart. MoEngage errors that a retry cannot fix (HTTP 4xx) fail the
trigger at once; 5xx answers and timeouts are retried.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Asset, Param, task

from moengage_provider.operators.business_event import TriggerBusinessEventOperator

CATALOG_CONN_ID = "catalog_db"
TABLE = "new_episodes"
# The same name and URI as in the data DAG: that is what ties the two together.
NEW_EPISODES = Asset(name="catalog_new_episodes", uri="catalog://catalog_db/new_episodes")

with DAG(
    dag_id="moengage_asset_announce_episodes",
    description="On each catalog_new_episodes update, fire MoEngage NewEpisodesAvailable",
    doc_md=__doc__,
    schedule=[NEW_EPISODES],
    start_date=dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "crm-team", "retries": 2, "retry_delay": dt.timedelta(minutes=3)},
    params={
        "load_run_id": Param(
            None,
            type=["null", "string"],
            description="For a run by hand: the data DAG's run whose episodes to announce (default: latest).",
        )
    },
    tags=["moengage", "sample", "assets"],
) as dag:

    @task
    def summarize_new_episodes(
        triggering_asset_events: Any, params: dict[str, Any], ti: Any
    ) -> dict[str, Any]:
        """The episodes of the load(s) that triggered this run, read back from the catalog."""
        from airflow.providers.common.compat.sdk import AirflowSkipException, BaseHook

        hook = BaseHook.get_hook(CATALOG_CONN_ID)
        events = triggering_asset_events.get(NEW_EPISODES, []) if triggering_asset_events else []
        load_run_ids = [event.extra.get("load_run_id") or event.source_run_id for event in events]
        if not load_run_ids and params.get("load_run_id"):
            load_run_ids = [params["load_run_id"]]
        if not load_run_ids:  # a run by hand: the latest load
            latest = hook.get_first(f"SELECT loaded_by_run FROM {TABLE} ORDER BY loaded_at DESC LIMIT 1")
            load_run_ids = [latest[0]] if latest else []
        rows = []
        if load_run_ids:
            rows = hook.get_records(
                f"SELECT series, episode_title, air_date FROM {TABLE} "
                f"WHERE loaded_by_run IN ({', '.join([hook.placeholder] * len(load_run_ids))}) "
                "ORDER BY air_date, series, season, episode",
                parameters=tuple(load_run_ids),
            )
        if not rows:
            raise AirflowSkipException(
                f"No episodes found for the load(s) {load_run_ids or '(none yet)'}; not sending "
                "NewEpisodesAvailable."
            )
        # What the announcement is about: its idempotency key (not an attribute of the event).
        ti.xcom_push(key="announced_loads", value=",".join(sorted(load_run_ids)))
        # SQLite hands dates back as text, Postgres as dates: send dates either way.
        air_dates = [dt.date.fromisoformat(str(day)[:10]) for _, _, day in rows]
        return {
            "new_episodes": len(rows),
            "series": list(dict.fromkeys(str(series) for series, _, _ in rows)),
            "episode_titles": [str(title) for _, title, _ in rows],
            "first_air_date": min(air_dates),
            "last_air_date": max(air_dates),
        }

    TriggerBusinessEventOperator(
        task_id="announce_new_episodes",
        event_name="NewEpisodesAvailable",
        event_attributes=summarize_new_episodes(),
        triggered_by="crm-team@example.com",
        # Lineage: the catalog table feeds the event (OpenLineage shows "table -> event").
        inlets=[NEW_EPISODES],
        # Once per load: a run by hand for a load already announced skips instead of re-announcing.
        idempotency_key="NewEpisodesAvailable:{{ ti.xcom_pull(task_ids='summarize_new_episodes', key='announced_loads') }}",
    )
