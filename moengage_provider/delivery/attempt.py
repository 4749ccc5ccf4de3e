"""
One try of ``TriggerBusinessEventOperator``, top to bottom: load the delivery record, decide, gate by
idempotency key, send, classify, wait out a rate limit, settle an unknown outcome, report. It gets
typed values, never the operator. What an answer means is the hook's (by ``api/outcomes.py``; what
differs per API version, ``api/versions.py``), what the next try does ``record.py``'s, how a rate limit
is waited out ``rate_limit_wait.py``'s (how long: ``api/rate_limits.py``): this module does what they
decide, in order, and says so in the log and in the try's
:class:`~moengage_provider.observability.report.TryReport`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from moengage_provider.api.declared import check_declared
from moengage_provider.delivery.counters import OutcomeCheck, settle_seconds
from moengage_provider.delivery.idempotency import DeliveryHistory, IdempotencyGate, skip_exception
from moengage_provider.delivery.rate_limit_wait import Defer, RateLimitWaiter
from moengage_provider.delivery.record import (
    Action,
    DeliveryRecord,
    DeliverySettings,
    Plan,
    TaskInstanceRef,
    after_attempt,
    after_rate_limit,
    before_send,
    payload_fingerprint,
    plan_try,
    policy_name,
    settle_doubt,
    utc_now_iso,
)
from moengage_provider.delivery.stores import DeliveryStore, state_store_for, warn_if_reruns_can_resend
from moengage_provider.exceptions import (
    AirflowFailException,
    MoEngageError,
    MoEngageOutcomeUnknownError,
    MoEngageRateLimitError,
    Outcome,
    invalid_event_fails_the_task,
)
from moengage_provider.observability import metrics
from moengage_provider.observability.report import TryReport

if TYPE_CHECKING:
    from moengage_provider.api.payload import PreparedTrigger
    from moengage_provider.hooks.connection import MoEngageConnectionSettings
    from moengage_provider.hooks.moengage import MoEngageHook


class Attempt:
    """One try: :meth:`run` returns the task's result or raises; :attr:`report` says how it ended."""

    def __init__(
        self,
        prepared: PreparedTrigger,
        settings: DeliverySettings,
        task: TaskInstanceRef,
        hook: MoEngageHook,
        store: DeliveryStore,
        history: DeliveryHistory,
        log: Any,
        defer: Defer,
    ) -> None:
        self.prepared: PreparedTrigger = prepared
        self.settings: DeliverySettings = settings
        self.task: TaskInstanceRef = task
        self.hook: MoEngageHook = hook
        self.store: DeliveryStore = store
        self.history: DeliveryHistory = history
        self.log: Any = log
        self.event_name: str = prepared.event_name
        self._rate_limit = RateLimitWaiter(settings, task, log, defer, prepared.event_name)
        self.fingerprint: str = (
            ""  # of the payload, for this workspace and endpoint, once the connection is read
        )
        self.request_id: str | None = None  # API V5's X-MOE-Request-Id: the same on every try of a delivery
        #: How the try ended, once it has (None: it ended before reaching the connection).
        self.report: TryReport | None = None
        self._connection: MoEngageConnectionSettings | None = None
        self._plan: Plan | None = None
        self._sent: list[Outcome] = []  # the outcome of each request this try sent
        self._deduplicated: Any = None  # "rerun" or "idempotency_key": sent nothing, delivered before
        self._settled_as_unknown = False  # took an earlier unknown outcome as it was, without sending
        self._gate: IdempotencyGate | None = None
        self._check: OutcomeCheck | None = None

    @classmethod
    def in_task(
        cls,
        context: Mapping[str, Any],
        *,
        prepared: PreparedTrigger,
        settings: DeliverySettings,
        hook: MoEngageHook,
        log: Any,
        defer: Defer,
    ) -> Attempt:
        """The running task instance's try: its store and event history from Airflow's context (only here)."""
        history = DeliveryHistory(None)
        if settings.idempotency_key is not None:
            history = DeliveryHistory.of_event(context, prepared.event_name)
        store = DeliveryStore(state_store_for(context, log))
        task = TaskInstanceRef.of(context.get("ti"))
        return cls(prepared, settings, task, hook, store, history, log, defer)

    # -- the try ---------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        if self.settings.check_declared_attributes:
            self._check_declared()  # refused before the try begins: nothing to report
        try:
            result = self._run()
        except Exception as err:  # a deferral (TaskDeferred) is not the end of a try and passes through
            self._finish(err)
            raise
        self._finish(None, result)
        return result

    def _run(self) -> dict[str, Any]:
        warn_if_reruns_can_resend(self.store, self.log)
        self._connection = settings = self.hook.settings  # a missing or unusable connection fails here
        self.fingerprint = payload_fingerprint(
            self.prepared.data, workspace_id=settings.workspace_id, base_url=settings.base_url
        )
        self.request_id = self.task.request_id(self.fingerprint) if settings.api.sends_request_id else None
        plan = self._plan = plan_try(self.store.load(), self.fingerprint, self.settings)
        previous = plan.previous
        if plan.action is Action.ALREADY_DELIVERED and previous is not None:
            self.log.info(
                "Skipping: MoEngage business event %r with this exact payload was already delivered by "
                "this task instance at %s. Nothing was sent. To send it again anyway, set "
                "deduplicate=False on the task.",
                self.event_name,
                previous.delivered_at,
            )
            self._deduplicated = "rerun"
            return previous.result or {}
        self._gate_by_idempotency_key()
        if self.settings.if_outcome_unknown == "check":
            self._check = OutcomeCheck(self.store, self.hook, self.event_name, self.log)
        if plan.payload_changed_since_delivery and previous is not None:
            self.log.info(
                "The payload changed since this task instance delivered %r at %s; sending the new one.",
                previous.event_name,
                previous.delivered_at,
            )
        if plan.same and previous is not None and previous.in_doubt:
            settled = self._follow_unknown_policy(previous)
            if settled is not None:
                return settled
        return self._send(plan)

    def _send(self, plan: Plan) -> dict[str, Any]:
        """Send until an answer ends the try; a 429 waits, an unknown outcome may be checked once."""
        checked_in_this_try = False
        while True:
            attempt = before_send(plan, self.fingerprint, self.event_name, utc_now_iso())
            self.store.save(attempt)
            if self._check is not None:
                self._check.before_send(self.fingerprint)
            try:
                with metrics.trigger_request(self.event_name, self._data_center, self.hook):
                    answer = self.hook.send_prepared_trigger(self.prepared, request_id=self.request_id)
            except MoEngageRateLimitError as err:
                self._sent.append(err.outcome)
                # To the microsecond: the total wait is counted from here, and windows may last seconds.
                refused = after_rate_limit(plan, attempt, now=dt.datetime.now(dt.timezone.utc).isoformat())
                wait, waiting = self._rate_limit.plan(err, refused)
                self.store.save(waiting)
                plan = Plan(Action.SEND, waiting, same=True)
                self._rate_limit.wait(err, wait, waiting, self._data_center)
                continue
            except MoEngageError as err:
                self._sent.append(err.outcome)
                record = after_attempt(plan, attempt, err.outcome, now=utc_now_iso(), reason=str(err))
                self.store.save(record)
                # "check": settle the doubt in this try, once; a second doubt is the next try's.
                if self._check and record and err.outcome is Outcome.UNKNOWN and not checked_in_this_try:
                    checked_in_this_try = True
                    settled = self._settle_by_counters(record)
                    if settled is not None:
                        return settled
                    plan = Plan(Action.SEND, record, same=True)
                    continue
                self._explain(err, record)
                raise
            self._sent.append(Outcome.DELIVERED)
            now = utc_now_iso()
            result = self.hook.api.trigger_result(self.event_name, answer, now)
            self.store.save(after_attempt(plan, attempt, Outcome.DELIVERED, now=now, result=result))
            if self._gate is not None:
                self._gate.record()
            return result

    # -- before sending --------------------------------------------------------------------------

    def _check_declared(self) -> None:
        """``check_declared_attributes``: the event as declared in MoEngage must take these attributes."""
        declared = self.hook.find_business_event(self.event_name)
        with invalid_event_fails_the_task():
            check_declared(self.event_name, self.prepared.body["event_attributes"], declared)

    def _gate_by_idempotency_key(self) -> None:
        """The same announcement by any earlier task instance under this key: skip (or fail)."""
        if self.settings.idempotency_key is None:
            return
        key = self.settings.idempotency_key
        self._gate = IdempotencyGate(
            self.history, key, self.event_name, self.fingerprint, self.task, self.log
        )
        try:
            self._gate.check()
        except skip_exception():
            self._deduplicated = "idempotency_key"
            raise

    # -- an earlier try may have delivered -------------------------------------------------------

    def _follow_unknown_policy(self, previous: DeliveryRecord) -> dict[str, Any] | None:
        """The result when this try must not send (skipped, or settled by counters); None: send."""
        action = self._plan.action if self._plan is not None else Action.SEND
        why = previous.reason or "the try ended while the request was in flight"
        if action is Action.CHECK and self._check is not None:
            return self._settle_by_counters(previous)
        if action is Action.FAIL:
            raise MoEngageOutcomeUnknownError(
                f"A previous try at {previous.attempted_at} may have delivered MoEngage business event "
                f"{self.event_name!r} ({why}). if_outcome_unknown='fail': check MoEngage's campaign "
                "analytics, then clear this task with if_outcome_unknown='resend' or 'skip'."
            )
        if action is Action.SKIP:
            self.log.warning(
                "A previous try at %s may have delivered %r (%s). if_outcome_unknown='skip': not "
                "sending again (at most once).",
                previous.attempted_at,
                self.event_name,
                why,
            )
            return self._settle(previous, "unknown, not resent (if_outcome_unknown='skip')", known=False)
        self.log.warning(
            "A previous try at %s may have delivered %r (%s). if_outcome_unknown='resend': sending "
            "again (at least once; set if_outcome_unknown='skip' for at most once).",
            previous.attempted_at,
            self.event_name,
            why,
        )
        return None

    def _settle_by_counters(self, previous: DeliveryRecord) -> dict[str, Any] | None:
        """``"check"``: the result when MoEngage's counters settle the doubt; None: send (or inconclusive)."""
        assert self._check is not None
        why = previous.reason or "the try ended while the request was in flight"
        self.log.warning(
            "A previous send at %s may have delivered %r (%s); checking MoEngage's counters.",
            previous.attempted_at,
            self.event_name,
            why,
        )
        check = self._check.resolve(self.fingerprint, settle_seconds(self.settings.check_settle_seconds))
        if check.verdict == "not_delivered":
            return None
        if check.verdict == "delivered":
            return self._settle(previous, f"delivered (MoEngage's counters: {check.case})", known=True)
        if self.settings.if_check_inconclusive == "fail":
            raise MoEngageOutcomeUnknownError(
                f"MoEngage business event {self.event_name!r} may have been delivered at "
                f"{previous.attempted_at} ({why}), and MoEngage's counters cannot tell ({check.explain()}). "
                "if_check_inconclusive='fail': check MoEngage's campaign analytics, then clear this task "
                "with if_outcome_unknown='resend' or 'skip'."
            )
        if self.settings.if_check_inconclusive == "resend":
            self.log.warning("The check was inconclusive; if_check_inconclusive='resend': sending again.")
            return None
        return self._settle(previous, "unknown, not resent (if_check_inconclusive='skip')", known=False)

    def _settle(self, previous: DeliveryRecord, outcome: str, *, known: bool) -> dict[str, Any]:
        """Take the doubtful send as delivered: ``known`` by MoEngage's counters, or skipped (at most once)."""
        self._settled_as_unknown = not known
        result = {"event_name": self.event_name, "message": None, "sent_at": previous.attempted_at}
        result["outcome"] = outcome
        self.store.save(settle_doubt(previous, result))
        if self._gate is not None:
            self._gate.record()
        return result

    def _explain(self, err: MoEngageError, record: DeliveryRecord | None) -> None:
        """Say on this try what became of the event, and what the next try will do about it."""
        event = repr(record.event_name) if record is not None else "the event"
        if err.outcome is Outcome.UNKNOWN:
            next_try = self.settings.unknown_policy.next_try
            if self.task.try_number > self.settings.retries or isinstance(err, AirflowFailException):
                err.add_context(
                    f"MoEngage may or may not have accepted business event {event}; this task will not "
                    "retry by itself: check MoEngage's campaign analytics before clearing it (a cleared "
                    f"task {next_try})."
                )
            else:
                err.add_context(
                    f"MoEngage may or may not have accepted business event {event}. The next try {next_try}."
                )
        elif record is not None and record.in_doubt:
            err.add_context(
                f"This request was not delivered, but an earlier try at {record.attempted_at} may have "
                f"delivered business event {event} ({record.reason or 'it ended while in flight'})."
            )

    # -- the report ------------------------------------------------------------------------------

    @property
    def _data_center(self) -> str | None:
        return self._connection.data_center if self._connection is not None else None

    def _finish(self, error: BaseException | None, result: Mapping[str, Any] | None = None) -> None:
        """The one place where the try's end is known: its report (lineage reads it) and its metrics.
        Never changes how the try ends."""
        if (connection := self._connection) is None:  # it ended before reading the connection: sent nothing
            return
        plan = self._plan
        doubt = bool(plan and plan.same and plan.previous and plan.previous.in_doubt)
        try:
            self.report = TryReport.of_try(
                body=self.prepared.body,
                connection=connection,
                error=error,
                last_request=self._sent[-1] if self._sent else None,
                deduplicated=self._deduplicated,
                settled_as_unknown=self._settled_as_unknown,
                resolution=policy_name(plan.action) if plan is not None and doubt else None,
                result=result,
            )
            metrics.try_finished(self.report)
        except Exception:
            self.log.debug("Could not record metrics/lineage for this try", exc_info=True)
