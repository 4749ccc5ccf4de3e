"""
The core scenarios once more on CeleryExecutor, as teams that outgrow one machine run Airflow: a
local redis-server (Debian's, bound to 127.0.0.1 on a free port, started and stopped by the test)
as broker, ``airflow celery worker`` running the tasks; api-server, scheduler, dag-processor and
triggerer as on LocalExecutor. One sample is driven on schedule, by the CLI and by the REST API.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from moengage_provider.testing import MoEngageSandbox
from tests.deployment import samples, scenarios
from tests.deployment.conftest import DECLARED_EVENTS, WORKSPACE, start_deployment, stop_and_keep_logs
from tests.deployment.harness import Deployment

# In CI (CI=true) a missing redis-server fails the tests instead: make test installs it.
pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None and os.environ.get("CI", "").lower() != "true",
    reason="redis-server is not installed: run scripts/install-redis.sh (make test does)",
)


@pytest.fixture(scope="module")
def celery_sandbox() -> Iterator[MoEngageSandbox]:
    sandbox = MoEngageSandbox(
        WORKSPACE,
        "sbx-" + secrets.token_urlsafe(16),
        events=DECLARED_EVENTS,
        permissive=False,
        # One shared sandbox takes ~18 triggers in a few minutes: one window of 50, not the published
        # 10 per 5 minutes (the rate-limit tests cover waiting those out, in windows of seconds).
        hourly_limit=50,
    ).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="module")
def celery_deployment(tmp_path_factory, migrated_db, celery_sandbox) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("deployment-celery")
    deployment = start_deployment(root, "CeleryExecutor", migrated_db, celery_sandbox)
    try:
        yield deployment
    finally:
        stop_and_keep_logs(deployment, "celery")


@pytest.fixture(scope="module")
def core(celery_deployment: Deployment, celery_sandbox: MoEngageSandbox, tmp_path_factory) -> dict[str, Any]:
    landing = tmp_path_factory.mktemp("landing-celery")
    job = (samples.run_groups, celery_deployment, celery_sandbox, landing, ["titles"])
    return scenarios.run_core(celery_deployment, samples=job)


@pytest.mark.parametrize(("mode", "where"), list(scenarios.KILL_EXPECTED))
def test_worker_killed_mid_request(core, mode: str, where: str) -> None:
    scenarios.assert_kill_outcome(core, mode, where)


def test_rate_limit_defers_through_a_restarted_triggerer(core) -> None:
    scenarios.assert_deferral(core)


def test_clears_through_the_rest_api_send_nothing_twice(core) -> None:
    scenarios.assert_clears(core)


def test_sample_on_schedule_cli_and_rest(core) -> None:
    if isinstance(core["samples"], BaseException):
        raise core["samples"]
    samples.assert_titles(samples.group(core["samples"], "titles"))
