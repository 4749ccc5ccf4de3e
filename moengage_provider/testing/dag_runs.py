"""Fail loudly: run a DAG under a sandbox and, when it fails, say which task failed and what the
sandbox refused (status, message, details), instead of a later assertion on an empty list.

Airflow is imported only when a DAG is run, so the plugin and the sandbox stay cheap to import.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moengage_provider.testing.sandbox import MoEngageSandbox, TriggerRecord

_FAILED_STATES = ("failed", "upstream_failed")


class DagRunFailed(AssertionError):
    """A DAG run under the sandbox did not succeed; the message names the failed tasks and rejections."""


class NotDelivered(AssertionError):
    """The expected business event did not reach the sandbox; the message lists what was rejected."""


def describe_rejections(sb: MoEngageSandbox, limit: int = 10) -> str:
    rejected = sb.rejected
    if not rejected:
        return "The MoEngage sandbox rejected no request."
    lines = [f"The MoEngage sandbox rejected {len(rejected)} request(s):"]
    for record in rejected[-limit:]:
        status = record["status"] if record["status"] is not None else "no answer"
        event = f" event={record['event_name']!r}" if record["event_name"] else ""
        lines.append(f"  {record['path']} -> {status} {record['code']}: {record['message']}{event}")
        if record["details"]:
            lines.append(f"    details: {json.dumps(record['details'], ensure_ascii=False)[:800]}")
    if len(rejected) > limit:
        lines.insert(1, f"  (the last {limit} shown)")
    return "\n".join(lines)


def _accepted(sb: MoEngageSandbox) -> str:
    triggers = sb.triggers
    names = ", ".join(sorted({t["event_name"] for t in triggers})) or "none"
    return f"Accepted triggers: {len(triggers)} (events: {names})."


def run_dag(sb: MoEngageSandbox, dag: Any, **test_kwargs: Any) -> Any:
    """``dag.test(**test_kwargs)``; the DAG run, or ``DagRunFailed`` when it did not succeed."""
    dag_run = dag.test(**test_kwargs)
    state = str(getattr(dag_run, "state", "") or "")
    if state.endswith("success"):
        return dag_run
    from airflow.utils.session import create_session

    failed = []
    with create_session() as session:
        for ti in dag_run.get_task_instances(session=session):
            ti_state = str(ti.state or "").split(".")[-1]
            if ti_state in _FAILED_STATES:
                where = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
                failed.append(f"{where} ({ti_state}, try {ti.try_number})")
    tasks = ", ".join(failed) or "no task marked failed"
    raise DagRunFailed(
        f"DAG run {dag.dag_id!r} ended {state.split('.')[-1] or 'without a state'}; failed tasks: {tasks}.\n"
        f"{describe_rejections(sb)}\n{_accepted(sb)}"
    )


def assert_delivered(
    sb: MoEngageSandbox, event_name: str | None = None, *, count: int | None = None, **attributes: Any
) -> list[TriggerRecord]:
    """The accepted triggers matching ``event_name`` and ``attributes`` (a subset of their
    ``event_attributes``); ``NotDelivered`` when none match, or not exactly ``count``."""
    matches = [
        t
        for t in sb.triggers
        if (event_name is None or t["event_name"] == event_name)
        and all(t["event_attributes"].get(k, object()) == v for k, v in attributes.items())
    ]
    if (count is None and matches) or (count is not None and len(matches) == count):
        return matches
    wanted = event_name or "any event"
    if attributes:
        wanted += f" with {attributes}"
    expected = f"exactly {count}" if count is not None else "at least one"
    raise NotDelivered(
        f"expected {expected} accepted trigger of {wanted}, found {len(matches)}.\n"
        f"{describe_rejections(sb)}\n{_accepted(sb)}"
    )
