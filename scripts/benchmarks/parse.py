"""1. DAG-parse cost: what importing the operator adds to a fresh interpreter, and each DAG file's parse time."""

from __future__ import annotations

import json
import secrets
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import (
    CHILDREN_DIR,
    DAGS_DIR,
    HOOK_TARGET,
    HTTP_TARGET,
    OPERATOR_TARGET,
    PYTHON,
    TARGET_MAX_IMPORT_RATIO,
    TARGET_MAX_MODULES,
    Counts,
    run_child,
    summary,
)

REFERENCE_DAGS = Path(__file__).resolve().parent / "reference_dags"


def reference_dags(work: Path) -> Path:
    """Two reference DAG files of the benchmark's own, written once."""
    folder = work / "reference-dags"
    if not folder.exists():
        shutil.copytree(REFERENCE_DAGS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def import_once(target: tuple[str, str], work: Path, env: dict[str, str]) -> dict[str, Any]:
    out = work / f"import-{secrets.token_hex(4)}.json"
    run_child(
        [PYTHON, str(CHILDREN_DIR / "import_time.py"), target[0], target[1], str(out)],
        env,
        work / "children.log",
    )
    return json.loads(out.read_text())


def parse_once(path: Path, work: Path, env: dict[str, str]) -> dict[str, Any]:
    out = work / f"parse-{secrets.token_hex(4)}.json"
    run_child(
        [PYTHON, str(CHILDREN_DIR / "parse_dag.py"), str(path), str(out)],
        env,
        work / "children.log",
        cwd=path.parent,
    )
    return json.loads(out.read_text())


def package_breakdown(modules: list[str], top: int = 8) -> list[tuple[str, int]]:
    """Modules grouped by top-level package (``airflow.providers.x`` kept as one group)."""

    def group(name: str) -> str:
        parts = name.split(".")
        if parts[0] == "airflow" and len(parts) > 2 and parts[1] == "providers":
            return ".".join(parts[:3])
        return parts[0]

    return Counter(group(m) for m in modules).most_common(top)


def bench_parse(
    counts: Counts, work: Path, env: dict[str, str], progress: Callable[[str], None]
) -> dict[str, Any]:
    targets = {"operator": OPERATOR_TARGET, "http": HTTP_TARGET, "hook": HOOK_TARGET}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
    progress(f"imports: {counts.parse_runs} fresh interpreters each, interleaved")
    for i in range(counts.parse_runs):
        order = ["operator", "http"] if i % 2 == 0 else ["http", "operator"]
        if i < counts.hook_import_runs:
            order.insert(1, "hook")
        for name in order:
            runs[name].append(import_once(targets[name], work, env))
    result: dict[str, Any] = {"imports": {}}
    for name, samples in runs.items():
        module_sets = {tuple(s["new_modules"]) for s in samples}
        modules = list(samples[0]["new_modules"])
        result["imports"][name] = {
            "target": ".".join(targets[name]),
            "modules": len(modules),
            "modules_deterministic": len(module_sets) == 1,
            "module_names": modules,
            "packages": package_breakdown(modules),
            "ms": summary([s["seconds"] for s in samples], 1000.0),
        }
    ours, http = result["imports"]["operator"], result["imports"]["http"]
    result["time_ratio"] = ours["ms"]["median"] / http["ms"]["median"]
    result["modules_pass"] = ours["modules"] <= TARGET_MAX_MODULES
    result["time_pass"] = result["time_ratio"] <= TARGET_MAX_IMPORT_RATIO

    # The sample DAG files, next to two reference files of our own (compiled by the warm-up).
    files = [
        *sorted(DAGS_DIR.glob("*.py")),
        reference_dags(work) / "reference_minimal_task.py",
        reference_dags(work) / "reference_minimal_moengage.py",
    ]
    progress(f"DAG files: {len(files)} files x {counts.dag_parse_runs} fresh interpreters")
    dag_runs: dict[Path, list[dict[str, Any]]] = {path: [] for path in files}
    for i in range(counts.dag_parse_runs):
        for path in files[i % len(files) :] + files[: i % len(files)]:
            dag_runs[path].append(parse_once(path, work, env))
    rows = []
    for path, samples in dag_runs.items():
        ok = [s for s in samples if "error" not in s]
        row: dict[str, Any] = {
            "file": path.name,
            "reference": path.parent != DAGS_DIR,
            "runs": len(samples),
            "errors": sorted({s["error"] for s in samples if "error" in s}),
        }
        if ok:
            row.update(
                ms=summary([s["seconds"] for s in ok], 1000.0),
                dag_ids=ok[0]["dag_ids"],
                tasks=ok[0]["tasks"],
                new_modules=ok[0]["new_modules"],
            )
        rows.append(row)
    result["dag_files"] = rows
    return result
