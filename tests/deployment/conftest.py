"""
Fixtures for the deployment tests: real Airflow components as processes (see harness.py), the
sample DAGs and the scenario DAGs in their dags folder, sandboxes in this process counting what
arrived. One LocalExecutor deployment is shared by the whole session; the CeleryExecutor one lives
for its module. The migrated metadata DB is made once and copied.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moengage_provider.testing import MoEngageSandbox
from tests.conftest import AIRFLOW_3_3_PLUS, AIRFLOW_VERSION
from tests.deployment.harness import REPO, Deployment

ARTIFACTS = REPO / "test-artifacts"

SCENARIO_DAGS = Path(__file__).parent / "dags" / "moengage_deployment_scenarios.py"
DECLARED_EVENTS = json.loads((REPO / "dags" / "data" / "moengage_events.json").read_text())["events"]
WORKSPACE = "deployment-workspace"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.deployment)
            # The first test of a module also starts a deployment and runs the shared scenarios.
            item.add_marker(pytest.mark.timeout(900))
            # Under pytest-xdist, the tests that read a deployment run on one worker, which starts it
            # once; the two deployments one after the other (side by side, on two cores busy with the
            # rest of the suite, SQLite's write lock was once held past its 90 s timeout).
            if {"local_deployment", "celery_deployment"} & set(item.fixturenames):
                item.add_marker(pytest.mark.xdist_group("deployments"))
            # What they prove (reruns, checks, keys) needs the task and asset state stores.
            if not AIRFLOW_3_3_PLUS:
                item.add_marker(pytest.mark.skip(reason=f"needs Airflow 3.3+; this is {AIRFLOW_VERSION}"))


@pytest.fixture(scope="session")
def migrated_db(migrated_airflow_db: Path) -> Path:
    """The run's freshly migrated DB (tests/conftest.py); each deployment copies the file."""
    return migrated_airflow_db


def start_deployment(root: Path, executor: str, migrated_db: Path, sandbox: MoEngageSandbox) -> Deployment:
    started = time.monotonic()
    deployment = Deployment(
        root,
        executor=executor,
        parallelism=4,
        migrated_db=migrated_db,
        dag_sources=[REPO / "dags", SCENARIO_DAGS],
        env={
            "AIRFLOW_CONN_MOENGAGE_DEFAULT": sandbox.airflow_conn_json(),
            "AIRFLOW_CONN_CATALOG_DB": json.dumps({"conn_type": "sqlite", "host": str(root / "catalog.db")}),
        },
    ).start()
    deployment.started_in = time.monotonic() - started  # type: ignore[attr-defined]
    return deployment


@pytest.fixture(scope="session")
def samples_sandbox() -> Iterator[MoEngageSandbox]:
    """Strict, like a real workspace: the sample events declared as in dags/data/moengage_events.json."""
    sandbox = MoEngageSandbox(
        WORKSPACE,
        "sbx-" + secrets.token_urlsafe(16),
        events=DECLARED_EVENTS,
        permissive=False,
        # One shared sandbox takes ~18 triggers in a few minutes: one window of 50, not the published
        # 10 per 5 minutes (the rate-limit tests cover waiting those out, in windows of seconds).
        hourly_limit=50,
    )
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="session")
def local_deployment(
    tmp_path_factory: pytest.TempPathFactory, migrated_db: Path, samples_sandbox: MoEngageSandbox
) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("deployment-local")
    deployment = start_deployment(root, "LocalExecutor", migrated_db, samples_sandbox)
    try:
        yield deployment
    finally:
        stop_and_keep_logs(deployment, "local")


def stop_and_keep_logs(deployment: Deployment, name: str) -> None:
    """Stop every component; keep the component and task logs in test-artifacts/ (CI uploads it)."""
    try:
        deployment.stop()
    finally:
        target = ARTIFACTS / f"deployment-{name}"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(deployment.root / "logs", target / "components", dirs_exist_ok=True)
        if (deployment.home / "logs").exists():
            shutil.copytree(deployment.home / "logs", target / "tasks", dirs_exist_ok=True)
        shutil.rmtree(deployment.root, ignore_errors=True)


@pytest.fixture(scope="session")
def local_results(
    local_deployment: Deployment, samples_sandbox: MoEngageSandbox, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Everything the LocalExecutor tests check, once: the core scenarios side by side, then every
    sample group side by side. (All of them at once held SQLite's write lock past its 90 s timeout on
    a loaded two-core machine: the api-server then answers 500.)"""
    from tests.deployment import samples, scenarios

    results = scenarios.run_core(local_deployment)
    landing = tmp_path_factory.mktemp("landing")
    started = time.monotonic()
    try:
        results["samples"] = samples.run_groups(
            local_deployment, samples_sandbox, landing, list(samples.GROUPS)
        )
    except Exception as err:  # reported by the sample tests
        results["samples"] = err
    results["samples_seconds"] = time.monotonic() - started
    return results
