"""
The sample DAGs of dags/ driven the ways users drive them (on schedule once unpaused, ``airflow dags
trigger``, the REST API), one group of steps per sample: each step waits for its run to finish and
records how it was started and how it ended. Used by the LocalExecutor and CeleryExecutor tests.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from moengage_provider.testing import MoEngageSandbox
from tests.deployment.harness import Deployment, DeploymentError, wait_for

SAMPLES = (
    "moengage_load_then_announce",
    "moengage_asset_load_episodes",
    "moengage_asset_announce_episodes",
    "moengage_event_per_item",
    "moengage_notify_price_list",
)
ANNOUNCE = "moengage_asset_announce_episodes"


def write_csv(path: Path, header: str, rows: list[str]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


class Steps:
    """Runs of one sample group, in order; records each run's id, how it was started and its state."""

    def __init__(self, deployment: Deployment, sandbox: MoEngageSandbox, landing: Path) -> None:
        self.d = deployment
        self.sandbox = sandbox
        self.landing = landing
        self.runs: list[dict[str, Any]] = []

    def start(self, dag_id: str, how: str, conf: dict[str, Any] | None = None) -> str:
        if how == "cli":
            return self.d.trigger_cli(dag_id, conf)
        if how == "rest":
            return self.d.trigger(dag_id, conf)
        raise ValueError(how)

    def finish(self, dag_id: str, run_id: str, how: str) -> dict[str, Any]:
        run = self.d.wait_for_run(dag_id, run_id, timeout=300)
        record = {
            "dag_id": dag_id,
            "run_id": run_id,
            "how": how,
            "state": run["state"],
            "logical_date": run.get("logical_date"),
            "run_type": run.get("run_type"),
        }
        record["tasks"] = {key: ti["state"] for key, ti in self.d.task_instances(dag_id, run_id).items()}
        if run["state"] != "success":
            record["details"] = self.d.describe_run(dag_id, run_id)
        self.runs.append(record)
        return record

    def run(self, dag_id: str, how: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.finish(dag_id, self.start(dag_id, how, conf), how)

    def scheduled(self, dag_id: str) -> dict[str, Any]:
        """Unpause, as a user does, and let the scheduler start its one catch-up-free run."""
        self.d.unpause(dag_id)
        run = wait_for(
            f"the scheduler to start a scheduled run of {dag_id}",
            lambda: next((r for r in self.d.runs(dag_id) if r["run_type"] == "scheduled"), None),
            120,
        )
        return self.finish(dag_id, run["dag_run_id"], "schedule")

    def asset_run(self, known: set[str]) -> dict[str, Any]:
        """The announce run the asset event starts (one not in ``known``)."""
        run = wait_for(
            "the asset event to start moengage_asset_announce_episodes",
            lambda: next(
                (
                    r
                    for r in self.d.runs(ANNOUNCE)
                    if r["run_type"] == "asset_triggered" and r["dag_run_id"] not in known
                ),
                None,
            ),
            120,
        )
        known.add(run["dag_run_id"])
        return self.finish(ANNOUNCE, run["dag_run_id"], "asset")

    def events(self, name: str) -> list[dict[str, Any]]:
        return [t["event_attributes"] for t in self.sandbox.triggers if t["event_name"] == name]


def titles_group(s: Steps) -> None:
    header = "title_id,title,kind,genre,episodes,release_date"
    s.scheduled("moengage_load_then_announce")
    cli = write_csv(
        s.landing / "titles-cli.csv",
        header,
        ["DT-1,Deploy One,series,Drama,6,2024-08-01", "DT-2,Deploy Two,movie,Comedy,1,2024-08-02"],
    )
    s.run("moengage_load_then_announce", "cli", {"titles_file": cli})
    rest = write_csv(s.landing / "titles-rest.csv", header, ["DT-3,Deploy Three,series,Crime,4,2024-08-03"])
    s.run("moengage_load_then_announce", "rest", {"titles_file": rest})


def episodes_group(s: Steps) -> None:
    header = "series,season,episode,episode_title,air_date"
    known: set[str] = set()
    s.d.unpause(ANNOUNCE)
    s.scheduled("moengage_asset_load_episodes")
    s.asset_run(known)
    for how, rows in (
        ("cli", ["Deploy Series,1,1,Pilot,2024-09-01", "Deploy Series,1,2,Second,2024-09-08"]),
        ("rest", ["Deploy Series,1,3,Third,2024-09-15"]),
    ):
        path = write_csv(s.landing / f"episodes-{how}.csv", header, rows)
        s.run("moengage_asset_load_episodes", how, {"episodes_file": path})
        s.asset_run(known)
        # By hand, the messaging DAG announces the latest load: the one the asset run just announced.
        s.run(ANNOUNCE, how)


def restocks_group(s: Steps) -> None:
    header = "sku,product_name,category,units,price,restocked_on"
    s.scheduled("moengage_event_per_item")
    cli = write_csv(
        s.landing / "restocks-cli.csv",
        header,
        ["SKU-DPL-001,Deploy Kettle,Home,5,19.5,2024-08-01", "SKU-DPL-002,Deploy Mug,Home,9,4.25,2024-08-01"],
    )
    s.run("moengage_event_per_item", "cli", {"restocks_file": cli})
    rest = write_csv(
        s.landing / "restocks-rest.csv", header, ["SKU-DPL-003,Deploy Lamp,Home,3,35.0,2024-08-02"]
    )
    s.run("moengage_event_per_item", "rest", {"restocks_file": rest})


def notifier_group(s: Steps) -> None:
    dag_id = "moengage_notify_price_list"
    s.scheduled(dag_id)
    for how in ("cli", "rest"):
        run_id = s.start(dag_id, how)
        # A first try that fails would wait 3 minutes for its retry: stop at the first try's end.
        ti = s.d.wait_for_task(
            dag_id,
            run_id,
            "publish_price_list",
            lambda t: t["state"] in ("success", "failed", "up_for_retry"),
            "finished its first try",
            timeout=240,
        )
        if ti["state"] == "up_for_retry":
            details = s.d.describe_run(dag_id, run_id)
            s.d.api("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", {"state": "failed"})
            s.runs.append(
                {"dag_id": dag_id, "run_id": run_id, "how": how, "state": "failed", "details": details}
            )
        else:
            s.finish(dag_id, run_id, how)


GROUPS: dict[str, Callable[[Steps], None]] = {
    "titles": titles_group,
    "episodes": episodes_group,
    "restocks": restocks_group,
    "notifier": notifier_group,
}


def run_groups(
    deployment: Deployment, sandbox: MoEngageSandbox, landing: Path, names: list[str]
) -> dict[str, Any]:
    """Run the named groups side by side; name -> (steps, the traceback of an error or None)."""
    deployment.wait_for_dags(SAMPLES)

    def run_group(name: str) -> tuple[Steps, str | None]:
        steps = Steps(deployment, sandbox, landing)
        try:
            GROUPS[name](steps)
        except Exception:
            return steps, traceback.format_exc()
        return steps, None

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        futures = {name: pool.submit(run_group, name) for name in names}
        return {name: future.result() for name, future in futures.items()}


def group(results: dict[str, Any], name: str) -> Steps:
    steps, error = results[name]
    if error:
        raise DeploymentError(f"the {name} group did not complete:\n{error}\nruns so far: {steps.runs}")
    return steps


def assert_all_succeeded(steps: Steps) -> None:
    failed = [r for r in steps.runs if r["state"] != "success"]
    assert not failed, "\n".join(
        f"{r['dag_id']} ({r['how']}): {r['state']}\n{r.get('details', '')}" for r in failed
    )


def assert_titles(steps: Steps) -> None:
    assert_all_succeeded(steps)
    assert [r["how"] for r in steps.runs] == ["schedule", "cli", "rest"]
    # Runs started by hand (CLI, REST) have no logical date in Airflow 3.
    assert [r["logical_date"] is None for r in steps.runs] == [False, True, True]
    events = steps.events("NewTitlesAdded")
    assert [e["new_titles"] for e in events] == [15, 2, 1]
    assert events[1]["titles"] == ["Deploy One", "Deploy Two"] and events[2]["titles"] == ["Deploy Three"]
