"""The report's sections 3 (waiting out rate limits) and 4 (memory)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.common import RATE_LIMIT_TARGETS, TARGET_MAX_EXTRA_RSS_MIB
from benchmarks.fmt import fmt, spread, verdict

CASE_TEXT = {
    "headers": "`x-ratelimit-*` headers",
    "retry_after": "`Retry-After` only",
    "none": "no header",
}


def rate_limit_summary(rl: dict[str, Any]) -> str:
    """Section 3's summary figure: the worst ratio per case, events lost and duplicated, slot-seconds."""
    worst = {case: max(r["ratio"] for r in rl["runs"] if r["case"] == case) for case in CASE_TEXT}
    deferrable = [r for r in rl["runs"] if r["mode"] == "deferrable"]
    return (
        f"{rl['triggers']} events, 5 min as {fmt(rl['five_minute_seconds'], 0)} s; worst time / schedule: "
        + ", ".join(f"{CASE_TEXT[c]} {fmt(worst[c], 2)}x" for c in CASE_TEXT)
        + f"; lost {sum(r['lost'] for r in rl['runs'])}, duplicated {sum(r['duplicated'] for r in rl['runs'])}; "
        f"worker-slot s waiting when deferrable {fmt(sum(r['slot_seconds_waiting'] for r in deferrable), 2)}"
    )


def rate_limit_targets() -> str:
    return (
        f"≤ {RATE_LIMIT_TARGETS['headers']:.2f}x with headers or `Retry-After`, ≤ {RATE_LIMIT_TARGETS['none']:.2f}x "
        "without; 0 lost, 0 duplicated, 0 s waiting in a worker slot when deferrable"
    )


def render_rate_limits(rl: dict[str, Any], counts: dict[str, Any], add: Callable[[str], None]) -> None:
    add("## 3. Waiting out rate limits")
    add("")
    if "error" in rl:
        add(f"Not measured: `{rl['error']}`")
        add("")
        return
    if not rl:
        return
    five = rl["five_minute_seconds"]
    last = rl["triggers"] - 10 * ((rl["triggers"] - 1) // 10)  # events in the last window
    add(
        f"`dag.test()` of {rl['triggers']} `TriggerBusinessEventOperator` triggers against the sandbox (another "
        "process) with MoEngage's published limits, 10 per 5 minutes, 50 per hour and 200 per day, their "
        f"windows shrunk: five minutes last **{fmt(five, 0)} s**, an hour {fmt(12 * five, 0)} s, a day "
        f"{fmt(288 * five, 0)} s (sandbox `five_minute_seconds`, `hour_seconds`, `day_seconds`; the operator's "
        "`rate_limit_window` is the same hour). Three cases of what the sandbox's answers carry: "
        "`x-ratelimit-*` on every answer (its default); `Retry-After` on the 429 only; nothing. Each fired "
        "as the samples fire them, one mapped task per event and one task per event, with `deferrable=True` "
        "and `False`; the six case-and-shape pairs run side by side (a child process each, with its own "
        "sandbox and Airflow home), so `dag.test()` shares the machine's cores with five others. Each run "
        "starts early in a sandbox window. **Time / schedule** is the time from "
        "the first trigger request to the last accepted one, over the limits' own schedule: when the windows "
        "would accept the last one at the earliest, counted from the same first request. It includes what "
        "`dag.test()` adds: it runs one task at a time (one every "
        f"{fmt(rl.get('pace_seconds'), 2)} s here, measured on {counts['rl_warmup_tasks']} warm-up tasks "
        "with the six children running), so a window's ten events follow each other instead of going out "
        "together as they would on a deployment's workers, and it runs a deferred task's `DateTimeTrigger` "
        "inline, which checks the time once a second near the end (a deferred wait can overrun by up to a "
        f"second). With {rl['triggers']} events, ten fill each window and the last window opens with "
        f"{last} event{'s' if last > 1 else ''}, so the last accepted trigger is one that waited: the ratio "
        "measures the waits, not `dag.test()`'s pace through a full last window. **Slot s waiting** is the "
        "time a task slept in its worker slot for the rate limit; **trigger s** the time waited in the "
        "trigger, holding no worker."
    )
    add("")
    add(
        "| case | fired as | deferrable | state | time / schedule, s | ratio | target | lost | duplicated "
        "| 429s | slot s waiting | trigger s | result |"
    )
    add("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rl["runs"]:
        add(
            f"| {CASE_TEXT[r['case']]} | {'mapped tasks' if r['shape'] == 'mapped' else 'one task per event'} "
            f"| {'yes' if r['mode'] == 'deferrable' else 'no'} | {r['state']} "
            f"| {fmt(r['elapsed_seconds'], 1)} / {fmt(r['schedule_seconds'], 1)} | **{fmt(r['ratio'], 3)}** "
            f"| ≤ {RATE_LIMIT_TARGETS[r['case']]:.2f} | {r['lost']} | {r['duplicated']} | {r['refused_429']} "
            f"| {fmt(r['slot_seconds_waiting'], 2)} | {fmt(r['trigger_seconds'], 2)} | {verdict(r.get('pass'))} |"
        )
    add("")
    add(
        "Each refused trigger waits once per window it meets: with a header, until the moment it names "
        "(plus up to 5 % jitter); without one, until the next five-minute boundary (plus up to 5 % of the "
        "window), which is what the schedule assumes when no longer window is full. A 429 costs one request, "
        "never a loop: the 429s above are one per wait. Deferrable runs hold a worker slot only while sending "
        "(longest hold per run in the JSON figures); not deferrable, a wait under a minute sleeps in the slot."
    )
    add("")


def render_runtime_sections(results: dict[str, Any], add: Callable[[str], None]) -> None:
    counts = results["counts"]
    rl = results["sections"].get("ratelimit", {})
    mem = results["sections"].get("memory", {})

    def ok(section: dict[str, Any], key: str) -> bool | None:
        return None if "error" in section or key not in section else bool(section[key])

    render_rate_limits(rl, counts, add)

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
