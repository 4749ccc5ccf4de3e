"""2. Per-trigger overhead: the hook against the sandbox versus a bare ``requests`` POST, and the
operator's own work per call (render, validate, bookkeeping)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import (
    WORKSPACE_ID,
    Counts,
    percentile,
    run_bench_child,
    sandbox_process,
    summary,
)

TEMPLATE_ATTRIBUTES: dict[str, Any] = {
    "sku": "{{ params.sku }}",
    "product_name": "Garden hose, 25 m",
    "category": "{{ params.category }}",
    "units": 12,
    "price": 24.99,
    "restocked_on": "{{ ds }}",
    "tags": ["{{ params.category }}", "restock"],
}
PARAMS = {"event": "BackInStock", "sku": "SKU-001", "category": "garden", "owner": "ops@example.com"}
RENDERED = (
    "BackInStock",
    {
        **TEMPLATE_ATTRIBUTES,
        "sku": "SKU-001",
        "category": "garden",
        "restocked_on": "2024-01-01",
        "tags": ["garden", "restock"],
    },
    "ops@example.com",
)


def count_strings(value: Any, *, literal_only: bool = False) -> int:
    """How many strings (or strings without Jinja markers) Airflow's templater compiles in these values."""
    if isinstance(value, str):
        return int(not literal_only or ("{{" not in value and "{%" not in value))
    if isinstance(value, dict):
        return sum(count_strings(v, literal_only=literal_only) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(count_strings(v, literal_only=literal_only) for v in value)
    return 0


class MemoryTaskStateStore:
    """Stands in for Airflow 3.3's ``task_state_store``: the operator's bookkeeping runs, in memory."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return copy.deepcopy(self.data.get(key))

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.data[key] = json.loads(json.dumps(value))  # what a real store does: serialize it

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


def child_overhead(cfg: dict[str, Any]) -> dict[str, Any]:
    from time import perf_counter

    import requests
    from airflow.sdk import DAG

    from moengage_provider.api.payload import prepare_trigger
    from moengage_provider.hooks.moengage import TRIGGER_ENDPOINT, MoEngageHook
    from moengage_provider.operators.business_event import TriggerBusinessEventOperator

    event, attributes, triggered_by = RENDERED
    body = prepare_trigger(event, attributes, triggered_by).data
    url = cfg["url"] + TRIGGER_ENDPOINT
    auth = (WORKSPACE_ID, cfg["api_key"])
    headers = {"Content-Type": "application/json", "Accept": "application/json"}

    hook = MoEngageHook()
    bare = requests.Session()
    bare.auth = auth
    bare.headers.update(headers)

    def call_hook() -> None:
        hook.trigger_business_event(event, attributes, triggered_by)

    def call_bare() -> None:
        response = bare.post(url, data=body, timeout=30)
        if response.status_code != 200:
            raise RuntimeError(f"bare post: HTTP {response.status_code}")

    for _ in range(cfg["warmup"]):
        call_hook()
        call_bare()
    hook_s: list[float] = []
    bare_s: list[float] = []
    started = perf_counter()
    for i in range(cfg["calls"]):
        pair = [(call_hook, hook_s), (call_bare, bare_s)]
        if i % 2:
            pair.reverse()
        for fn, sink in pair:
            t0 = perf_counter()
            fn()
            sink.append(perf_counter() - t0)
    loop_seconds = perf_counter() - started

    # Cold: a new hook (connection lookup, secret masking, HttpHook session, TCP connect) per call,
    # as each task process does once, versus a new requests session per call.
    cold_hook: list[float] = []
    cold_bare: list[float] = []

    def new_hook() -> None:
        h = MoEngageHook()
        try:
            h.trigger_business_event(event, attributes, triggered_by)
        finally:
            if "session" in h.__dict__:
                h.session.close()

    def new_session() -> None:
        with requests.Session() as s:
            response = s.post(url, data=body, auth=auth, headers=headers, timeout=30)
            if response.status_code != 200:
                raise RuntimeError(f"bare post: HTTP {response.status_code}")

    for i in range(cfg["cold_calls"]):
        cold = [(new_hook, cold_hook), (new_session, cold_bare)]
        if i % 2:
            cold.reverse()
        for fn, sink in cold:
            t0 = perf_counter()
            fn()
            sink.append(perf_counter() - t0)

    # The operator's own work: rendering, render + validate, execute() (with an in-memory task state
    # store, so the delivery bookkeeping runs) with and without its hook call, the hook call alone, the
    # hook's log line alone, and Airflow rendering the same values on a plain BaseOperator, interleaved.
    from airflow.sdk import BaseOperator
    from airflow.sdk.bases.operator import ExecutorSafeguard

    class SameFieldsOperator(BaseOperator):
        """A plain operator with the same template fields and values: Airflow's rendering cost alone."""

        template_fields = ("event_name", "event_attributes", "triggered_by")

        def __init__(
            self, *, event_name: str, event_attributes: Any, triggered_by: str, **kwargs: Any
        ) -> None:
            super().__init__(**kwargs)
            self.event_name = event_name
            self.event_attributes = event_attributes
            self.triggered_by = triggered_by

    with DAG("bench_overhead", schedule=None, start_date=dt.datetime(2024, 1, 1), catchup=False):
        op = TriggerBusinessEventOperator(
            task_id="announce",
            event_name="{{ params.event }}",
            event_attributes=copy.deepcopy(TEMPLATE_ATTRIBUTES),
            triggered_by="{{ params.owner }}",
            deferrable=False,
        )
        same_fields = SameFieldsOperator(
            task_id="same_fields",
            event_name="{{ params.event }}",
            event_attributes=copy.deepcopy(TEMPLATE_ATTRIBUTES),
            triggered_by="{{ params.owner }}",
        )
    base_context = {"ds": "2024-01-01", "params": dict(PARAMS)}
    # What the task runner passes, so that execute() runs as in a task (no "outside the Task Runner" warning).
    runner_kwargs = {f"{type(op).__name__}__sentinel": ExecutorSafeguard.sentinel_value}

    def reset() -> None:
        for target in (op, same_fields):
            target.event_name = "{{ params.event }}"
            target.event_attributes = copy.deepcopy(TEMPLATE_ATTRIBUTES)
            target.triggered_by = "{{ params.owner }}"

    reset()
    op.render_template_fields(dict(base_context))
    if op.prepare_payload().body != prepare_trigger(event, attributes, triggered_by).body:
        raise RuntimeError("the rendered operator payload differs from the hook-only payload")
    render_s: list[float] = []
    render_validate_s: list[float] = []
    execute_s: list[float] = []
    execute_own_s: list[float] = []
    op_hook_s: list[float] = []
    log_s: list[float] = []
    airflow_render_s: list[float] = []
    host = hook.settings.host
    names = ", ".join(attributes)
    for _ in range(min(cfg["warmup"], 20)):
        reset()
        op.render_template_fields(dict(base_context))
        op.execute({**base_context, "task_state_store": MemoryTaskStateStore()}, **runner_kwargs)

    # The hook call inside execute() is timed too, so that execute() minus its own hook call is a
    # paired difference within one call, not a difference of two noisy medians.
    inner_hook_s: list[float] = []
    operator_hook = op.hook
    trigger = operator_hook.send_prepared_trigger  # what execute() calls (validated and encoded once)

    def timed_trigger(*args: Any, **kwargs: Any) -> Any:
        t0 = perf_counter()
        try:
            return trigger(*args, **kwargs)
        finally:
            inner_hook_s.append(perf_counter() - t0)

    operator_hook.send_prepared_trigger = timed_trigger  # type: ignore[method-assign]

    def render_only(context: dict[str, Any]) -> float:
        t0 = perf_counter()
        op.render_template_fields(context)
        return perf_counter() - t0

    def render_validate(context: dict[str, Any]) -> float:
        t0 = perf_counter()
        op.render_template_fields(context)
        op.prepare_payload()
        return perf_counter() - t0

    def execute(context: dict[str, Any]) -> float:
        op.render_template_fields(context)  # not timed: rendered by the task runner before execute()
        t0 = perf_counter()
        op.execute(context, **runner_kwargs)
        seconds = perf_counter() - t0
        execute_own_s.append(seconds - inner_hook_s[-1])
        return seconds

    def airflow_render(context: dict[str, Any]) -> float:
        t0 = perf_counter()
        same_fields.render_template_fields(context)
        return perf_counter() - t0

    def hook_alone(context: dict[str, Any]) -> float:
        t0 = perf_counter()
        call_hook()
        return perf_counter() - t0

    def log_line(context: dict[str, Any]) -> float:
        t0 = perf_counter()
        hook.log.info(
            "MoEngage business event %r triggered on %s (attributes: %s) in %.0f ms", event, host, names, 1.0
        )
        return perf_counter() - t0

    steps: list[tuple[Callable[[dict[str, Any]], float], list[float]]] = [
        (render_only, render_s),
        (render_validate, render_validate_s),
        (execute, execute_s),
        (hook_alone, op_hook_s),
        (log_line, log_s),
        (airflow_render, airflow_render_s),
    ]
    for i in range(cfg["op_calls"]):
        shift = i % len(steps)
        for fn, sink in steps[shift:] + steps[:shift]:
            reset()
            sink.append(fn({**base_context, "task_state_store": MemoryTaskStateStore()}))

    # Untimed, last: the validation and encoding passes one trigger makes, by the hook and by execute().
    from benchmarks.passes import passes_per_call

    def one_execute() -> None:
        reset()
        op.render_template_fields(dict(base_context))
        op.execute({**base_context, "task_state_store": MemoryTaskStateStore()}, **runner_kwargs)

    passes = {"hook": passes_per_call(call_hook), "execute": passes_per_call(one_execute)}

    return {
        "passes": passes,
        "calls": cfg["calls"],
        "loop_seconds": loop_seconds,
        "hook_ms": summary(hook_s, 1000),
        "bare_ms": summary(bare_s, 1000),
        "hook_p90_ms": percentile(hook_s, 90) * 1000,
        "bare_p90_ms": percentile(bare_s, 90) * 1000,
        "cold_hook_ms": summary(cold_hook, 1000),
        "cold_bare_ms": summary(cold_bare, 1000),
        "op_calls": cfg["op_calls"],
        "render_ms": summary(render_s, 1000),
        "render_validate_ms": summary(render_validate_s, 1000),
        "execute_ms": summary(execute_s, 1000),
        "execute_own_ms": summary(execute_own_s, 1000),
        "op_hook_ms": summary(op_hook_s, 1000),
        "log_line_ms": summary(log_s, 1000),
        "airflow_render_ms": summary(airflow_render_s, 1000),
        "template_strings": count_strings(["{{ params.event }}", TEMPLATE_ATTRIBUTES, "{{ params.owner }}"]),
        "literal_strings": count_strings(
            ["{{ params.event }}", TEMPLATE_ATTRIBUTES, "{{ params.owner }}"], literal_only=True
        ),
        "body_bytes": len(body),
    }


def bench_overhead(
    counts: Counts, work: Path, env: dict[str, str], progress: Callable[[str], None]
) -> dict[str, Any]:
    with sandbox_process(env, work / "sandbox.log", hourly_limit=10**9, daily_limit=10**9) as sandbox:
        progress(
            f"{counts.calls} hook calls and {counts.calls} bare calls, interleaved; {counts.op_calls} operator rounds"
        )
        result = run_bench_child(
            "overhead",
            {
                "url": sandbox.url,
                "api_key": sandbox.api_key,
                "calls": counts.calls,
                "warmup": counts.warmup_calls,
                "op_calls": counts.op_calls,
                "cold_calls": counts.cold_calls,
            },
            work,
            {**env, "AIRFLOW_CONN_MOENGAGE_DEFAULT": sandbox.airflow_conn_json()},
        )
        triggers = sandbox.control("/_sandbox/triggers")
    result["sandbox_triggers"] = len(triggers)
    result["call_ratio"] = result["hook_ms"]["median"] / result["bare_ms"]["median"]
    result["call_ratio_mean"] = result["hook_ms"]["mean"] / result["bare_ms"]["mean"]
    # The operator's own work per call: rendering its fields, execute() without the HTTP call (payload,
    # validation, fingerprint, delivery record), and the hook's log line.
    result["operator_ms"] = (
        result["render_ms"]["median"] + result["execute_own_ms"]["median"] + result["log_line_ms"]["median"]
    )
    result["operator_code_ms"] = result["execute_own_ms"]["median"] + result["log_line_ms"]["median"]
    # One validation and one encoding per trigger, through the hook and through the operator (the
    # payload is checked and encoded once, and the same bytes are sent).
    result["one_pass_each"] = all(
        counts == {"validations": 1, "encodings": 1} for counts in result["passes"].values()
    )
    result["call_pass"] = result["one_pass_each"]  # the ratio is reported, with no target
    return result
