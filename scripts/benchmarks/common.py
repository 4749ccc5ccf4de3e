"""Shared by every benchmark: counts, targets, statistics, child processes, the sandbox process."""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import statistics
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moengage_provider.testing.sandbox.spawn import SpawnedSandbox

REPO = Path(__file__).resolve().parent.parent.parent
SCRIPT = REPO / "scripts" / "bench.py"
CHILDREN_DIR = Path(__file__).resolve().parent / "children"
DAGS_DIR = REPO / "dags"
DEFAULT_OUTPUT = REPO / "BENCHMARKS.md"
PYTHON = sys.executable
WORKSPACE_ID = "bench-workspace"
CHILD_TIMEOUT = 600.0
#: Section 3's targets: time from the first trigger to the last accepted one, over the limits' own
#: schedule, per case (the first refusal of each window costs one more request without a header).
RATE_LIMIT_TARGETS = {"headers": 1.10, "retry_after": 1.10, "none": 1.25}

# The targets the bench checks. The hook's per-call time against a bare `requests` post is measured
# and reported as a ratio, with no target: on an API that accepts 50 triggers an hour, a fraction of a
# millisecond per call is not worth code of our own around `requests`.
TARGET_MAX_MODULES = 10
TARGET_MAX_IMPORT_RATIO = 0.10
TARGET_MAX_EXTRA_RSS_MIB = 5.0

OPERATOR_TARGET = ("moengage_provider.operators.business_event", "TriggerBusinessEventOperator")
HTTP_TARGET = ("airflow.providers.http.operators.http", "HttpOperator")
HOOK_TARGET = ("moengage_provider.hooks.moengage", "MoEngageHook")


@dataclass(frozen=True)
class Counts:
    parse_runs: int  # fresh interpreters per import (ours and HttpOperator's), interleaved
    hook_import_runs: int  # fresh interpreters for the hook import (task-time, for reference)
    dag_parse_runs: int  # fresh interpreters per DAG file
    calls: int  # hook calls and bare calls, each
    warmup_calls: int
    op_calls: int  # operator rounds (render+validate, render+execute, hook call)
    cold_calls: int  # new hook / new session per call, each
    rl_triggers: int  # triggers in each rate-limit run
    rl_five_minute_seconds: float  # MoEngage's "5 minutes" in those runs (the hour 12x, the day 288x)
    rl_warmup_tasks: int
    mem_runs: int  # fresh task processes per kind


FULL = Counts(
    parse_runs=15,
    hook_import_runs=3,
    dag_parse_runs=3,
    calls=2000,
    warmup_calls=100,
    op_calls=1000,
    cold_calls=100,
    rl_triggers=21,
    rl_five_minute_seconds=40.0,
    rl_warmup_tasks=4,
    mem_runs=5,
)
QUICK = Counts(
    parse_runs=3,
    hook_import_runs=1,
    dag_parse_runs=1,
    calls=100,
    warmup_calls=10,
    op_calls=50,
    cold_calls=10,
    rl_triggers=11,
    rl_five_minute_seconds=10.0,
    rl_warmup_tasks=3,
    mem_runs=1,
)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        v = values[0] if values else float("nan")
        return v, v
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def summary(values: list[float], scale: float = 1.0) -> dict[str, float]:
    """Median, quartiles, min, max and mean of ``values * scale``."""
    scaled = [v * scale for v in values]
    q1, q3 = quartiles(scaled)
    return {
        "n": len(scaled),
        "median": median(scaled),
        "p25": q1,
        "p75": q3,
        "min": min(scaled) if scaled else float("nan"),
        "max": max(scaled) if scaled else float("nan"),
        "mean": statistics.fmean(scaled) if scaled else float("nan"),
    }


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on Linux
        return []


def child_env(work: Path, **extra: str) -> dict[str, str]:
    """The environment of every child: a throw-away Airflow home, our own bytecode cache, no proxies."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(name, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env["PATH"] = f"{Path(PYTHON).parent}{os.pathsep}{env.get('PATH', '')}"
    env["AIRFLOW_HOME"] = str(work / "airflow-home")
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(work / "dags")
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
    env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
    env.update(extra)
    return env


def run_child(
    args: list[str],
    env: dict[str, str],
    log: Path,
    *,
    timeout: float = CHILD_TIMEOUT,
    cwd: Path | None = None,
) -> None:
    """Run a child process with its output appended to ``log``; raise with the log's tail on failure."""
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"\n===== $ {' '.join(args[:4])} ...\n")
        fh.flush()
        result = subprocess.run(
            args,
            env=env,
            cwd=cwd or Path(env["AIRFLOW_HOME"]),
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
        raise RuntimeError(f"child exited {result.returncode}: {' '.join(args[:4])}\n" + "\n".join(tail))


def run_bench_child(name: str, config: dict[str, Any], work: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run ``bench.py --child NAME`` with a JSON config; return the JSON it wrote."""
    out = work / f"result-{name}-{secrets.token_hex(4)}.json"
    cfg_path = work / f"config-{name}-{secrets.token_hex(4)}.json"
    cfg_path.write_text(json.dumps({**config, "out": str(out)}))
    run_child([PYTHON, str(SCRIPT), "--child", name, str(cfg_path)], env, work / "children.log")
    return json.loads(out.read_text())


@contextlib.contextmanager
def sandbox_process(env: dict[str, str], log: Path, **options: Any) -> Iterator[SpawnedSandbox]:
    """The sandbox in its own process, like a remote server: the shared ``SpawnedSandbox`` (``options``:
    its keyword options, e.g. ``hourly_limit``, ``five_minute_seconds``)."""
    with log.open("a", encoding="utf-8") as stderr:
        sandbox = SpawnedSandbox(
            WORKSPACE_ID, "bench-" + secrets.token_urlsafe(16), env=env, stderr=stderr, **options
        )
        with sandbox.start():
            yield sandbox
