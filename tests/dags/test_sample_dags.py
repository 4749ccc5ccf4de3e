"""
The sample DAGs in dags/, run for real: ``dag.test()``, a SQLite catalog reached through the
``catalog_db`` connection, real HTTP to a strict sandbox that declares the events as in
dags/data/moengage_events.json. Each test asserts exactly which events arrived, with which
attributes and JSON types, once, and only after the load's rows were committed.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import importlib.util
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AIRFLOW_3_PLUS, load_dag_file
from tests.dagrun import run_dag

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "dags" / "data"
DECLARED_EVENTS = json.loads((DATA / "moengage_events.json").read_text())["events"]
STRICT = {"permissive": False, "events": DECLARED_EVENTS}

# Strict like a real workspace: an undeclared event or attribute, or a wrong type, is a 400.
pytestmark = pytest.mark.moengage_sandbox(**STRICT)


# -- helpers ---------------------------------------------------------------------------------------


class Catalog:
    """The catalog database the DAGs load into, read directly (not through the DAGs' code)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.path)) as conn:
            return conn.execute(sql, params).fetchall()

    def count(self, table: str, run_id: str | None = None) -> int:
        if run_id is None:
            return self.rows(f"SELECT COUNT(*) FROM {table}")[0][0]
        return self.rows(f"SELECT COUNT(*) FROM {table} WHERE loaded_by_run = ?", run_id)[0][0]

    def latest_loaded_at(self, table: str, run_id: str) -> dt.datetime:
        (value,) = self.rows(f"SELECT MAX(loaded_at) FROM {table} WHERE loaded_by_run = ?", run_id)[0]
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.timezone.utc)


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:
    """A fresh SQLite catalog per test, behind the ``catalog_db`` connection as a user would set it."""
    if importlib.util.find_spec("airflow.providers.sqlite") is None:
        pytest.fail("The sample DAGs need apache-airflow-providers-sqlite (a dev dependency): run uv sync.")
    path = tmp_path / "catalog.db"
    monkeypatch.setenv("AIRFLOW_CONN_CATALOG_DB", json.dumps({"conn_type": "sqlite", "host": str(path)}))
    return Catalog(path)


@pytest.fixture
def sample_dag(sample_dags_folder: Path):
    """Load a sample DAG as shipped, except that a retry comes at once instead of minutes later."""

    def load(dag_id: str):
        dag = load_dag_file(sample_dags_folder / f"{dag_id}.py", dag_id)
        # dag.test() sleeps through retry_delay; an unexpected failure should fail the test now,
        # not in 2 x 3 minutes. (The shipped retries are asserted in test_dag_integrity.py.)
        for task in dag.tasks:
            if hasattr(task, "partial_kwargs"):
                task.partial_kwargs["retry_delay"] = dt.timedelta(0)
            else:
                task.retry_delay = dt.timedelta(0)
        return dag

    return load


