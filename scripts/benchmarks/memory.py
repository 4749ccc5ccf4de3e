"""4. Memory: peak RSS of a task process running the operator versus a no-op task.

The peak is ``VmHWM`` from ``/proc/self/status``: ``ru_maxrss`` survives ``exec`` on Linux, so a child
started by a bigger parent would report the parent's peak."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import (
    CHILD_TIMEOUT,
    CHILDREN_DIR,
    HOOK_TARGET,
    PYTHON,
    TARGET_MAX_EXTRA_RSS_MIB,
    WORKSPACE_ID,
    Counts,
    median,
    run_bench_child,
    sandbox_process,
    summary,
)
from benchmarks.overhead import PARAMS, TEMPLATE_ATTRIBUTES


def maxrss_kib() -> int:
    """This process's peak resident set, KiB: ``VmHWM`` (reset by ``exec``, unlike ``ru_maxrss``)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    import resource  # not Linux: no /proc; ru_maxrss is the best there is

    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage // 1024 if sys.platform == "darwin" else usage


def child_memory(cfg: dict[str, Any]) -> dict[str, Any]:
    from airflow.sdk import DAG, BaseHook, BaseOperator, Context  # noqa: F401  (the baseline)

    baseline = maxrss_kib()
    modules_before = len(sys.modules)
    kind = cfg["kind"]
    context: dict[str, Any] = {"ds": "2024-01-01", "params": dict(PARAMS)}
    steps: list[tuple[str, int]] = []

    class NoOpOperator(BaseOperator):
        template_fields = ("message",)

        def __init__(self, *, message: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.message = message

        def execute(self, context: Any) -> Any:
            return {"message": self.message}

    class RequestsOperator(NoOpOperator):
        """What any hook built on requests cannot go below: one session, one POST."""

        def execute(self, context: Any) -> Any:
            import requests

            with requests.Session() as session:
                response = session.post(
                    cfg["url"] + "/v1.0/business_event/trigger",
                    data=json.dumps({"event_name": "BackInStock", "event_attributes": {"sku": self.message}}),
                    auth=(WORKSPACE_ID, cfg["api_key"]),
                    headers={"Content-Type": "application/json"},
                    timeout=30,
                )
                return response.json()

    with DAG("bench_memory", schedule=None, start_date=dt.datetime(2024, 1, 1), catchup=False):
        if kind == "noop":
            op: Any = NoOpOperator(task_id="noop", message="{{ params.sku }}")
        elif kind == "requests":
            op = RequestsOperator(task_id="bare_requests", message="{{ params.sku }}")
        elif kind == "operator":
            from moengage_provider.operators.business_event import TriggerBusinessEventOperator

            op = TriggerBusinessEventOperator(
                task_id="announce",
                event_name="{{ params.event }}",
                event_attributes=copy.deepcopy(TEMPLATE_ATTRIBUTES),
                triggered_by="{{ params.owner }}",
                deferrable=False,
            )
        elif kind == "breakdown":
            import importlib

            for name in ("requests", "airflow.providers.http.hooks.http", "moengage_provider.hooks.moengage"):
                importlib.import_module(name)
                steps.append((f"import {name}", maxrss_kib()))
            from moengage_provider.operators.business_event import TriggerBusinessEventOperator

            op = TriggerBusinessEventOperator(
                task_id="announce",
                event_name="{{ params.event }}",
                event_attributes=copy.deepcopy(TEMPLATE_ATTRIBUTES),
                triggered_by="{{ params.owner }}",
                deferrable=False,
            )
        else:
            raise ValueError(kind)
    op.render_template_fields(context)
    from airflow.sdk.bases.operator import ExecutorSafeguard

    answer = op.execute(context, **{f"{type(op).__name__}__sentinel": ExecutorSafeguard.sentinel_value})
    if kind == "breakdown":
        steps.append(("operator executed (one trigger)", maxrss_kib()))
    if not answer:
        raise RuntimeError(f"{kind}: execute returned {answer!r}")
    return {
        "kind": kind,
        "baseline_kib": baseline,
        "peak_kib": maxrss_kib(),
        "modules_added": len(sys.modules) - modules_before,
        "steps": steps,
    }


IMPORTTIME_MARK = "----- bench: baseline imported -----"
IMPORTTIME_RE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def importtime_top(work: Path, env: dict[str, str], module: str, top: int = 6) -> list[dict[str, Any]]:
    """``python -X importtime``: the biggest top-level imports that ``module`` adds over the baseline."""
    result = subprocess.run(
        [PYTHON, "-X", "importtime", str(CHILDREN_DIR / "importtime.py"), module],
        env=env,
        cwd=env["AIRFLOW_HOME"],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    entries = []
    after_mark = result.stderr.split(IMPORTTIME_MARK, 1)[-1]
    for line in after_mark.splitlines():
        match = IMPORTTIME_RE.match(line)
        if match:
            _, cumulative_us, indent, name = match.groups()
            entries.append(
                {"module": name, "depth": (len(indent) - 1) // 2, "cumulative_ms": int(cumulative_us) / 1000}
            )
    # Direct children of the target's own import tree: depth 1 under the target (depth 0).
    children = [e for e in entries if e["depth"] == 1]
    target = next((e for e in entries if e["module"] == module and e["depth"] == 0), None)
    children.sort(key=lambda e: -e["cumulative_ms"])
    return ([target] if target else []) + children[:top]


def bench_memory(
    counts: Counts, work: Path, env: dict[str, str], progress: Callable[[str], None]
) -> dict[str, Any]:
    kinds = ["noop", "operator", "requests"]
    samples: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    with sandbox_process(env, work / "sandbox.log", hourly_limit=10**9, daily_limit=10**9) as sandbox:
        child_env_ = {**env, "AIRFLOW_CONN_MOENGAGE_DEFAULT": sandbox.airflow_conn_json()}
        cfg = {"url": sandbox.url, "api_key": sandbox.api_key}
        progress(f"{counts.mem_runs} fresh task processes per kind ({', '.join(kinds)}), two at a time")
        # An untimed run first of the kinds that import past the baseline: a first import also writes
        # the module's .pyc, which would inflate that process's peak.
        jobs = ["operator", "requests"]
        warmup_jobs = len(jobs)
        jobs += [k for i in range(counts.mem_runs) for k in (kinds if i % 2 == 0 else kinds[::-1])]
        jobs.append("breakdown")
        results: dict[int, dict[str, Any]] = {}
        errors: list[BaseException] = []

        def worker(index: int, kind: str) -> None:
            try:
                results[index] = run_bench_child("memory", {**cfg, "kind": kind}, work, child_env_)
            except BaseException as err:
                errors.append(err)

        for start in range(0, len(jobs), 2):  # peak RSS does not depend on what runs next to it
            threads = [
                threading.Thread(target=worker, args=(i, jobs[i]))
                for i in range(start, min(start + 2, len(jobs)))
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        if errors:
            raise errors[0]
    breakdown = None
    for index in sorted(results)[warmup_jobs:]:
        if results[index]["kind"] == "breakdown":
            breakdown = results[index]
        else:
            samples[results[index]["kind"]].append(results[index])
    out: dict[str, Any] = {"runs": counts.mem_runs, "kinds": {}}
    for kind, rows in samples.items():
        out["kinds"][kind] = {
            "peak_mib": summary([r["peak_kib"] / 1024 for r in rows]),
            "baseline_mib": summary([r["baseline_kib"] / 1024 for r in rows]),
            "modules_added": median([r["modules_added"] for r in rows]),
        }
    noop_peak = out["kinds"]["noop"]["peak_mib"]["median"]
    out["extra_mib"] = out["kinds"]["operator"]["peak_mib"]["median"] - noop_peak
    out["requests_extra_mib"] = out["kinds"]["requests"]["peak_mib"]["median"] - noop_peak
    out["pass"] = out["extra_mib"] < TARGET_MAX_EXTRA_RSS_MIB
    if breakdown is not None:
        previous = breakdown["baseline_kib"]
        steps = []
        for label, kib in breakdown["steps"]:
            steps.append({"step": label, "peak_mib": kib / 1024, "added_mib": (kib - previous) / 1024})
            previous = kib
        out["breakdown"] = {"baseline_mib": breakdown["baseline_kib"] / 1024, "steps": steps}
    progress("-X importtime of the hook module (task-time imports)")
    out["hook_importtime"] = importtime_top(work, env, HOOK_TARGET[0])
    return out
