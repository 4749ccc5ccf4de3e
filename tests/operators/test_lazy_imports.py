"""DAG files import the operator and the notifier on every parse: that import loads no lineage or metrics
code, nor what only a running task needs (the hook, requests, the delivery state machine)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import airflow_env

# Under pytest-xdist, on one worker: the child interpreter (a module fixture) starts once.
pytestmark = pytest.mark.xdist_group("lazy-imports")

LAZY = (
    "openlineage",
    "airflow.providers.openlineage",
    "moengage_provider.observability",
)
#: What only a running task needs: a DAG parse never calls MoEngage nor decides a delivery.
RUN_TIME = (
    "requests",
    "airflow.providers.http",
    "moengage_provider.hooks",
    "moengage_provider.delivery",
    "moengage_provider.api.outcomes",
    "moengage_provider.exceptions",
)

CHILD = """
import json, sys
from airflow.providers.common.compat.sdk import BaseOperator
before = set(sys.modules)
import moengage_provider.operators.business_event, moengage_provider.notifications.moengage
print(json.dumps(sorted(set(sys.modules) - before)))
"""


@pytest.fixture(scope="module")
def loaded() -> list[str]:
    """The modules importing the operator and the notifier adds, in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=airflow_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_operator_and_notifier_loads_no_lineage_or_metrics_code(loaded: list[str]):
    assert "moengage_provider.operators.business_event" in loaded
    assert [name for name in loaded if name.startswith(LAZY)] == []


def test_importing_operator_and_notifier_loads_nothing_only_a_running_task_needs(loaded: list[str]):
    assert "moengage_provider.notifications.moengage" in loaded
    assert [name for name in loaded if name.startswith(RUN_TIME)] == []
