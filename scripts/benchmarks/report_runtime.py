"""The report's sections 3 (worker time while rate-limited) and 4 (memory)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.common import (
    TARGET_MAX_EXTRA_RSS_MIB,
    WINDOW_FACTOR,
)
from benchmarks.fmt import fmt, spread


def render_runtime_sections(results: dict[str, Any], add: Callable[[str], None]) -> None:
    counts = results["counts"]
    rl = results["sections"].get("ratelimit", {})
    mem = results["sections"].get("memory", {})

    def ok(section: dict[str, Any], key: str) -> bool | None:
        return None if "error" in section or key not in section else bool(section[key])

    add("## 3. Worker time while rate-limited")
    add("")
    if "error" in rl:
        add(f"Not measured: `{rl['error']}`")
    elif rl:
        d, w = rl["runs"]["deferrable"], rl["runs"]["in_worker"]
        add(
            f"`dag.test()` of one DAG of {rl['triggers']} mapped `TriggerBusinessEventOperator` tasks against a "
            f"sandbox allowing {rl['limit']} triggers per window, once with `deferrable=True` and once with "
            "`deferrable=False`. The window is shrunk from an hour to "
            f"**{fmt(rl['window_seconds'], 0)} s** (operator `rate_limit_window` and sandbox `--hour-seconds`): "
            f"`dag.test()` runs one task every {fmt(rl['pace_seconds'], 2)} s here (measured on "
            f"{counts['rl_warmup_tasks']} warm-up tasks, and slower as the run grows), and the window is set to "
            f"{WINDOW_FACTOR:g} x {rl['limit']} times that, so that the limit is met: a shorter window would "
            f"roll over before {rl['limit']} triggers arrive. Each run starts at the top of a sandbox window. "
            "`dag.test()` runs a deferred task's trigger in-process, inline; the benchmark wraps the "
            "operator's `execute()` and `execute_after_rate_limit()` (the worker slot's share), the operator "
            "module's `time.sleep`, and Airflow's inline-trigger runner (the triggerer's share), without "
            "changing the operator."
        )
        add("")
        add("| | deferrable=True | deferrable=False |")
        add("| --- | ---: | ---: |")
        add(f"| DAG run state | {d['state']} | {w['state']} |")
        add(f"| triggers accepted (distinct) | {d['distinct_accepted']} | {w['distinct_accepted']} |")
        add(f"| refused with 429 | {d['refused_429']} | {w['refused_429']} |")
        add(f"| wall time, s | {fmt(d['wall_seconds'], 2)} | {fmt(w['wall_seconds'], 2)} |")
        add(
            f"| **worker-slot seconds** (inside `execute*()`) | **{fmt(d['worker_seconds'], 2)}** "
            f"| **{fmt(w['worker_seconds'], 2)}** |"
        )
        add(
            f"| of which sleeping for the rate limit | {fmt(d['slept_in_worker_seconds'], 2)} "
            f"| {fmt(w['slept_in_worker_seconds'], 2)} |"
        )
        add(
            f"| of which sending (the rest) | {fmt(d['worker_seconds_sending'], 2)} | {fmt(w['worker_seconds_sending'], 2)} |"
        )
        add(
            f"| waiting in the trigger (triggerer, no worker) | {fmt(d['trigger_seconds'], 2)} | {fmt(w['trigger_seconds'], 2)} |"
        )
        add(
            f"| Airflow's own task handling in `dag.test()` (the rest of the wall time) | {fmt(d['airflow_seconds'], 2)} | {fmt(w['airflow_seconds'], 2)} |"
        )
        add(
            f"| `execute*()` calls / deferrals | {d['holds']} / {d['deferrals']} | {w['holds']} / {w['deferrals']} |"
        )
        add(
            f"| one worker hold, ms: median (p25–p75) | {spread(d['hold_ms'], 1)} | {spread(w['hold_ms'], 1)} |"
        )
        add(f"| longest worker hold, s | {fmt(d['max_hold_seconds'], 3)} | {fmt(w['max_hold_seconds'], 3)} |")
        add(
            f"| hook call, ms: median | {fmt(d['hook_ms']['median'], 2)} | {fmt(w['hook_ms']['median'], 2)} |"
        )
        add(
            f"| task state store calls (count; ms each, median) | {d['store_calls']}; "
            f"{fmt(d['store_ms']['median'], 2)} | {w['store_calls']}; {fmt(w['store_ms']['median'], 2)} |"
        )
        add("")
        share = d["worker_seconds"] / w["worker_seconds"] if w["worker_seconds"] else float("nan")
        add(
            f"Deferrable: the worker slot was held {fmt(d['worker_seconds'], 2)} s in all "
            f"({fmt(share * 100, 0)} % of the in-worker run's {fmt(w['worker_seconds'], 2)} s), never while "
            f"waiting: {fmt(d['slept_in_worker_seconds'], 0)} s slept in the worker, the longest single hold "
            f"{fmt(d['max_hold_seconds'] * 1000, 0)} ms, and the {fmt(d['trigger_seconds'], 2)} s wait for the next "
            "window spent in the trigger (Airflow's `DateTimeTrigger` checks the time once a second near "
            "the end, so that wait can overrun by up to a second). With `deferrable=False` the task sleeps in "
            "its worker slot for waits under 60 s, so worker time ≈ the wait plus the sends. "
            f"A worker hold ({fmt(w['hold_ms']['median'], 0)} ms median) is mostly Airflow's task state store, "
            f"not the HTTP call: the hook call takes {fmt(w['hook_ms']['median'], 1)} ms (a new hook per task: "
            "connection lookup, session, TCP connect), while the operator's "
            f"{w['store_calls'] / max(1, w['holds']):.0f} delivery-record calls per `execute()` (load, save "
            f"'sending', save 'delivered') take {fmt(w['store_ms']['median'], 1)} ms each through the Task SDK "
            "to the metadata database (SQLite here; an API-server round trip in a deployment). That is the "
            "price of at-most-once delivery on retries and reruns. The Airflow task-handling time is "
            "`dag.test()`'s own (starting and finishing each task instance in the metadata DB); in a real "
            "deployment that is spent by the worker for every task of any operator, and a deferred task pays "
            "it twice (defer, resume)."
        )
        if not rl.get("limit_met"):
            add("")
            add(
                "**The limit was not met in every run**: `dag.test()` ran slower than the warm-up suggested, so "
                "each window took fewer triggers than the limit. Rerun on a quieter machine."
            )
    add("")

    # -- 4 ----------------------------------------------------------------------------------------
    add("## 4. Memory")
    add("")
    if "error" in mem:
        add(f"Not measured: `{mem['error']}`")
    elif mem:
        add(
            f"Peak RSS (`VmHWM` of `/proc/self/status`, which `exec` resets, unlike `ru_maxrss`) of a fresh task process, {mem['runs']} "
            "per kind (medians). Every process first imports `BaseOperator`, `BaseHook` and `Context` from "
            "`airflow.sdk`, builds its operator in a DAG, renders its templates and runs `execute()` once; the "
            "sandbox is another process. A third kind, a `BaseOperator` whose `execute()` posts the same "
            "event with a plain `requests.Session`, shows the floor of any hook built on `requests`."
        )
        add("")
        add("| task process | peak RSS, MiB: median (p25–p75) | over the no-op task | modules added |")
        add("| --- | ---: | ---: | ---: |")
        noop = mem["kinds"]["noop"]["peak_mib"]["median"]
        for kind, label in (
            ("noop", "no-op `BaseOperator` task"),
            ("operator", "`TriggerBusinessEventOperator` (one trigger)"),
            ("requests", "bare `requests` task (one POST)"),
        ):
            row = mem["kinds"][kind]
            add(
                f"| {label} | {spread(row['peak_mib'], 2)} | +{fmt(row['peak_mib']['median'] - noop, 2)} "
                f"| {fmt(row['modules_added'], 0)} |"
            )
        add("")
        add(
            f"The operator's task process peaks **+{fmt(mem['extra_mib'], 2)} MiB** over the no-op task "
            f"(target < {TARGET_MAX_EXTRA_RSS_MIB:g} MiB)."
        )
        if "breakdown" in mem:
            add("")
            add("Where it goes (one extra process importing step by step after the same baseline):")
            add("")
            add("| step | peak RSS, MiB | added, MiB |")
            add("| --- | ---: | ---: |")
            add(f"| baseline: `airflow.sdk` | {fmt(mem['breakdown']['baseline_mib'], 2)} | |")
            for step in mem["breakdown"]["steps"]:
                add(f"| {step['step']} | {fmt(step['peak_mib'], 2)} | +{fmt(step['added_mib'], 2)} |")
        if mem.get("hook_importtime"):
            add("")
            add(
                "`python -X importtime` of `moengage_provider.hooks.moengage` after the same baseline "
                "(cumulative ms, the hook module first, then its costliest direct imports):"
            )
            add("")
            add("| module | cumulative ms |")
            add("| --- | ---: |")
            for entry in mem["hook_importtime"]:
                add(f"| `{entry['module']}` | {fmt(entry['cumulative_ms'], 1)} |")
    add("")

    # -- causes -------------------------------------------------------------------------------------
