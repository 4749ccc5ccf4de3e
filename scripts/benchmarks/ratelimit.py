"""3. Waiting out MoEngage's rate limits: ``dag.test()`` of N triggers against a sandbox whose
published windows (10 per 5 minutes, 50 per hour, 200 per day) are shrunk to seconds, in three cases
(the ``x-ratelimit-*`` headers; ``Retry-After`` only; no header), fired as the samples fire them (one
mapped task per event, and one task per event), deferrable and not. Measured against the limits' own
schedule: the earliest moment the windows allow the last trigger, counted from the first."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.common import (
    PYTHON,
    RATE_LIMIT_TARGETS,
    Counts,
    median,
    run_bench_child,
    run_child,
    sandbox_process,
    summary,
)

RATE_LIMIT_DAG = Path(__file__).resolve().parent / "rate_limit_dag.py"
TRIGGER_PATH = "/v1.0/business_event/trigger"
#: The published windows as (count, length in "five minutes"): the sandbox's and the operator's.
PUBLISHED = ((10, 1), (50, 12), (200, 288))
#: What each case's sandbox sends with its answers.
CASES: dict[str, dict[str, bool]] = {
    "headers": {"rate_limit_headers": True, "retry_after": False},
    "retry_after": {"rate_limit_headers": False, "retry_after": True},
    "none": {"rate_limit_headers": False, "retry_after": False},
}
SHAPES = ("mapped", "tasks")
MODES = (("deferrable", True), ("in_worker", False))


class Probe:
    """Timings collected by the wrappers the benchmark puts around the operator's methods."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.holds: list[dict[str, Any]] = []  # one per execute()/execute_after_rate_limit() call
        self.sleeps: list[float] = []
        self.triggers: list[float] = []
        self.store_calls: list[float] = []

    @contextlib.contextmanager
    def timed(self, sink: list[float]) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            sink.append(time.perf_counter() - t0)


