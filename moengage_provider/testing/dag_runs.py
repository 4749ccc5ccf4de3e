"""Fail loudly: run a DAG under a sandbox and, when it fails, say which task failed, with its own
error, and what the sandbox refused (status, message, details), instead of a later assertion on an
empty list. Quick to fail: retry delays are capped for the run.

Airflow is imported only when a DAG is run, so the plugin and the sandbox stay cheap to import.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from moengage_provider.testing.sandbox.records import RejectedRecord, TriggerRecord


class MoEngageSandbox(Protocol):
    """What a DAG run reads of a sandbox: its records. (A protocol, not the class, because
    ``MoEngageSandbox.run_dag`` calls into this module: importing the class here would make a cycle.)"""

    @property
    def triggers(self) -> list[TriggerRecord]: ...

    @property
    def rejected(self) -> list[RejectedRecord]: ...


_FAILED_STATES = ("failed", "upstream_failed")
#: ``run_dag``'s default cap on retry delays: a retry runs at once (Airflow's backoff, if set, still
#: waits a second or two).
NO_RETRY_DELAY = datetime.timedelta(0)
#: A failed task whose error no listener saw here (it ran in another process: ``use_executor=True``).
_NO_ERROR = "no error reached this process (see the task log in the captured output)"


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


def run_dag(
    sb: MoEngageSandbox,
    dag: Any,
    *,
    retry_delay_cap: datetime.timedelta | None = NO_RETRY_DELAY,
    **test_kwargs: Any,
) -> Any:
    """``dag.test(**test_kwargs)``; the DAG run, or ``DagRunFailed`` when it did not succeed.

    Each task's ``retry_delay`` is capped at ``retry_delay_cap`` for the run (restored afterwards):
    ``dag.test()`` waits out retry delays in real time, and a DAG's "retry in 5 minutes" would hold a
    failing test for ten. ``None`` keeps the DAG's own delays. A delay a retry policy chooses (the
    operator's "retry when the rate-limit window opens", Airflow 3.3+) is kept either way.
    """
    from moengage_provider.testing.task_errors import recording_task_errors

    with _retry_delays_capped(dag, retry_delay_cap), recording_task_errors() as recorder:
        dag_run = dag.test(**test_kwargs)
    state = str(getattr(dag_run, "state", "") or "")
    if state.endswith("success"):
        return dag_run
    failed = _failed_tasks(dag_run)
    tasks = ", ".join(f"{key} ({ti_state}, try {tries})" for key, ti_state, tries in failed)
    reasons = [
        f"  {key}: {recorder.errors.get(key, _NO_ERROR)}"
        for key, ti_state, _ in failed
        if ti_state == "failed"
    ]
    raise DagRunFailed(
        f"DAG run {dag.dag_id!r} ended {state.split('.')[-1] or 'without a state'}; "
        f"failed tasks: {tasks or 'no task marked failed'}.\n"
        + "".join(f"{line}\n" for line in reasons)
        + f"{describe_rejections(sb)}\n{_accepted(sb)}"
    )


def _failed_tasks(dag_run: Any) -> list[tuple[str, str, int]]:
    """(task_id or task_id[i], state, try number) of each failed or upstream-failed task instance."""
    from airflow.utils.session import create_session

    from moengage_provider.testing.task_errors import task_key

    failed = []
    with create_session() as session:
        for ti in dag_run.get_task_instances(session=session):
            ti_state = str(ti.state or "").split(".")[-1]
            if ti_state in _FAILED_STATES:
                failed.append((task_key(ti.task_id, ti.map_index), ti_state, ti.try_number))
    return failed


@contextmanager
def _retry_delays_capped(dag: Any, cap: datetime.timedelta | None) -> Iterator[None]:
    """Each task's ``retry_delay`` at most ``cap`` while the block runs; the DAG's own afterwards."""
    saved = {}
    if cap is not None:
        for task in dag.task_dict.values():
            if task.retry_delay > cap:
                saved[task] = task.retry_delay
                task.retry_delay = cap
    try:
        yield
    finally:
        for task, delay in saved.items():
            task.retry_delay = delay


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
