"""
Every file in dags/ imports cleanly (no import error, no warning), stays cheap to parse, and follows
the conventions the samples teach: catchup off, a docstring for the UI, tags, the recommended
retries, ``triggered_by`` on every trigger.

Parse time is measured (each file in a fresh process, as Airflow's DAG processor parses it) and
reported at the end of the run; it is not asserted, since speed belongs in a report.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import (
    AIRFLOW_3_ONLY_SAMPLES,
    AIRFLOW_3_PLUS,
    airflow_env,
    load_dag_file,
    runs_on_this_airflow,
)

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
# Under pytest-xdist, on one worker: the files are parsed (module fixtures) once.
pytestmark = pytest.mark.xdist_group("dag-integrity")
SAMPLE_DAG_IDS = {
    "moengage_load_then_announce",
    "moengage_asset_load_episodes",
    "moengage_asset_announce_episodes",
    "moengage_event_per_item",
    "moengage_notify_price_list",
}
TRIGGER_CLASS = "TriggerBusinessEventOperator"

# Modules a DAG file must leave to its tasks: they cost parse time, or open connections.
HEAVY_MODULES = (
    "requests",
    "sqlite3",
    "pandas",
    "moengage_provider.hooks",
    "airflow.providers.http",
    "airflow.providers.sqlite",
    "airflow.providers.common.sql",
)

# One interpreter loads Airflow's SDK (the DAG processor has it loaded), then forks a child per DAG
# file, as the DAG processor does: each child parses one file, timed, with every warning recorded and
# the modules it newly imported listed, and writes one JSON line.
PARSE_EACH_FILE = """
import importlib.util, json, os, sys, time, warnings
from airflow.providers.common.compat.sdk import DAG

