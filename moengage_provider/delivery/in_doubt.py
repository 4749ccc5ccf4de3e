"""
What a try does when an earlier try may have delivered the event (``if_outcome_unknown``: resend,
skip, fail or check MoEngage's counters), and what a failing try says about it in its error.

The operator's delivery loop calls these; loaded when a task runs, never at DAG parse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from moengage_provider.api.outcomes import Outcome
from moengage_provider.delivery.record import Action, DeliveryRecord, Plan, RecordStore, settle_doubt
from moengage_provider.exceptions import AirflowFailException, MoEngageError, MoEngageOutcomeUnknownError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from moengage_provider.operators.business_event import TriggerBusinessEventOperator


def follow_unknown_policy(
    op: TriggerBusinessEventOperator,
    plan: Plan,
    previous: DeliveryRecord,
    check: Any,
    store: RecordStore,
    fingerprint: str,
    event_name: str,
    once: Any,
) -> dict[str, Any] | None:
    """An earlier try of this payload may have delivered it: the task's result when this try must not
    send (skip, or settled by the counters), None to send; ``"fail"`` raises."""
    why = previous.reason or "the try ended while the request was in flight"
    if plan.action is Action.CHECK and check is not None:
        settled = settle_by_counters(op, check, store, previous, fingerprint, event_name, once)
        if settled is not None:
            return settled
    elif plan.action is Action.FAIL:
        raise MoEngageOutcomeUnknownError(
            f"A previous try at {previous.attempted_at} may have delivered MoEngage business event "
            f"{event_name!r} ({why}). if_outcome_unknown='fail': check MoEngage's campaign "
            "analytics, then clear this task with if_outcome_unknown='resend' or 'skip'."
        )
    elif plan.action is Action.SKIP:
        op.log.warning(
            "A previous try at %s may have delivered %r (%s). if_outcome_unknown='skip': not "
            "sending again (at most once).",
            previous.attempted_at,
            event_name,
            why,
        )
        result = {
            "event_name": event_name,
            "message": None,
            "sent_at": previous.attempted_at,
            "outcome": "unknown, not resent (if_outcome_unknown='skip')",
        }
        store.save(settle_doubt(previous, result))
        if once is not None:
            once.record()
        return result
    else:
        op.log.warning(
            "A previous try at %s may have delivered %r (%s). if_outcome_unknown='resend': sending "
            "again (at least once; set if_outcome_unknown='skip' for at most once).",
            previous.attempted_at,
            event_name,
            why,
        )
    return None


def settle_by_counters(
    op: TriggerBusinessEventOperator,
    check: Any,
    store: RecordStore,
    previous: DeliveryRecord,
    fingerprint: str,
    event_name: str,
    once: Any,
) -> dict[str, Any] | None:
    """if_outcome_unknown='check': the task's result when the doubt is settled without sending, None
    to send; an inconclusive check follows if_check_inconclusive."""
    from moengage_provider.delivery.counters import settle_seconds

    why = previous.reason or "the try ended while the request was in flight"
    op.log.warning(
        "A previous send at %s may have delivered %r (%s); checking MoEngage's counters.",
        previous.attempted_at,
        event_name,
        why,
    )
    check_result = check.resolve(fingerprint, settle_seconds(op.check_settle_delay.total_seconds()))
    if check_result.verdict == "not_delivered":
        return None
    if check_result.verdict == "delivered":
        outcome = f"delivered (MoEngage's counters: {check_result.case})"
    elif op.if_check_inconclusive == "fail":
        raise MoEngageOutcomeUnknownError(
            f"MoEngage business event {event_name!r} may have been delivered at {previous.attempted_at} "
            f"({why}), and MoEngage's counters cannot tell ({check_result.explain()}). "
            "if_check_inconclusive='fail': check MoEngage's campaign analytics, then clear this task "
            "with if_outcome_unknown='resend' or 'skip'."
        )
    elif op.if_check_inconclusive == "resend":
        op.log.warning("The check was inconclusive; if_check_inconclusive='resend': sending again.")
        return None
    else:
        outcome = "unknown, not resent (if_check_inconclusive='skip')"
    result = {
        "event_name": event_name,
        "message": None,
        "sent_at": previous.attempted_at,
        "outcome": outcome,
    }
    store.save(settle_doubt(previous, result))
    if once is not None:
        once.record()
    return result


def explain(
    op: TriggerBusinessEventOperator, err: MoEngageError, context: Context, record: DeliveryRecord | None
) -> None:
    """Say on this try what became of the event, and what the next try will do about it."""
    event = repr(record.event_name) if record is not None else "the event"
    if err.outcome is Outcome.UNKNOWN:
        ti = context.get("ti")
        last = ti is not None and getattr(ti, "try_number", 0) > (op.retries or 0)
        policy = op.delivery_settings.unknown_policy
        if last or isinstance(err, AirflowFailException):
            err.add_context(
                f"MoEngage may or may not have accepted business event {event}; this task will not "
                "retry by itself: check MoEngage's campaign analytics before clearing it (a cleared "
                f"task {policy.next_try})."
            )
        else:
            err.add_context(
                f"MoEngage may or may not have accepted business event {event}. The next try "
                f"{policy.next_try}."
            )
    elif record is not None and record.in_doubt:
        err.add_context(
            f"This request was not delivered, but an earlier try at {record.attempted_at} may have "
            f"delivered business event {event} ({record.reason or 'it ended while in flight'})."
        )