def install_probe(probe: Probe) -> None:
    """Wrap the operator's entry points, the rate-limit wait's sleep, and inline triggers."""
    import airflow.sdk.definitions.dag as dag_module

    import moengage_provider.delivery.rate_limit_wait as rate_limit_wait
    import moengage_provider.operators.business_event as business_event
    from moengage_provider.delivery.stores import DeliveryStore

    operator = business_event.TriggerBusinessEventOperator

    def hold(method: Callable[..., Any], name: str) -> Callable[..., Any]:
        def wrapper(self: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            sleeps_before = sum(probe.sleeps)
            outcome = "ok"
            try:
                return method(self, context, *args, **kwargs)
            except BaseException as err:
                outcome = (
                    "deferred" if type(err).__name__ == "TaskDeferred" else f"error: {type(err).__name__}"
                )
                raise
            finally:
                probe.holds.append(
                    {
                        "method": name,
                        "start": start,
                        "seconds": time.perf_counter() - start,
                        "slept": sum(probe.sleeps) - sleeps_before,
                        "outcome": outcome,
                    }
                )

        return wrapper

    operator.execute = hold(operator.execute, "execute")  # type: ignore[method-assign]
    operator.execute_after_rate_limit = hold(operator.execute_after_rate_limit, "execute_after_rate_limit")  # type: ignore[method-assign]

    for name in ("load", "save"):
        original = getattr(DeliveryStore, name)

        def timed(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            with probe.timed(probe.store_calls):  # looked up per call: reset() replaces the list
                return _original(*args, **kwargs)

        setattr(DeliveryStore, name, timed)

    real_time = rate_limit_wait.time  # a short rate-limit wait sleeps with this module's ``time``

    class TimeShim:
        def __getattr__(self, name: str) -> Any:
            return getattr(real_time, name)

        def sleep(self, seconds: float) -> None:
            with probe.timed(probe.sleeps):
                real_time.sleep(seconds)

    rate_limit_wait.time = TimeShim()  # type: ignore[assignment]

    run_inline_trigger = dag_module._run_inline_trigger

    def inline_trigger(*args: Any, **kwargs: Any) -> Any:
        with probe.timed(probe.triggers):
            return run_inline_trigger(*args, **kwargs)

    dag_module._run_inline_trigger = inline_trigger


def load_dag(path: Path) -> Any:
    import importlib.util

    from airflow.sdk import DAG

    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    [dag] = [v for v in vars(module).values() if isinstance(v, DAG)]
    return dag


def schedule_end(first: float, count: int, five_minutes: float) -> float:
    """The limits' own schedule: when the last of ``count`` triggers could be accepted at the earliest,
    the first being sent at ``first`` (epoch seconds), each as soon as every window has room."""
    windows = [(limit, units * five_minutes) for limit, units in PUBLISHED]
    accepted: list[float] = []
    moment = first
    for _ in range(count):
        while True:
            full = [
                length
                for limit, length in windows
                if sum(math.floor(t / length) == math.floor(moment / length) for t in accepted) >= limit
            ]
            if not full:
                break
            moment = max((math.floor(moment / length) + 1) * length for length in full)
        accepted.append(moment)
    return accepted[-1]


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def measure(
    sandbox: Any, probe: Probe, run: Any, wall: float, count: int, five_minutes: float
) -> dict[str, Any]:
    """One run's figures, from the sandbox's records and the probe."""
    requests = [r for r in sandbox.control("/_sandbox/requests") if r["path"] == TRIGGER_PATH]
    accepted = sandbox.control("/_sandbox/triggers")
    first = min(_epoch(r["received_at"]) for r in requests)
    last = max(_epoch(t["received_at"]) for t in accepted) if accepted else math.nan
    earliest = schedule_end(first, count, five_minutes)
    distinct = len({t["event_attributes"]["sku"] for t in accepted})
    holds = probe.holds
    return {
        "state": str(run.state),
        "wall_seconds": wall,
        "elapsed_seconds": last - first,
        "schedule_seconds": earliest - first,
        "ratio": (last - first) / (earliest - first) if earliest > first else math.nan,
        "accepted": len(accepted),
        "lost": count - distinct,
        "duplicated": len(accepted) - distinct,
        "refused_429": sum(r["status"] == 429 for r in requests),
        "slot_seconds_waiting": sum(probe.sleeps),
        "worker_seconds": sum(h["seconds"] for h in holds),
        "trigger_seconds": sum(probe.triggers),
        "holds": len(holds),
        "deferrals": sum(h["outcome"] == "deferred" for h in holds),
        "errors": sorted({h["outcome"] for h in holds if h["outcome"].startswith("error")}),
        "hold_ms": summary([h["seconds"] - h["slept"] for h in holds], 1000),
        "store_calls": len(probe.store_calls),
        "store_ms": summary(probe.store_calls, 1000),
    }


def child_ratelimit(cfg: dict[str, Any]) -> dict[str, Any]:
    """The runs of one case and shape (``cfg["case"]``, ``cfg["shape"]``), deferrable then not, against
    a sandbox of this child's own, on an Airflow home of its own: children run side by side."""
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dags.mkdir(parents=True, exist_ok=True)
    probe = Probe()
    install_probe(probe)
    case, shape = cfg["case"], cfg["shape"]
    count, five = cfg["triggers"], float(cfg["five_minute_seconds"])
    windows = {"five_minute_seconds": five, "hour_seconds": 12 * five, "day_seconds": 288 * five}
    result: dict[str, Any] = {"runs": []}

    def write_dag(dag_id: str, deferrable: bool, n: int) -> Path:
        path = dags / f"{dag_id}.py"
        shutil.copyfile(RATE_LIMIT_DAG, path)
        params = {"dag_id": dag_id, "conn_id": "moengage_default", "deferrable": deferrable, "count": n}
        path.with_suffix(".json").write_text(
            json.dumps({**params, "hour_seconds": 12 * five, "shape": shape})
        )
        return path

    with sandbox_process(
        dict(os.environ), Path(cfg["work"]) / "sandbox.log", **windows, **CASES[case]
    ) as sandbox:
        os.environ["AIRFLOW_CONN_MOENGAGE_DEFAULT"] = sandbox.airflow_conn_json()
        # Warm-up, unlimited: the first task of a process pays Airflow's start-up; also this machine's pace.
        unlimited = {"five_minute_limit": 10**6, "hourly_limit": 10**6, "daily_limit": 10**6}
        sandbox.control("/_sandbox/rate_limit", method="POST", body=unlimited)
        run = load_dag(write_dag("bench_rate_limit_warmup", False, cfg["warmup_tasks"])).test()
        if str(run.state) != "success":
            raise RuntimeError(f"warm-up DAG run ended {run.state}")
        starts = sorted(h["start"] for h in probe.holds)
        pairs = list(itertools.pairwise(starts[1:]))
        result["pace_seconds"] = median([b - a for a, b in pairs]) if pairs else math.nan
        published = {"five_minute_limit": 10, "hourly_limit": 50, "daily_limit": 200}
        sandbox.control("/_sandbox/rate_limit", method="POST", body=published)
        for mode, deferrable in MODES:
            dag = load_dag(write_dag(f"bench_rate_limit_{case}_{shape}_{mode}", deferrable, count))
            sandbox.control("/_sandbox/reset", method="POST")
            # Start early in a sandbox window, so that the first ten fit in it as the schedule assumes:
            # at once when most of the window is left (a run ends just after a window opens), else at
            # the top of the next one.
            now = time.time()
            left = (math.floor(now / five) + 1) * five - now
            if left < 0.8 * five:
                time.sleep(left + 0.05)
            probe.reset()
            t0 = time.perf_counter()
            run = dag.test()
            figures = measure(sandbox, probe, run, time.perf_counter() - t0, count, five)
            result["runs"].append({"case": case, "shape": shape, "mode": mode, **figures})
    return result


def child_env_of(env: dict[str, str], home: Path, work: Path) -> dict[str, str]:
    """A child's own Airflow home, with a copy of the migrated metadata DB (SQLite allows one writer)."""
    home.mkdir(parents=True)
    shutil.copyfile(Path(env["AIRFLOW_HOME"]) / "airflow.db", home / "airflow.db")
    return {
        **env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(work / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }


def run_passes(run: dict[str, Any]) -> bool:
    """The targets of one run: its ratio, nothing lost or duplicated, no worker slot held waiting when deferrable."""
    return (
        run["state"] == "success"
        and run["ratio"] <= RATE_LIMIT_TARGETS[run["case"]]
        and run["lost"] == 0
        and run["duplicated"] == 0
        and (run["mode"] != "deferrable" or run["slot_seconds_waiting"] == 0)
    )


def bench_ratelimit(
    counts: Counts, work: Path, env: dict[str, str], progress: Callable[[str], None]
) -> dict[str, Any]:
    progress("airflow db migrate (for dag.test())")
    t0 = time.perf_counter()
    run_child([PYTHON, "-m", "airflow", "db", "migrate"], env, work / "airflow.log")
    migrate = time.perf_counter() - t0
    groups = list(itertools.product(CASES, SHAPES))
    progress(
        f"dag.test(): {counts.rl_triggers} triggers, five minutes as {counts.rl_five_minute_seconds:g} s; "
        f"{len(groups)} children side by side (3 cases x mapped/tasks), each deferrable then not"
    )

    def run_group(group: tuple[str, str]) -> dict[str, Any]:
        case, shape = group
        child_work = work / f"ratelimit-{case}-{shape}"
        child_env = child_env_of(env, child_work / "airflow-home", child_work)
        config = {
            "work": str(child_work),
            "case": case,
            "shape": shape,
            "triggers": counts.rl_triggers,
            "five_minute_seconds": counts.rl_five_minute_seconds,
            "warmup_tasks": counts.rl_warmup_tasks,
        }
        return run_bench_child("ratelimit", config, child_work, child_env)

    with ThreadPoolExecutor(max_workers=len(groups)) as pool:
        children = list(pool.map(run_group, groups))
    runs = [run for child in children for run in child["runs"]]
    for run in runs:
        run["pass"] = run_passes(run)
    return {
        "triggers": counts.rl_triggers,
        "five_minute_seconds": counts.rl_five_minute_seconds,
        "pace_seconds": median([c["pace_seconds"] for c in children]),
        "migrate_seconds": migrate,
        "runs": runs,
        "pass": all(run["pass"] for run in runs),
    }
