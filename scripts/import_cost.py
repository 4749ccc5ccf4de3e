"""
How many modules importing an operator adds, in a fresh interpreter with the Airflow SDK preloaded
(what a DAG processor has loaded already), ours next to ``HttpOperator`` as the baseline.

Also says whether the import pulled in OpenLineage or our lineage/metrics code, which must load
only when lineage is collected or a task runs. Run: ``.venv/bin/python scripts/import_cost.py``.
``new_modules()`` is the measuring function, for the bench package to call.
"""

from __future__ import annotations

import json
import subprocess
import sys

TARGETS = {
    "TriggerBusinessEventOperator": (
        "moengage_provider.operators.business_event",
        "TriggerBusinessEventOperator",
    ),
    "HttpOperator (baseline)": ("airflow.providers.http.operators.http", "HttpOperator"),
}
#: Modules the operator import must not load: they belong to lineage collection and task runs.
LAZY_PREFIXES = (
    "openlineage",
    "airflow.providers.openlineage",
    "moengage_provider.observability",
)

_CHILD = r"""
import importlib, json, sys
from airflow.sdk import BaseOperator, BaseHook, Context
before = set(sys.modules)
getattr(importlib.import_module(sys.argv[1]), sys.argv[2])
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def new_modules(module: str, attr: str, python: str = sys.executable) -> list[str]:
    """The modules ``from module import attr`` adds in a fresh interpreter with the SDK loaded."""
    out = subprocess.run(
        [python, "-c", _CHILD, module, attr], capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def lazy_violations(modules: list[str]) -> list[str]:
    return [m for m in modules if m.startswith(LAZY_PREFIXES)]


def main() -> int:
    try:
        import airflow.providers.openlineage  # noqa: F401

        openlineage = "installed"
    except ImportError:
        openlineage = "not installed"
    print(f"OpenLineage provider: {openlineage}")
    failed = False
    for label, (module, attr) in TARGETS.items():
        modules = new_modules(module, attr)
        violations = lazy_violations(modules)
        print(f"{label}: {len(modules)} new modules")
        if label.startswith("TriggerBusinessEventOperator"):
            print("  " + ", ".join(modules))
            if violations:
                failed = True
                print(f"  loaded what should load lazily: {', '.join(violations)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
