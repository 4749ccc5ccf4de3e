"""
TriggerBusinessEventOperator: fire a MoEngage business event from a DAG, once.

The operator knows Airflow (templates, context, task state, deferral); the hook knows HTTP.
Kept cheap to import (DAG files import it on every parse): the hook, ``requests`` and the HTTP
provider load only when the task runs.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from airflow.providers.common.compat.sdk import BaseOperator, conf

from moengage_provider.delivery import (
    Action,
    DeliveryRecord,
    DeliverySettings,
    DeliveryStore,
    Plan,
    RecordStore,
    TryResult,
    after_attempt,
    before_send,
    payload_fingerprint,
    plan_try,
    settle_doubt,
    utc_now_iso,
)
from moengage_provider.delivery_stores import state_store_for
from moengage_provider.exceptions import (
    AirflowFailException,
    MoEngageError,
    MoEngageOutcomeUnknownError,
    MoEngageRateLimitError,
    MoEngageRateLimitWait,
    MoEngageValidationError,
)
from moengage_provider.links import MoEngageDashboardLink
from moengage_provider.outcomes import Outcome
from moengage_provider.payload import (
    InvalidBusinessEventError,
    PreparedTrigger,
    attributes_from_rendered,
    check_against_declared,
    normalize_event_attributes,
    prepare_trigger,
    validate_attribute_types,
    validate_event_name,
    validate_triggered_by,
)
from moengage_provider.templating import PlainStringsStayPlain, has_template_markers

if TYPE_CHECKING:
    from airflow.sdk import Context

    from moengage_provider.hooks.moengage import MoEngageHook

IfOutcomeUnknown = Literal["resend", "skip", "fail", "check"]
IfCheckInconclusive = Literal["fail", "resend", "skip"]

#: A rate-limit wait shorter than this may sleep in the worker when the task is not deferrable.
MAX_IN_WORKER_WAIT = dt.timedelta(seconds=60)

_warned_no_store = False


def _default_retry_policy() -> Any:
    try:
        from moengage_provider.retry_policy import MoEngageRetryPolicy
    except ImportError:  # Airflow < 3.3 has no RetryPolicy: plain retries apply.
        return None
    return MoEngageRetryPolicy()


class TriggerBusinessEventOperator(PlainStringsStayPlain, BaseOperator):
    """
    Fire a MoEngage business event; campaigns set to that event then message the matching users.

    :param event_name: Name of the business event, as created in MoEngage. Templated.
    :param event_attributes: Attribute name -> value. A dict (values templated, types kept), an
        XComArg such as the output of an upstream ``@task``, or a template string that renders to a
        JSON object. Ints stay ints, lists stay lists, strings stay strings; dates and datetimes are
        sent as ISO 8601 text. Templated.
    :param triggered_by: Email of whoever fires the event, shown in MoEngage; left out when ``None``.
        Templated.
    :param moengage_conn_id: Airflow connection of type ``moengage``.
    :param deduplicate: On Airflow 3.3+, a retry or a cleared-and-rerun task whose payload was already
        delivered succeeds without sending again. ``False`` sends every time.
    :param if_outcome_unknown: What a later try does when an earlier one may have reached MoEngage
        (read timeout, dropped connection, 500/502/504): ``"resend"`` (default: at least once),
        ``"skip"`` (at most once: succeed without sending), ``"fail"`` (stop for a human to check) or
        ``"check"`` (read MoEngage's counters before and after, and decide; docs/exactly-once.md).
    :param deferrable: Wait out rate limits in the triggerer, not in a worker slot. Defaults to
        ``[operators] default_deferrable``.
    :param max_rate_limit_wait: Longest total wait for MoEngage's rate limit before the task fails.
    :param rate_limit_window: Length of MoEngage's rate-limit window (one hour); waits without a
        ``Retry-After`` header last until the next window of this length.
    :param check_declared_attributes: Before sending, look the event up once in MoEngage (the search
        API, 100 requests/minute) and refuse attributes it does not declare or values of the wrong type.
    :param lineage_include_values: Put the attribute values in the OpenLineage facet too; by default
        lineage has the attribute names and JSON types only.
    :param idempotency_key: Announce once per business fact (Airflow 3.3+): a delivery is recorded under
        this key in the state store of the event's asset (``business_event_asset(event_name)``, added to
        the outlets), and a later task instance with the same key and payload skips. Templated.
    :param if_check_inconclusive: With ``if_outcome_unknown="check"``, what to do when MoEngage's
        counters cannot settle the question: ``"fail"`` (default), ``"resend"`` or ``"skip"``.
    :param check_settle_delay: With ``if_outcome_unknown="check"``, how long to let MoEngage's counters
        catch up before reading them again (at most 60 s).
    """

    template_fields: Sequence[str] = ("event_name", "event_attributes", "triggered_by", "idempotency_key")
    template_fields_renderers: ClassVar[dict[str, str]] = {"event_attributes": "json"}
    ui_color = "#e9f1ff"
    operator_extra_links = (MoEngageDashboardLink(),)
    #: Observability (issue 15): what this try sent and what came of it, for the lineage facets.
    _lineage_report: dict[str, Any] | None = None

    def __init__(
        self,
        *,
        event_name: str,
        event_attributes: Mapping[str, Any] | str | Any,
        triggered_by: str | None = None,
        moengage_conn_id: str = "moengage_default",
        deduplicate: bool = True,
        if_outcome_unknown: IfOutcomeUnknown = "resend",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        max_rate_limit_wait: dt.timedelta = dt.timedelta(hours=3),
        rate_limit_window: dt.timedelta = dt.timedelta(hours=1),
        check_declared_attributes: bool = False,
        lineage_include_values: bool = False,
        idempotency_key: str | None = None,
        if_check_inconclusive: IfCheckInconclusive = "fail",
        check_settle_delay: dt.timedelta = dt.timedelta(seconds=5),
        **kwargs: Any,
    ) -> None:
        if idempotency_key is not None:
            kwargs["outlets"] = _with_event_asset(kwargs.get("outlets"), event_name, kwargs.get("task_id"))
        if kwargs.get("retry_policy") is None:
            policy = _default_retry_policy()
            if policy is not None:
                kwargs["retry_policy"] = policy
            else:  # Airflow < 3.3: BaseOperator has no retry_policy argument and refuses unknown ones.
                kwargs.pop("retry_policy", None)
        super().__init__(**kwargs)
        self.event_name = event_name
        self.event_attributes = event_attributes
        self.triggered_by = triggered_by
        self.moengage_conn_id = moengage_conn_id
        self.deduplicate = deduplicate
        try:
            DeliverySettings(if_outcome_unknown=if_outcome_unknown)
        except ValueError as err:
            raise ValueError(f"{type(self).__name__} {self.task_id!r}: {err}") from None
        if if_check_inconclusive not in ("fail", "resend", "skip"):
            raise ValueError(
                f"{type(self).__name__} {self.task_id!r}: if_check_inconclusive must be 'fail', 'resend' or "
                f"'skip', got {if_check_inconclusive!r}."
            )
        self.if_outcome_unknown = if_outcome_unknown
        self.if_check_inconclusive = if_check_inconclusive
        self.check_settle_delay = check_settle_delay
        self.idempotency_key = idempotency_key
        self.deferrable = deferrable
        self.max_rate_limit_wait = max_rate_limit_wait
        self.rate_limit_window = rate_limit_window
        self.check_declared_attributes = check_declared_attributes
        self.lineage_include_values = lineage_include_values
        self._reject_bad_literals()

    @cached_property
    def hook(self) -> MoEngageHook:
        from moengage_provider.hooks.moengage import MoEngageHook

        return MoEngageHook(moengage_conn_id=self.moengage_conn_id)

    # -- running ---------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        self._lineage_report = None  # issue 15: this try's lineage starts empty
        prepared = self.prepare_payload()
        if self.check_declared_attributes:
            self._check_declared(prepared.body)
        return self._deliver(context, prepared)

    def execute_after_rate_limit(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Resume here after deferring for a rate limit: the triggerer only waited, we send now."""
        return self._deliver(context, self.prepare_payload())

    def prepare_payload(self) -> PreparedTrigger:
        """Validate and encode the rendered fields, once; a bad value fails the task with nothing sent."""
        try:
            return prepare_trigger(
                self.event_name, attributes_from_rendered(self.event_attributes), self.triggered_by
            )
        except InvalidBusinessEventError as err:
            raise MoEngageValidationError(err.field, err.problem) from None

    def build_payload(self) -> dict[str, Any]:
        """The request body from the rendered fields; a bad value fails the task with nothing sent."""
        return self.prepare_payload().body

    def _check_declared(self, body: dict[str, Any]) -> None:
        """Compare with the event as declared in MoEngage; nothing is sent if they disagree."""
        event = self.hook.get_business_event(body["event_name"])
        if event is None:
            raise MoEngageValidationError(
                "event_name",
                f"{body['event_name']!r} is not declared in this MoEngage workspace; create it first "
                "(CreateBusinessEventOperator) or fix the name.",
            )
        try:
            check_against_declared(body["event_attributes"], declared_attribute_types(event))
        except InvalidBusinessEventError as err:
            raise MoEngageValidationError(err.field, err.problem) from None

    @property
    def delivery_settings(self) -> DeliverySettings:
        return DeliverySettings(if_outcome_unknown=self.if_outcome_unknown, deduplicate=self.deduplicate)

    def _deliver(self, context: Context, prepared: PreparedTrigger) -> dict[str, Any]:
        """Ask the delivery record what this try does, do it, and report how the try ended, once."""
        plan: Plan | None = None
        sent: list[Outcome] = []
        self._lineage_report = {"body": prepared.body}  # issue 15: completed in _try_finished

        def finished(result: dict[str, Any] | None = None, error: BaseException | None = None) -> None:
            doubt = bool(plan and plan.same and plan.previous and plan.previous.in_doubt)
            last = sent[-1] if sent else None
            action = plan.action if plan is not None else Action.SEND
            self._try_finished(TryResult(prepared.event_name, action, last, result, error, doubt))

        try:
            store = DeliveryStore(state_store_for(context, self.log))
            self._warn_if_reruns_can_resend(store)
            settings = self.hook.settings  # a missing or unusable connection fails here, on the first try
            fingerprint = payload_fingerprint(
                prepared.data, workspace_id=settings.workspace_id, base_url=settings.base_url
            )
            plan = plan_try(store.load(), fingerprint, self.delivery_settings)
            result = self._carry_out(context, store, plan, fingerprint, prepared, sent)
        except Exception as err:  # a deferral (TaskDeferred) is not the end of a try and passes through
            finished(error=err)
            raise
        finished(result)
        return result

    def _try_finished(self, result: TryResult) -> None:
        """The one place where a try's final outcome is known (metrics and lineage attach here)."""
        from moengage_provider import metrics

        # The connection's settings, if this try got that far (a missing connection is not re-read).
        settings = vars(self.hook).get("settings") if "hook" in vars(self) else None
        if settings is None or self._lineage_report is None:
            self._lineage_report = None
            return
        try:
            metrics.try_finished(result, settings.data_center)
            self._lineage_report.update(
                workspace_id=settings.workspace_id,
                data_center=settings.data_center,
                host=settings.host,
                **metrics.try_report(result),
            )
        except Exception:  # observability never changes how a try ends
            self.log.debug("Could not record metrics/lineage for this try", exc_info=True)

    def _carry_out(
        self,
        context: Context,
        store: RecordStore,
        plan: Plan,
        fingerprint: str,
        prepared: PreparedTrigger,
        sent: list[Outcome],
    ) -> dict[str, Any]:
        from moengage_provider import metrics

        event_name = prepared.event_name
        previous = plan.previous
        if plan.action is Action.ALREADY_DELIVERED and previous is not None:
            self.log.info(
                "Skipping: MoEngage business event %r with this exact payload was already delivered by "
                "this task instance at %s. Nothing was sent. To send it again anyway, set "
                "deduplicate=False on the task.",
                event_name,
                previous.delivered_at,
            )
            return previous.result or {}
        once = None
        if self.idempotency_key is not None:
            from moengage_provider.idempotency import IdempotencyGate

            once = IdempotencyGate(context, self.idempotency_key, event_name, fingerprint, self.log)
            once.check()  # the same announcement by any earlier task instance: skip (or fail)
        check = None
        if self.if_outcome_unknown == "check":
            from moengage_provider.counters_check import OutcomeCheck

            check = OutcomeCheck(context.get("task_state_store"), self.hook, event_name, self.log)
        if plan.payload_changed_since_delivery and previous is not None:
            self.log.info(
                "The payload changed since this task instance delivered %r at %s; sending the new one.",
                previous.event_name,
                previous.delivered_at,
            )
        if plan.same and previous is not None and previous.in_doubt:
            why = previous.reason or "the try ended while the request was in flight"
            if plan.action is Action.CHECK and check is not None:
                settled = self._settle_by_counters(check, store, previous, fingerprint, event_name, once)
                if settled is not None:
                    return settled
            elif plan.action is Action.FAIL:
                raise MoEngageOutcomeUnknownError(
                    f"A previous try at {previous.attempted_at} may have delivered MoEngage business event "
                    f"{event_name!r} ({why}). if_outcome_unknown='fail': check MoEngage's campaign "
                    "analytics, then clear this task with if_outcome_unknown='resend' or 'skip'."
                )
            elif plan.action is Action.SKIP:
                self.log.warning(
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
                self.log.warning(
                    "A previous try at %s may have delivered %r (%s). if_outcome_unknown='resend': sending "
                    "again (at least once; set if_outcome_unknown='skip' for at most once).",
                    previous.attempted_at,
                    event_name,
                    why,
                )
        checked_in_this_try = False
        while True:
            attempt = before_send(plan, fingerprint, event_name, utc_now_iso())
            store.save(attempt)
            if check is not None:
                check.before_send(fingerprint)
            try:
                with metrics.trigger_request(event_name, self.hook.settings.data_center):  # issue 15
                    answer = self.hook.send_prepared_trigger(prepared)
            except MoEngageRateLimitError as err:
                sent.append(err.outcome)
                record = after_attempt(plan, attempt, err.outcome, now=utc_now_iso(), rate_limited=True)
                store.save(record)
                plan = Plan(Action.SEND, record, same=True)
                self._wait_for_rate_limit(
                    context, err, (record and record.rate_limited_since) or utc_now_iso(), record
                )
                continue
            except MoEngageError as err:
                sent.append(err.outcome)
                record = after_attempt(plan, attempt, err.outcome, now=utc_now_iso(), reason=str(err))
                store.save(record)
                # "check": resolve the doubt in this try, once; a second doubt is the next try's.
                if check and record and err.outcome is Outcome.UNKNOWN and not checked_in_this_try:
                    checked_in_this_try = True
                    settled = self._settle_by_counters(check, store, record, fingerprint, event_name, once)
                    if settled is not None:
                        return settled
                    plan = Plan(Action.SEND, record, same=True)
                    continue
                self._explain(err, context, record)
                raise
            sent.append(Outcome.DELIVERED)
            now = utc_now_iso()
            result = {"event_name": event_name, "message": answer.get("message"), "sent_at": now}
            store.save(after_attempt(plan, attempt, Outcome.DELIVERED, now=now, result=result))
            if once is not None:
                once.record()
            return result

    def _settle_by_counters(
        self,
        check: Any,
        store: RecordStore,
        previous: DeliveryRecord,
        fingerprint: str,
        event_name: str,
        once: Any,
    ) -> dict[str, Any] | None:
        """if_outcome_unknown='check': the task's result when the doubt is settled without sending, None
        to send; an inconclusive check follows if_check_inconclusive."""
        from moengage_provider.counters_check import settle_seconds

        why = previous.reason or "the try ended while the request was in flight"
        self.log.warning(
            "A previous send at %s may have delivered %r (%s); checking MoEngage's counters.",
            previous.attempted_at,
            event_name,
            why,
        )
        check_result = check.resolve(fingerprint, settle_seconds(self.check_settle_delay.total_seconds()))
        if check_result.verdict == "not_delivered":
            return None
        if check_result.verdict == "delivered":
            outcome = f"delivered (MoEngage's counters: {check_result.case})"
        elif self.if_check_inconclusive == "fail":
            raise MoEngageOutcomeUnknownError(
                f"MoEngage business event {event_name!r} may have been delivered at {previous.attempted_at} "
                f"({why}), and MoEngage's counters cannot tell ({check_result.explain()}). "
                "if_check_inconclusive='fail': check MoEngage's campaign analytics, then clear this task "
                "with if_outcome_unknown='resend' or 'skip'."
            )
        elif self.if_check_inconclusive == "resend":
            self.log.warning("The check was inconclusive; if_check_inconclusive='resend': sending again.")
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

    def _explain(self, err: MoEngageError, context: Context, record: DeliveryRecord | None) -> None:
        """Say on this try what became of the event, and what the next try will do about it."""
        event = repr(record.event_name) if record is not None else "the event"
        if err.outcome is Outcome.UNKNOWN:
            ti = context.get("ti")
            last = ti is not None and getattr(ti, "try_number", 0) > (self.retries or 0)
            policy = self.delivery_settings.unknown_policy
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

    def _wait_for_rate_limit(
        self,
        context: Context,
        err: MoEngageRateLimitError,
        rate_limited_since: str,
        record: DeliveryRecord | None = None,
    ) -> None:
        from moengage_provider.rate_limits import LIMITS_TEXT, format_duration, rate_limit_wait

        nothing = "Nothing was delivered."
        if record is not None and record.status == "unknown":  # keep the history: an earlier try may have
            nothing = (
                f"This try delivered nothing, but an earlier try at {record.attempted_at} may have delivered "
                f"business event {record.event_name!r} ({record.reason or 'it ended while in flight'})."
            )

        now = dt.datetime.now(dt.timezone.utc)
        seconds, until, reason = rate_limit_wait(
            now, retry_after=err.retry_after, window=self.rate_limit_window
        )
        waited = (now - dt.datetime.fromisoformat(rate_limited_since)).total_seconds()
        if waited + seconds > self.max_rate_limit_wait.total_seconds():
            raise AirflowFailException(
                f"MoEngage rate limit: still refused after waiting {format_duration(waited)}, and the next "
                f"window opens at {until:%Y-%m-%d %H:%M:%S} UTC, past max_rate_limit_wait="
                f"{format_duration(self.max_rate_limit_wait.total_seconds())}. {LIMITS_TEXT}. "
                "Spread triggers out, batch items into fewer events, or raise max_rate_limit_wait. "
                f"{nothing}"
            )
        from moengage_provider import metrics

        metrics.rate_limit_wait(self.event_name, self.hook.settings.data_center, seconds)  # issue 15
        how = (
            "deferring (worker slot released)"
            if self.deferrable
            else "sleeping in the worker"
            if seconds <= MAX_IN_WORKER_WAIT.total_seconds()
            else "handing the worker back with a retry"
        )
        self.log.warning(
            "MoEngage rate limit hit for %r (HTTP 429%s). %s. Waiting %s until %s UTC: %s; "
            "%s. This is a wait, not a failed delivery.",
            self.event_name,
            f", request_id={err.request_id}" if err.request_id else "",
            LIMITS_TEXT,
            format_duration(seconds),
            f"{until:%H:%M:%S}",
            reason,
            how,
        )
        if self.deferrable:
            from airflow.providers.standard.triggers.temporal import DateTimeTrigger

            self.defer(trigger=DateTimeTrigger(moment=until), method_name="execute_after_rate_limit")
        if seconds <= MAX_IN_WORKER_WAIT.total_seconds():
            time.sleep(seconds)
            return
        ti = context["ti"]
        if ti.try_number > (self.retries or 0):
            raise AirflowFailException(
                f"MoEngage rate limit: the next window opens at {until:%Y-%m-%d %H:%M:%S} UTC, but this "
                "task has no retries left to wait for it without holding a worker. Enable retries "
                f"(retries >= 1) or deferrable=True. {nothing}"
            )
        retry_delay = self.retry_delay.total_seconds() if self.retry_delay else 0.0
        if getattr(self, "retry_policy", None) is None and retry_delay < seconds:
            self.log.warning(
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

    # -- lineage (read by the OpenLineage provider; nothing is imported without it) ---------------

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The business event as the output dataset, the task's inlets as inputs (lineage.py)."""
        from moengage_provider.lineage import operator_lineage

        return operator_lineage(
            self._lineage_report,
            inlets=self.inlets,
            outlets=self.outlets,
            include_values=self.lineage_include_values,
        )

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """As on success; the facet's ``outcome`` says whether the event may have been delivered."""
        return self.get_openlineage_facets_on_complete(task_instance)

    def _warn_if_reruns_can_resend(self, store: DeliveryStore) -> None:
        global _warned_no_store
        if store.available or _warned_no_store:
            return
        _warned_no_store = True
        self.log.warning(
            "This Airflow has no task state store (added in 3.3): a retry or a cleared task may send "
            "the same MoEngage business event again. Upgrade to Airflow 3.3+ for at-most-once reruns."
        )

    def _reject_bad_literals(self) -> None:
        """Fail at DAG parse for values that no template or XCom will change."""
        try:
            if _is_literal(self.event_name):
                validate_event_name(self.event_name)
            if _is_literal(self.triggered_by):
                validate_triggered_by(self.triggered_by, strict=False)  # strictly at run time
            if not isinstance(self.event_attributes, str) and _is_literal(self.event_attributes):
                normalize_event_attributes(self.event_attributes)
        except InvalidBusinessEventError as err:
            raise ValueError(f"{type(self).__name__} {self.task_id!r}: {err}") from None


def _with_event_asset(outlets: Any, event_name: Any, task_id: Any) -> list[Any]:
    """The task's outlets plus the asset standing for the event (whose state store keeps the keys)."""
    if not isinstance(event_name, str) or has_template_markers(event_name):
        raise ValueError(
            f"TriggerBusinessEventOperator {task_id!r}: idempotency_key needs a literal event_name (the "
            "event's asset, where deliveries are recorded, is declared when the DAG is parsed)."
        )
    from moengage_provider.idempotency import business_event_asset

    asset = business_event_asset(event_name)
    listed = list(outlets) if isinstance(outlets, (list, tuple)) else ([] if outlets is None else [outlets])
    return listed if asset in listed else [*listed, asset]


def _is_literal(value: Any) -> bool:
    """True when the value holds no template string and no XComArg: it is final at parse time."""
    if isinstance(value, str):
        return not has_template_markers(value)
    if isinstance(value, Mapping):
        return all(_is_literal(k) and _is_literal(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_is_literal(item) for item in value)
    return not hasattr(value, "resolve")


class CreateBusinessEventOperator(PlainStringsStayPlain, BaseOperator):
    """
    Declare a MoEngage business event and its typed attributes, idempotently.

    Already there with the same attributes: nothing to do. Already there with different ones: a clear
    error (MoEngage events cannot be redefined through the API; create a new name instead).

    :param event_name: Name of the business event. Templated.
    :param attribute_types: Attribute name -> ``string``, ``int``, ``float``, ``array`` or ``date``.
    :param created_by: Email recorded as the event's creator. Templated.
    :param moengage_conn_id: Airflow connection of type ``moengage``.
    """

    template_fields: Sequence[str] = ("event_name", "created_by")
    ui_color = "#e9f1ff"
    operator_extra_links = (MoEngageDashboardLink(),)

    def __init__(
        self,
        *,
        event_name: str,
        attribute_types: Mapping[str, str],
        created_by: str,
        moengage_conn_id: str = "moengage_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.event_name = event_name
        self.attribute_types = dict(attribute_types)
        self.created_by = created_by
        self.moengage_conn_id = moengage_conn_id
        try:
            validate_attribute_types(self.attribute_types)
            if _is_literal(event_name):
                validate_event_name(event_name)
        except InvalidBusinessEventError as err:
            raise ValueError(f"{type(self).__name__} {self.task_id!r}: {err}") from None

    @cached_property
    def hook(self) -> MoEngageHook:
        from moengage_provider.hooks.moengage import MoEngageHook

        return MoEngageHook(moengage_conn_id=self.moengage_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            name = validate_event_name(self.event_name)
            creator = validate_triggered_by(self.created_by)
        except InvalidBusinessEventError as err:
            field = "created_by" if err.field == "triggered_by" else err.field
            raise MoEngageValidationError(field, err.problem) from None
        if creator is None:
            raise MoEngageValidationError("created_by", "is required by MoEngage: the creator's email.")
        existing = self.hook.get_business_event(name)
        if existing is not None:
            declared = declared_attribute_types(existing)
            if declared != self.attribute_types:
                raise AirflowFailException(
                    f"MoEngage business event {name!r} already exists with different attributes: declared "
                    f"{_describe(declared)}, this task asks for {_describe(self.attribute_types)}. Events "
                    "cannot be redefined through the API: use a new event name, or match the declaration."
                )
            self.log.info(
                "MoEngage business event %r already exists with these attributes; nothing to do.", name
            )
            return {"event_name": name, "event_id": existing.get("event_id"), "created": False}
        answer = self.hook.create_business_event(name, self.attribute_types, creator)
        self.log.info("Created MoEngage business event %r (event_id=%s).", name, answer.get("event_id"))
        return {"event_name": name, "event_id": answer.get("event_id"), "created": True}


def declared_attribute_types(event: Mapping[str, Any]) -> dict[str, str]:
    """Attribute name -> type, from a search result's ``event_attributes`` list."""
    declared: dict[str, str] = {}
    for item in event.get("event_attributes") or []:
        if isinstance(item, Mapping) and isinstance(item.get("attribute_name"), str):
            declared[item["attribute_name"]] = str(item.get("attribute_data_type"))
    return declared


def _describe(attribute_types: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{name}: {kind}" for name, kind in sorted(attribute_types.items())) + "}"
