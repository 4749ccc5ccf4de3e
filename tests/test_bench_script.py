"""
``make bench`` works: ``scripts/bench.py --quick`` writes a report with every section and real figures.

The figures themselves are not asserted (timings belong in the report, not in a test); only that each
measurement ran and produced numbers.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "bench.py"

HEADINGS = (
    "# Benchmarks: what the MoEngage provider costs Airflow",
    "## Summary",
    "## Machine",
    "## How to rerun",
    "## 1. DAG-parse cost",
    "### Parse time of each DAG file",
    "## 2. Per-trigger overhead",
    "### The operator's own work",
    "## 3. Waiting out rate limits",
    "## 4. Memory",
    "## Misses: causes and suggested fixes",
)

# Summary rows: "| 1 | what | figure with a number | target | **PASS**, **MISS** or reported (no target) |"
SUMMARY_ROW = re.compile(
    r"^\| (\d) \| [^|]+ \| [^|]*\d[^|]* \| [^|]+ \| (\*\*PASS\*\*|\*\*MISS\*\*|reported) \|$", re.MULTILINE
)


def positive(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.mark.timeout(900)
def test_quick_bench_writes_a_report_with_every_section_and_figures(tmp_path):
    report = tmp_path / "BENCHMARKS.md"
    raw = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--output", str(report), "--json", str(raw)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    text = report.read_text(encoding="utf-8")
    for heading in HEADINGS:
        assert heading in text, f"missing section {heading!r}"
    assert "Not measured" not in text
    assert "## Errors" not in text
    rows = SUMMARY_ROW.findall(text)
    assert sorted(number for number, _ in rows) == ["1", "1", "2", "2", "3", "4"], rows
    # Per-call time has no target: the operator's own work is reported, not judged.
    assert [verdict for number, verdict in rows if number == "2"] == ["**PASS**", "reported"], rows
    assert "--quick" in text  # a quick report says so

    figures = json.loads(raw.read_text(encoding="utf-8"))
    machine = figures["machine"]
    assert machine["cores"] >= 1 and machine["python"] and machine["airflow"]
    for line in (machine["cpu"], machine["python"], machine["airflow"], figures["date"]):
        assert str(line) in text

    parse = figures["sections"]["parse"]
    for name in ("operator", "http", "hook"):
        assert isinstance(parse["imports"][name]["modules"], int)
        assert positive(parse["imports"][name]["ms"]["median"])
    assert positive(parse["imports"]["http"]["modules"])
    assert positive(parse["time_ratio"])
    files = {row["file"]: row for row in parse["dag_files"]}
    assert {p.name for p in (REPO / "dags").glob("*.py")} <= set(files)
    for name in ("reference_minimal_task.py", "reference_minimal_moengage.py"):
        assert positive(files[name]["ms"]["median"]) and files[name]["tasks"] == 1
    for name in files:
        assert f"`{name}`" in text

    overhead = figures["sections"]["overhead"]
    for key in ("hook_ms", "bare_ms", "cold_hook_ms", "cold_bare_ms", "render_validate_ms", "op_hook_ms"):
        assert positive(overhead[key]["median"]), key
    assert positive(overhead["call_ratio"])
    assert math.isfinite(overhead["operator_ms"])
    assert overhead["sandbox_triggers"] >= 2 * overhead["calls"]

    ratelimit = figures["sections"]["ratelimit"]
    cases = {(run["case"], run["shape"], run["mode"]) for run in ratelimit["runs"]}
    assert len(cases) == len(ratelimit["runs"]) == 12  # 3 cases x mapped/tasks x deferrable or not
    for run in ratelimit["runs"]:
        assert run["state"] == "success"
        assert run["lost"] == 0 and run["duplicated"] == 0
        assert (
            positive(run["elapsed_seconds"]) and positive(run["schedule_seconds"]) and positive(run["ratio"])
        )
        if run["mode"] == "deferrable":
            assert run["slot_seconds_waiting"] == 0

    memory = figures["sections"]["memory"]
    for kind in ("noop", "operator", "requests"):
        assert positive(memory["kinds"][kind]["peak_mib"]["median"])
    assert math.isfinite(memory["extra_mib"])
    assert memory["breakdown"]["steps"]
