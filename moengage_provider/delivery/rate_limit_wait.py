"""
Waiting out MoEngage's rate limit in a task: defer to the triggerer, sleep in the worker when the
wait is short, or hand the worker back with a retry at the next window; past
``max_rate_limit_wait`` the task fails. Loaded when a 429 arrives, never at DAG parse.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from moengage_provider.api.rate_limits import LIMITS_TEXT, format_duration, rate_limit_wait
from moengage_provider.exceptions import AirflowFailException, MoEngageRateLimitError, MoEngageRateLimitWait

if TYPE_CHECKING:
    from airflow.sdk import Context

    from moengage_provider.delivery.record import DeliveryRecord
    from moengage_provider.operators.business_event import TriggerBusinessEventOperator

#: A rate-limit wait shorter than this may sleep in the worker when the task is not deferrable.
MAX_IN_WORKER_WAIT = dt.timedelta(seconds=60)


def seconds_to_sleep(
    op: TriggerBusinessEventOperator,
    context: Context,
    err: MoEngageRateLimitError,
    rate_limited_since: str,
    record: DeliveryRecord | None = None,
) -> float:
    """How long to sleep in the worker for a 429; otherwise this defers, or raises to fail or to retry
    when the window reopens (a wait, not a failed delivery)."""
    nothing = "Nothing was delivered."
    if record is not None and record.status == "unknown":  # keep the history: an earlier try may have
        nothing = (
            f"This try delivered nothing, but an earlier try at {record.attempted_at} may have delivered "
            f"business event {record.event_name!r} ({record.reason or 'it ended while in flight'})."
        )

    now = dt.datetime.now(dt.timezone.utc)
    seconds, until, reason = rate_limit_wait(now, retry_after=err.retry_after, window=op.rate_limit_window)
    waited = (now - dt.datetime.fromisoformat(rate_limited_since)).total_seconds()
    if waited + seconds > op.max_rate_limit_wait.total_seconds():
        raise AirflowFailException(
            f"MoEngage rate limit: still refused after waiting {format_duration(waited)}, and the next "
            f"window opens at {until:%Y-%m-%d %H:%M:%S} UTC, past max_rate_limit_wait="
            f"{format_duration(op.max_rate_limit_wait.total_seconds())}. {LIMITS_TEXT}. "
            "Spread triggers out, batch items into fewer events, or raise max_rate_limit_wait. "
            f"{nothing}"
        )
    from moengage_provider.observability import metrics

    metrics.rate_limit_wait(op.event_name, op.hook.settings.data_center, seconds)  # issue 15
    how = (
        "deferring (worker slot released)"
        if op.deferrable
        else "sleeping in the worker"
        if seconds <= MAX_IN_WORKER_WAIT.total_seconds()
        else "handing the worker back with a retry"
    )
    op.log.warning(
        "MoEngage rate limit hit for %r (HTTP 429%s). %s. Waiting %s until %s UTC: %s; "
        "%s. This is a wait, not a failed delivery.",
        op.event_name,
        f", request_id={err.request_id}" if err.request_id else "",
        LIMITS_TEXT,
        format_duration(seconds),
        f"{until:%H:%M:%S}",
        reason,
        how,
    )
    if op.deferrable:
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        op.defer(trigger=DateTimeTrigger(moment=until), method_name="execute_after_rate_limit")
    if seconds <= MAX_IN_WORKER_WAIT.total_seconds():
        return seconds
    ti = context["ti"]
    if ti.try_number > (op.retries or 0):
        raise AirflowFailException(
            f"MoEngage rate limit: the next window opens at {until:%Y-%m-%d %H:%M:%S} UTC, but this "
            "task has no retries left to wait for it without holding a worker. Enable retries "
            f"(retries >= 1) or deferrable=True. {nothing}"
        )
    retry_delay = op.retry_delay.total_seconds() if op.retry_delay else 0.0
    if getattr(op, "retry_policy", None) is None and retry_delay < seconds:
        op.log.warning(
            "This Airflow has no retry policies (added in 3.3): the retry comes after retry_delay=%s, "
            "before the window reopens, and may be refused again (each refusal uses a retry). Set "
            "deferrable=True, or retry_delay of at least %s.",
            format_duration(retry_delay),
            format_duration(seconds),
        )
    raise MoEngageRateLimitWait(
        f"MoEngage rate limit: retry at {until:%Y-%m-%d %H:%M:%S} UTC (in {format_duration(seconds)}). "
        "This is a wait, not a failed delivery.",
        wait_seconds=seconds,
    )
