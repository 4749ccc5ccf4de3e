"""DAG files import the operator and the notifier on every parse: that import loads no lineage or metrics code."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import airflow_env

LAZY = (
    "openlineage",
    "airflow.providers.openlineage",
    "moengage_provider.lineage",
    "moengage_provider.metrics",
)

CHILD = """
import json, sys
from airflow.providers.common.compat.sdk import BaseOperator
before = set(sys.modules)
import moengage_provider.operators.business_event, moengage_provider.notifications.moengage
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_importing_operator_and_notifier_loads_no_lineage_or_metrics_code():
    out = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=airflow_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "moengage_provider.operators.business_event" in loaded
    assert [name for name in loaded if name.startswith(LAZY)] == []