def read_csv(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def json_types(attributes: dict[str, Any]) -> dict[str, str]:
    """Attribute -> JSON type as MoEngage sees it (``list[str]`` for an array of strings)."""

    def kind(value: Any) -> str:
        if isinstance(value, list):
            return f"list[{','.join(sorted({kind(item) for item in value}))}]"
        return type(value).__name__

    return {name: kind(value) for name, value in attributes.items()}


def received_at(trigger: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(trigger["received_at"].replace("Z", "+00:00"))


def trigger_requests(sandbox) -> list[dict[str, Any]]:
    return [r for r in sandbox.requests if r["path"] == "/v1.0/business_event/trigger"]


def task_end(dag_id: str, run_id: str, task_id: str) -> dt.datetime:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id).one()
        return ti.end_date


def asset_events(asset_name: str, source_run_ids: list[str]) -> list[dict[str, Any]]:
    """The asset events the given producer runs recorded in Airflow's metadata DB."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == asset_name, AssetEvent.source_run_id.in_(source_run_ids))
            .order_by(AssetEvent.id)
            .all()
        )
        return [
            {
                "id": row.id,
                "extra": row.extra,
                "source_dag_id": row.source_dag_id,
                "source_task_id": row.source_task_id,
                "source_run_id": row.source_run_id,
            }
            for row in rows
        ]


@contextlib.contextmanager
def triggered_by(monkeypatch: pytest.MonkeyPatch, event_ids: list[int]) -> Iterator[None]:
    """
    Make the next ``dag.test()`` run consume these asset events, as a run the scheduler starts.

    ``dag.test()`` creates a manual run and no scheduler runs here; attaching the events to the run
    it creates is what the scheduler does, so the tasks see them in ``triggering_asset_events``.
    """
    import airflow.models.dagrun as dagrun_module
    from airflow.models.asset import AssetEvent

    create = dagrun_module.get_or_create_dagrun

    def create_consuming(**kwargs: Any):
        dag_run = create(**kwargs)
        session = kwargs["session"]
        events = session.query(AssetEvent).filter(AssetEvent.id.in_(event_ids)).all()
        dag_run.consumed_asset_events.extend(events)
        session.commit()
        return dag_run

    with monkeypatch.context() as patch:
        patch.setattr(dagrun_module, "get_or_create_dagrun", create_consuming)
        yield


# -- 1. load, then announce ------------------------------------------------------------------------

TITLES = read_csv("new_titles.csv")
TITLE_COLUMNS = list(TITLES[0])
NEW_TITLES_TYPES = {
    "new_titles": "int",
    "titles": "list[str]",
    "genres": "list[str]",
    "total_episodes": "int",
    "first_release": "str",
    "catalog_size": "int",
}


def expected_new_titles(rows: list[dict[str, str]], catalog_size: int) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: (r["release_date"], r["title"]))
    return {
        "new_titles": len(rows),
        "titles": [r["title"] for r in rows],
        "genres": sorted({r["genre"] for r in rows}),
        "total_episodes": sum(int(r["episodes"]) for r in rows),
        "first_release": rows[0]["release_date"],
        "catalog_size": catalog_size,
    }


def test_load_then_announce_sends_one_event_built_from_the_committed_rows(
    sample_dag, catalog, moengage_sandbox
):
    dag = sample_dag("moengage_load_then_announce")
    result = run_dag(dag)

    assert result.state == "success"
    assert result.tasks == {
        "load_new_titles": ("success", 1),
        "check_load": ("success", 1),
        "announce_new_titles": ("success", 1),
    }
    (trigger,) = moengage_sandbox.triggers
    assert len(trigger_requests(moengage_sandbox)) == 1
    assert moengage_sandbox.rejected == []
    assert trigger["event_name"] == "NewTitlesAdded"
    assert trigger["triggered_by"] == "data-platform@example.com"
    attributes = trigger["event_attributes"]
    assert attributes == expected_new_titles(TITLES, catalog_size=15)
    assert json_types(attributes) == NEW_TITLES_TYPES
    # Anchors that do not go through the helper above.
    assert (attributes["new_titles"], attributes["total_episodes"], attributes["first_release"]) == (
        15,
        74,
        "2024-06-07",
    )
    assert "Ashes, Ashes" in attributes["titles"]  # a quoted CSV field survives the trip

    # The counts are the database's, and the event left only after the rows were committed: the
    # check read them back on its own connection (SQLite shows it only committed rows), and
    # MoEngage received the event after the load task had finished.
    assert catalog.count("new_titles", result.run_id) == attributes["new_titles"]
    assert catalog.count("new_titles") == attributes["catalog_size"]
    assert catalog.latest_loaded_at("new_titles", result.run_id) <= received_at(trigger)
    assert task_end(dag.dag_id, result.run_id, "load_new_titles") <= received_at(trigger)
    assert result.xcom["announce_new_titles"]["event_name"] == "NewTitlesAdded"


def test_load_then_announce_counts_only_what_each_run_adds_and_a_rerun_sends_nothing(
    sample_dag, catalog, moengage_sandbox, tmp_path, capfd
):
    first_five = write_csv(tmp_path / "first_five.csv", TITLES[:5], TITLE_COLUMNS)

    # A fresh DAG object per run, as each run parses the file anew (dag.test() keeps a run's conf
    # in the DAG object's params).
    first = run_dag(sample_dag("moengage_load_then_announce"), run_conf={"titles_file": str(first_five)})
    second = run_dag(sample_dag("moengage_load_then_announce"))  # the full file: 10 of 15 are new
    third = run_dag(sample_dag("moengage_load_then_announce"))  # the same file again: nothing new

    assert (first.state, second.state, third.state) == ("success", "success", "success")
    assert [t["event_attributes"] for t in moengage_sandbox.triggers] == [
        expected_new_titles(TITLES[:5], catalog_size=5),
        expected_new_titles(TITLES[5:], catalog_size=15),
    ]
    assert all(json_types(t["event_attributes"]) == NEW_TITLES_TYPES for t in moengage_sandbox.triggers)
    assert third.tasks == {
        "load_new_titles": ("success", 1),
        "check_load": ("skipped", 1),
        "announce_new_titles": ("skipped", 0),
    }
    assert len(trigger_requests(moengage_sandbox)) == 2
    assert (catalog.count("new_titles", second.run_id), catalog.count("new_titles", third.run_id)) == (10, 0)
    log = "".join(capfd.readouterr())
    assert "none is new to the catalog (15 titles). Not sending NewTitlesAdded." in log


def test_load_then_announce_with_an_empty_file_sends_nothing(
    sample_dag, catalog, moengage_sandbox, tmp_path, capfd
):
    empty = write_csv(tmp_path / "empty.csv", [], TITLE_COLUMNS)

    result = run_dag(sample_dag("moengage_load_then_announce"), run_conf={"titles_file": str(empty)})

    assert result.state == "success"
    assert result.tasks == {
        "load_new_titles": ("success", 1),
        "check_load": ("skipped", 1),
        "announce_new_titles": ("skipped", 0),
    }
    assert moengage_sandbox.requests == []
    assert catalog.count("new_titles") == 0  # the table exists: the load ran, and found nothing
    log = "".join(capfd.readouterr())
    assert "has 0 rows and none is new to the catalog (0 titles). Not sending NewTitlesAdded." in log


def test_load_then_announce_with_a_bad_row_fails_before_anything_is_written_or_sent(
    sample_dag, catalog, moengage_sandbox, tmp_path, capfd
):
    rows = [dict(row) for row in TITLES[:3]]
    rows[2]["episodes"] = "eight"
    bad = write_csv(tmp_path / "bad.csv", rows, TITLE_COLUMNS)

    result = run_dag(sample_dag("moengage_load_then_announce"), run_conf={"titles_file": str(bad)})

    assert result.state == "failed"
    # A data error is not retried (AirflowFailException), and nothing downstream runs.
    assert result.tasks == {
        "load_new_titles": ("failed", 1),
        "check_load": ("upstream_failed", 0),
        "announce_new_titles": ("upstream_failed", 0),
    }
    assert moengage_sandbox.requests == []
    assert (
        not catalog.path.exists()
        or catalog.rows("SELECT name FROM sqlite_master WHERE name = 'new_titles'") == []
    )
    assert "bad.csv, line 4: invalid literal for int() with base 10: 'eight'" in "".join(capfd.readouterr())


def test_load_then_announce_retries_a_database_outage_then_fails_without_sending(
    sample_dag, catalog, moengage_sandbox, monkeypatch, tmp_path
):
    unreachable = tmp_path / "no-such-dir" / "catalog.db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_CATALOG_DB", json.dumps({"conn_type": "sqlite", "host": str(unreachable)})
    )

    result = run_dag(sample_dag("moengage_load_then_announce"))

    assert result.state == "failed"
    assert result.tasks["load_new_titles"] == ("failed", 3)  # the first try and its 2 retries
    assert result.tasks["announce_new_titles"] == ("upstream_failed", 0)
    assert moengage_sandbox.requests == []


# -- 2. asset-driven -------------------------------------------------------------------------------

EPISODES = read_csv("new_episodes.csv")
EPISODE_COLUMNS = list(EPISODES[0])
NEW_EPISODES_TYPES = {
    "new_episodes": "int",
    "series": "list[str]",
    "episode_titles": "list[str]",
    "first_air_date": "str",
    "last_air_date": "str",
}


def expected_new_episodes(rows: list[dict[str, str]]) -> dict[str, Any]:
    rows = sorted(rows, key=lambda r: (r["air_date"], r["series"], int(r["season"]), int(r["episode"])))
    return {
        "new_episodes": len(rows),
        "series": list(dict.fromkeys(r["series"] for r in rows)),
        "episode_titles": [r["episode_title"] for r in rows],
        "first_air_date": rows[0]["air_date"],
        "last_air_date": rows[-1]["air_date"],
    }


def test_asset_load_updates_the_asset_and_the_messaging_dag_announces_that_load(
    sample_dag, catalog, moengage_sandbox, monkeypatch
):
    load = run_dag(sample_dag("moengage_asset_load_episodes"))

    assert load.state == "success"
    assert load.tasks == {"load_new_episodes": ("success", 1), "check_load": ("success", 1)}
    assert moengage_sandbox.requests == []  # the data DAG knows nothing about MoEngage
    (event,) = asset_events("catalog_new_episodes", [load.run_id])
    assert event["source_dag_id"] == "moengage_asset_load_episodes"
    assert event["source_task_id"] == "check_load"  # updated only once the load was checked
    assert event["extra"] == {"load_run_id": load.run_id, "new_episodes": 8}
    assert catalog.count("new_episodes", load.run_id) == 8

    with triggered_by(monkeypatch, [event["id"]]):
        announce = run_dag(sample_dag("moengage_asset_announce_episodes"))

    assert announce.state == "success"
    assert announce.tasks == {
        "summarize_new_episodes": ("success", 1),
        "announce_new_episodes": ("success", 1),
    }
    (trigger,) = moengage_sandbox.triggers
    assert len(trigger_requests(moengage_sandbox)) == 1
    assert trigger["event_name"] == "NewEpisodesAvailable"
    assert trigger["triggered_by"] == "crm-team@example.com"
    assert trigger["event_attributes"] == expected_new_episodes(EPISODES)
    assert json_types(trigger["event_attributes"]) == NEW_EPISODES_TYPES
    assert trigger["event_attributes"]["new_episodes"] == catalog.count("new_episodes", load.run_id)
    assert catalog.latest_loaded_at("new_episodes", load.run_id) <= received_at(trigger)


def test_two_loads_before_the_announcement_make_one_event_for_both(
    sample_dag, catalog, moengage_sandbox, monkeypatch, tmp_path
):
    first_three = write_csv(tmp_path / "first_three.csv", EPISODES[:3], EPISODE_COLUMNS)
    first = run_dag(sample_dag("moengage_asset_load_episodes"), run_conf={"episodes_file": str(first_three)})
    second = run_dag(sample_dag("moengage_asset_load_episodes"))  # the full file: 5 more episodes
    events = asset_events("catalog_new_episodes", [first.run_id, second.run_id])
    assert [e["extra"]["new_episodes"] for e in events] == [3, 5]

    with triggered_by(monkeypatch, [e["id"] for e in events]):
        announce = run_dag(sample_dag("moengage_asset_announce_episodes"))

    assert announce.state == "success"
    (trigger,) = moengage_sandbox.triggers
    assert trigger["event_attributes"] == expected_new_episodes(EPISODES)
    assert trigger["event_attributes"]["new_episodes"] == 3 + 5


def test_asset_load_with_nothing_new_updates_no_asset_and_a_run_by_hand_announces_the_latest_load(
    sample_dag, catalog, moengage_sandbox, capfd
):
    producer = sample_dag("moengage_asset_load_episodes")
    first = run_dag(producer)
    again = run_dag(producer)

    assert again.tasks == {"load_new_episodes": ("success", 1), "check_load": ("skipped", 1)}
    assert [
        e["source_run_id"] for e in asset_events("catalog_new_episodes", [first.run_id, again.run_id])
    ] == [first.run_id]
    assert "Not updating catalog_new_episodes, so no announcement runs." in "".join(capfd.readouterr())
    assert moengage_sandbox.requests == []

    # Started by hand, with no asset event: the latest load (the first run's, the second added nothing).
    announce = run_dag(sample_dag("moengage_asset_announce_episodes"))
    assert announce.state == "success"
    (trigger,) = moengage_sandbox.triggers
    assert trigger["event_attributes"] == expected_new_episodes(EPISODES)


# -- 3. one event per item -------------------------------------------------------------------------

RESTOCKS = read_csv("restocked_products.csv")
RESTOCK_COLUMNS = list(RESTOCKS[0])
BACK_IN_STOCK_TYPES = {
    "sku": "str",
    "product_name": "str",
    "category": "str",
    "units": "int",
    "price": "float",
    "restocked_on": "str",
}


def expected_back_in_stock(row: dict[str, str]) -> dict[str, Any]:
    return {
        "sku": row["sku"],
        "product_name": row["product_name"],
        "category": row["category"],
        "units": int(row["units"]),
        "price": float(row["price"]),
        "restocked_on": row["restocked_on"],
    }


def rendered_map_indexes(dag_id: str, run_id: str, task_id: str) -> list[str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id).all()
        return sorted(ti.rendered_map_index for ti in tis)


def test_event_per_item_sends_one_event_per_loaded_product(sample_dag, catalog, moengage_sandbox):
    dag = sample_dag("moengage_event_per_item")
    result = run_dag(dag)

    assert result.state == "success"
    mapped = {k: v for k, v in result.tasks.items() if k.startswith("announce_back_in_stock[")}
    assert len(mapped) == len(RESTOCKS) == 6
    assert set(mapped.values()) == {("success", 1)}
    triggers = moengage_sandbox.triggers
    assert len(trigger_requests(moengage_sandbox)) == len(triggers) == 6
    assert {t["event_name"] for t in triggers} == {"BackInStock"}
    assert {t["triggered_by"] for t in triggers} == {"merchandising@example.com"}
    by_sku = {t["event_attributes"]["sku"]: t["event_attributes"] for t in triggers}
    assert by_sku == {row["sku"]: expected_back_in_stock(row) for row in RESTOCKS}
    assert all(json_types(attributes) == BACK_IN_STOCK_TYPES for attributes in by_sku.values())
    assert by_sku["SKU-HDP-118"]["price"] == 179.0  # a whole price is still a float, not an int
    assert catalog.count("restocked_products", result.run_id) == 6
    loaded_at = catalog.latest_loaded_at("restocked_products", result.run_id)
    assert all(loaded_at <= received_at(t) for t in triggers)
    # Each mapped task is named by its SKU in the UI.
    assert rendered_map_indexes(dag.dag_id, result.run_id, "announce_back_in_stock") == sorted(by_sku)


def test_event_per_item_rerun_with_nothing_new_sends_nothing(sample_dag, catalog, moengage_sandbox, capfd):
    dag = sample_dag("moengage_event_per_item")
    run_dag(dag)
    again = run_dag(dag)

    assert again.state == "success"
    assert again.tasks["plan_announcements"] == ("skipped", 1)
    assert again.tasks["announce_back_in_stock"] == ("skipped", 0)
    assert len(trigger_requests(moengage_sandbox)) == 6  # the first run's, nothing more
    assert "No new restocks" in "".join(capfd.readouterr())


def test_event_per_item_over_budget_fails_before_sending_anything(
    sample_dag, catalog, moengage_sandbox, capfd
):
    result = run_dag(sample_dag("moengage_event_per_item"), run_conf={"max_events": 5})

    assert result.state == "failed"
    assert result.tasks["plan_announcements"] == ("failed", 1)  # not retried: a retry cannot fix it
    assert result.tasks["announce_back_in_stock"] == ("upstream_failed", 0)
    assert moengage_sandbox.requests == []
    log = "".join(capfd.readouterr())
    assert "6 products were restocked, more than this run's budget of 5 events" in log
    assert "Nothing was sent" in log


def test_event_per_item_burst_refused_for_the_rate_limit_waits_and_sends_each_event_once(
    sample_dag, catalog, moengage_sandbox, capfd
):
    # Two trigger requests refused with MoEngage's documented 429 body, as when a burst meets the
    # hourly limit; the window is shortened to one second so the wait for it fits in a test.
    moengage_sandbox.fail_next(
        429,
        count=2,
        body={
            "status": "error",
            "data": {"code": 429, "title": "rate limiter exception", "description": "Exceeded rate limit"},
        },
        content_type="application/json",
    )
    dag = sample_dag("moengage_event_per_item")
    dag.get_task("announce_back_in_stock").partial_kwargs["rate_limit_window"] = dt.timedelta(seconds=1)

    result = run_dag(dag)

    assert result.state == "success"
    assert [r["status"] for r in moengage_sandbox.rejected] == [429, 429]
    skus = sorted(t["event_attributes"]["sku"] for t in moengage_sandbox.triggers)
    assert skus == sorted(row["sku"] for row in RESTOCKS)  # every product once, none twice
    assert len(trigger_requests(moengage_sandbox)) == 6 + 2
    log = "".join(capfd.readouterr())
    assert "MoEngage rate limit hit for 'BackInStock' (HTTP 429" in log
    assert "deferring (worker slot released)" in log


# -- 5. a notifier in a success callback -------------------------------------------------------------


def test_notify_price_list_fires_one_event_from_the_success_callback(sample_dag, moengage_sandbox):
    dag = sample_dag("moengage_notify_price_list")
    date_arg = "logical_date" if AIRFLOW_3_PLUS else "execution_date"  # Airflow 2's name for it
    result = run_dag(dag, **{date_arg: dt.datetime(2024, 6, 21, tzinfo=dt.timezone.utc)})

    assert result.state == "success"
    assert result.tasks["publish_price_list"] == ("success", 1)
    (trigger,) = moengage_sandbox.triggers
    assert trigger["event_name"] == "PriceListPublished"
    assert trigger["triggered_by"] == "merchandising@example.com"
    rows = read_csv("restocked_products.csv")
    assert trigger["event_attributes"] == {
        "products": len(rows),
        "categories": sorted({r["category"] for r in rows}),
        "cheapest_price": min(float(r["price"]) for r in rows),
        "published_on": "2024-06-21",
    }
    assert json_types(trigger["event_attributes"]) == {
        "products": "int",
        "categories": "list[str]",
        "cheapest_price": "float",
        "published_on": "str",
    }
    # The event follows the task's success: it reached MoEngage after the task returned its value.
    assert result.xcom["publish_price_list"] == trigger["event_attributes"]


def test_notify_price_list_sends_nothing_when_the_task_fails(
    sample_dag, moengage_sandbox, monkeypatch, tmp_path
):
    dag = sample_dag("moengage_notify_price_list")
    for task in dag.tasks:
        task.retries = 0
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")  # the price list cannot be written under a file: the task fails
    monkeypatch.setenv("AIRFLOW_HOME", str(blocked))
    result = run_dag(dag)
    assert result.tasks["publish_price_list"][0] == "failed"
    assert moengage_sandbox.requests == []