for path in sys.argv[1:]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        before = set(sys.modules)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            started = time.perf_counter()
            spec = importlib.util.spec_from_file_location("dag_file_under_test", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            seconds = time.perf_counter() - started
        result = {
            "path": path,
            "seconds": seconds,
            "dag_ids": sorted(v.dag_id for v in vars(module).values() if isinstance(v, DAG)),
            "warnings": [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught],
            "new_modules": sorted(set(sys.modules) - before),
        }
        with os.fdopen(write_end, "w") as out:
            out.write(json.dumps(result))
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as answer:
        text = answer.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not text:
        sys.exit(f"parsing {path} failed (wait status {status})")
    print(text, flush=True)
"""


@pytest.fixture(scope="module")
def parsed_in_fresh_processes(airflow_db: Path) -> dict[str, dict]:
    """Each DAG file parsed in a new process forked from one that loaded only Airflow's SDK."""
    proc = subprocess.run(
        [sys.executable, "-c", PARSE_EACH_FILE, *map(str, runs_on_this_airflow(DAG_FILES))],
        env=airflow_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {Path(r["path"]).name: r for r in results}


def test_the_samples_are_all_there():
    assert [p.name for p in DAG_FILES] == sorted(f"{dag_id}.py" for dag_id in SAMPLE_DAG_IDS)
    assert (REPO / "dags" / "data" / "new_titles.csv").is_file()


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_alone_without_warnings_or_heavy_imports(
    path: Path, parsed_in_fresh_processes, record_property
):
    result = parsed_in_fresh_processes[path.name]
    record_property("dag_file_parse_seconds", round(result["seconds"], 3))
    assert result["dag_ids"] == [path.stem]  # one DAG per file, named like the file
    assert result["warnings"] == []
    # Airflow before 3.2 resolves ``@task`` through the providers manager, which imports every provider's
    # package and its get_provider_info (a dict, no hooks): Airflow's cost, not the DAG file's.
    info = {m for m in result["new_modules"] if m.endswith(".get_provider_info")}
    discovery = info | {m.rsplit(".", 1)[0] for m in info}
    heavy = [
        m
        for m in result["new_modules"]
        if m not in discovery and any(m == h or m.startswith(h + ".") for h in HEAVY_MODULES)
    ]
    assert heavy == [], f"{path.name} imports at parse time what only its tasks need: {heavy}"


def test_airflow_dagbag_loads_the_folder_without_import_errors_or_warnings(sample_dags_folder: Path):
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow < 3.2
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    bag = DagBag(dag_folder=sample_dags_folder, safe_mode=False)

    assert bag.import_errors == {}
    assert bag.captured_warnings == {}
    assert set(bag.dag_ids) == SAMPLE_DAG_IDS - (set() if AIRFLOW_3_PLUS else set(AIRFLOW_3_ONLY_SAMPLES))
    for dag in bag.dags.values():
        dag.validate()  # (the bag already refused cycles: they would be import errors)


@pytest.fixture(scope="module")
def sample_dags(sample_dags_folder: Path) -> dict:
    return {
        path.stem: load_dag_file(sample_dags_folder / path.name, path.stem)
        for path in sorted(sample_dags_folder.glob("*.py"))
    }


def _operator_class(task) -> str:
    cls = getattr(task, "operator_class", None) or type(task)
    return cls.__name__ if isinstance(cls, type) else str(cls)


def _trigger_tasks(dag) -> list:
    return [t for t in dag.tasks if _operator_class(t) == TRIGGER_CLASS]


@pytest.mark.parametrize("dag_id", sorted(SAMPLE_DAG_IDS))
def test_sample_follows_the_conventions_it_teaches(sample_dags, dag_id: str):
    dag = sample_dags[dag_id]

    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.doc_md and dag.doc_md.strip().startswith("### "), "the docstring is the UI's DAG docs"
    assert dag.description
    assert {"moengage", "sample"} <= set(dag.tags)
    assert dag.start_date.tzinfo is not None and dag.start_date < dt.datetime.now(dt.timezone.utc)
    for task in dag.tasks:
        # The recommended retries: a 4xx fails at once anyway; 5xx and timeouts get two more tries.
        assert (task.retries, task.retry_delay) == (2, dt.timedelta(minutes=3)), task.task_id
        assert task.owner and task.owner != "airflow", task.task_id
    for trigger in _trigger_tasks(dag):
        kwargs = trigger.partial_kwargs if hasattr(trigger, "partial_kwargs") else vars(trigger)
        assert kwargs.get("triggered_by", "").endswith("@example.com"), trigger.task_id
        assert getattr(trigger, "moengage_conn_id", kwargs.get("moengage_conn_id", "moengage_default")) == (
            "moengage_default"
        )


def test_each_messaging_dag_fires_one_declared_event(sample_dags):
    from moengage_provider.notifications.moengage import MoEngageBusinessEventNotifier

    declared = json.loads((REPO / "dags" / "data" / "moengage_events.json").read_text())["events"]
    fired = {}
    for dag_id, dag in sample_dags.items():
        for trigger in _trigger_tasks(dag):
            kwargs = trigger.partial_kwargs if hasattr(trigger, "partial_kwargs") else vars(trigger)
            fired[dag_id] = kwargs["event_name"]
        for task in dag.tasks:
            for callback in task.on_success_callback or []:
                if isinstance(callback, MoEngageBusinessEventNotifier):
                    fired[dag_id] = callback.event_name
    assert fired == {
        "moengage_load_then_announce": "NewTitlesAdded",
        "moengage_asset_announce_episodes": "NewEpisodesAvailable",
        "moengage_event_per_item": "BackInStock",
        "moengage_notify_price_list": "PriceListPublished",
    }
    assert set(fired.values()) == set(declared)


def test_the_data_dag_and_the_messaging_dag_meet_at_one_asset(sample_dags):
    producer = sample_dags["moengage_asset_load_episodes"]
    consumer = sample_dags["moengage_asset_announce_episodes"]

    (outlet,) = producer.get_task("check_load").outlets  # updated after the check, not the load
    assert [a for t in producer.tasks for a in t.outlets] == [outlet]
    assert consumer.schedule == [outlet]
    assert (outlet.name, outlet.uri) == ("catalog_new_episodes", "catalog://catalog_db/new_episodes")
    assert _trigger_tasks(producer) == []  # the data DAG knows nothing about MoEngage


def test_the_per_item_dag_keeps_bursts_gentle(sample_dags):
    dag = sample_dags["moengage_event_per_item"]
    trigger = dag.get_task("announce_back_in_stock")

    assert hasattr(trigger, "expand_input"), "one mapped task per item"
    assert list(trigger.expand_input.value) == ["event_attributes"]
    assert trigger.max_active_tis_per_dag == 2
    assert trigger.partial_kwargs["deferrable"] is True  # rate-limit waits do not hold a worker
    budget = dag.params.get_param("max_events")
    assert budget.value == 20 and budget.value < 50  # under MoEngage's hourly limit


# -- runs without a logical date ------------------------------------------------------------------

#: What each sample fires when triggered by hand, in an order where the asset-driven messaging DAG
#: finds the load of the data DAG before it (the scheduler would start it from that asset event).
TRIGGERED_BY_HAND = [
    ("moengage_load_then_announce", ["NewTitlesAdded"]),
    ("moengage_asset_load_episodes", []),
    ("moengage_asset_announce_episodes", ["NewEpisodesAvailable"]),
    ("moengage_event_per_item", ["BackInStock"] * 6),
    ("moengage_notify_price_list", ["PriceListPublished"]),
]


@pytest.mark.moengage_sandbox(
    permissive=False,
    events=json.loads((REPO / "dags" / "data" / "moengage_events.json").read_text())["events"],
)
@pytest.mark.timeout(900)
def test_each_sample_runs_when_triggered_without_a_logical_date(
    sample_dags_folder: Path, moengage_sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """
    ``airflow dags trigger``, the REST API and the UI's Trigger button start runs without a logical date
    in Airflow 3 (no ``ds``, no data interval); ``dag.test(logical_date=None)`` starts exactly such a run.
    """
    from tests.dagrun import run_dag

    assert [dag_id for dag_id, _ in TRIGGERED_BY_HAND] == sorted(SAMPLE_DAG_IDS, key=_run_order)
    catalog = tmp_path / "catalog.db"
    monkeypatch.setenv("AIRFLOW_CONN_CATALOG_DB", json.dumps({"conn_type": "sqlite", "host": str(catalog)}))
    for dag_id, events in TRIGGERED_BY_HAND:
        dag = load_dag_file(sample_dags_folder / f"{dag_id}.py", dag_id)
        for task in dag.tasks:  # an unexpected failure fails now, not after 2 x 3 minutes of retries
            if hasattr(task, "partial_kwargs"):
                task.partial_kwargs["retry_delay"] = dt.timedelta(0)
            else:
                task.retry_delay = dt.timedelta(0)
        before = len(moengage_sandbox.triggers)

        result = run_dag(dag, logical_date=None)

        assert result.state == "success", (dag_id, result.tasks, moengage_sandbox.rejected)
        assert {state for state, _ in result.tasks.values()} == {"success"}, (dag_id, result.tasks)
        assert [t["event_name"] for t in moengage_sandbox.triggers[before:]] == events, dag_id
        assert result.logical_date is None, dag_id


def _run_order(dag_id: str) -> int:
    return [d for d, _ in TRIGGERED_BY_HAND].index(dag_id)
