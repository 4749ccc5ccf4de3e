"""3. Worker time while rate-limited: ``dag.test()`` of many triggers against a small window,
deferrable versus not (worker slot seconds, triggerer seconds)."""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import (
    PYTHON,
    WINDOW_FACTOR,
    Counts,
    median,
    run_bench_child,
    run_child,
    sandbox_process,
    summary,
)

RATE_LIMIT_DAG = Path(__file__).resolve().parent / "rate_limit_dag.py"


class Probe:
    """Timings collected by the wrappers the benchmark puts around the operator's methods."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.holds: list[dict[str, Any]] = []  # one per execute()/execute_after_rate_limit() call
        self.sleeps: list[float] = []
        self.triggers: list[float] = []
        self.hook_calls: list[float] = []
        self.store_calls: list[float] = []

    @contextlib.contextmanager
    def timed(self, sink: list[float]) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            sink.append(time.perf_counter() - t0)


def install_probe(probe: Probe) -> None:
    """Wrap the operator's entry points, the hook call, the store, sleeps and inline triggers."""
    import airflow.sdk.definitions.dag as dag_module

    import moengage_provider.delivery.attempt as attempt
    import moengage_provider.operators.business_event as business_event
    from moengage_provider.delivery.stores import DeliveryStore
    from moengage_provider.hooks.moengage import MoEngageHook

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

    def timed_method(cls: Any, name: str, sink: str) -> None:
        original = getattr(cls, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with probe.timed(getattr(probe, sink)):  # looked up per call: reset() replaces the lists
                return original(*args, **kwargs)

        setattr(cls, name, wrapper)

    timed_method(MoEngageHook, "trigger_business_event", "hook_calls")
    for name in ("load", "save"):
        timed_method(DeliveryStore, name, "store_calls")

    real_time = attempt.time  # the try sleeps out a short rate-limit wait with this module's ``time``

    class TimeShim:
        def __getattr__(self, name: str) -> Any:
            return getattr(real_time, name)

        def sleep(self, seconds: float) -> None:
            with probe.timed(probe.sleeps):
                real_time.sleep(seconds)

    attempt.time = TimeShim()  # type: ignore[assignment]

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


def child_ratelimit(cfg: dict[str, Any]) -> dict[str, Any]:
    work = Path(cfg["work"])
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dags.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    probe = Probe()
    install_probe(probe)
    result: dict[str, Any] = {"triggers": cfg["triggers"], "limit": cfg["limit"]}

    def write_dag(dag_id: str, conn_id: str, deferrable: bool, window: float, count: int) -> Path:
        path = dags / f"{dag_id}.py"
        shutil.copyfile(RATE_LIMIT_DAG, path)
        params = {
            "dag_id": dag_id,
            "conn_id": conn_id,
            "deferrable": deferrable,
            "window": window,
            "count": count,
        }
        path.with_suffix(".json").write_text(json.dumps(params))
        return path

    # Warm-up: the first task of a process pays Airflow's start-up; also measures this machine's pace.
    with sandbox_process(env, work / "sandbox.log", hourly_limit=10**9, daily_limit=10**9) as unlimited:
        os.environ["AIRFLOW_CONN_BENCH_UNLIMITED"] = unlimited.airflow_conn_json()
        dag = load_dag(write_dag("bench_warmup", "bench_unlimited", False, 3600, cfg["warmup_tasks"]))
        t0 = time.perf_counter()
        run = dag.test()
        result["warmup_seconds"] = time.perf_counter() - t0
        if str(run.state) != "success":
            raise RuntimeError(f"warm-up DAG run ended {run.state}")
        starts = sorted(h["start"] for h in probe.holds)
        pace = median([b - a for a, b in itertools.pairwise(starts[1:])]) if len(starts) > 2 else 0.3
    result["pace_seconds"] = pace
    # The window must fit `limit` sends with room to spare, or the limit is never met; dag.test() slows
    # down as the DAG run grows (it rescans every task instance per task), hence three times the pace.
    window = float(min(50, max(3, math.ceil(cfg["limit"] * pace * WINDOW_FACTOR))))
    result["window_seconds"] = window

    with sandbox_process(
        env, work / "sandbox.log", hourly_limit=cfg["limit"], daily_limit=10**9, hour_seconds=window
    ) as sandbox:
        os.environ["AIRFLOW_CONN_MOENGAGE_DEFAULT"] = sandbox.airflow_conn_json()
        runs = {}
        for mode, deferrable in (("deferrable", True), ("in_worker", False)):
            dag = load_dag(
                write_dag(f"bench_rate_limit_{mode}", "moengage_default", deferrable, window, cfg["triggers"])
            )
            sandbox.control("/_sandbox/reset", method="POST")
            # Start at the top of a sandbox window, so that both runs meet the limit the same way.
            now = time.time()
            time.sleep((math.floor(now / window) + 1) * window - now + 0.05)
            probe.reset()
            t0 = time.perf_counter()
            run = dag.test()
            wall = time.perf_counter() - t0
            holds = probe.holds
            accepted = sandbox.control("/_sandbox/triggers")
            rejected = sandbox.control("/_sandbox/rejected")
            worker = sum(h["seconds"] for h in holds)
            slept = sum(probe.sleeps)
            waited_in_trigger = sum(probe.triggers)
            runs[mode] = {
                "state": str(run.state),
                "wall_seconds": wall,
                "worker_seconds": worker,
                "worker_seconds_sending": worker - slept,
                "slept_in_worker_seconds": slept,
                "trigger_seconds": waited_in_trigger,
                "airflow_seconds": wall - worker - waited_in_trigger,
                "holds": len(holds),
                "deferrals": sum(h["outcome"] == "deferred" for h in holds),
                "errors": sorted({h["outcome"] for h in holds if h["outcome"].startswith("error")}),
                "max_hold_seconds": max((h["seconds"] for h in holds), default=0.0),
                "hold_ms": summary([h["seconds"] for h in holds], 1000),
                "sending_hold_ms": summary([h["seconds"] - h["slept"] for h in holds], 1000),
                "hook_ms": summary(probe.hook_calls, 1000),
                "store_ms": summary(probe.store_calls, 1000),
                "store_calls": len(probe.store_calls),
                "accepted": len(accepted),
                "distinct_accepted": len({t["event_attributes"]["sku"] for t in accepted}),
                "refused_429": sum(r["status"] == 429 for r in rejected),
                "rejected_other": sum(r["status"] != 429 for r in rejected),
            }
        result["runs"] = runs
    return result


def bench_ratelimit(
    counts: Counts, work: Path, env: dict[str, str], progress: Callable[[str], None]
) -> dict[str, Any]:
    progress("airflow db migrate (for dag.test())")
    t0 = time.perf_counter()
    run_child([PYTHON, "-m", "airflow", "db", "migrate"], env, work / "airflow.log")
    migrate = time.perf_counter() - t0
    progress(f"dag.test(): {counts.rl_triggers} triggers, {counts.rl_limit} per window, deferrable then not")
    result = run_bench_child(
        "ratelimit",
        {
            "work": str(work),
            "triggers": counts.rl_triggers,
            "limit": counts.rl_limit,
            "warmup_tasks": counts.rl_warmup_tasks,
        },
        work,
        env,
    )
    result["migrate_seconds"] = migrate
    deferrable, in_worker = result["runs"]["deferrable"], result["runs"]["in_worker"]
    sending_only = (
        deferrable["state"] == "success"
        and deferrable["slept_in_worker_seconds"] == 0
        and deferrable["refused_429"] > 0
        and deferrable["trigger_seconds"] > 0
        and deferrable["distinct_accepted"] == counts.rl_triggers
        and deferrable["max_hold_seconds"] < 1.0
    )
    result["pass"] = sending_only and in_worker["state"] == "success"
    result["limit_met"] = deferrable["refused_429"] > 0 and in_worker["refused_429"] > 0
    return result
