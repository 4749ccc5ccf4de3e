"""
TriggerBusinessEventOperator: fire a MoEngage business event from a DAG, once.

The operator knows Airflow (templates, context, task state, deferral); the hook knows HTTP.
Kept cheap to import (DAG files import it on every parse): the hook, ``requests`` and the HTTP
provider load only when the task runs, as do the try's helpers: ``in_doubt`` (an earlier try may
have delivered) and ``rate_limit_wait``. CreateBusinessEventOperator lives in ``create_event``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from airflow.providers.common.compat.sdk import BaseOperator, conf

from moengage_provider.api.payload import (
    InvalidBusinessEventError,
    PreparedTrigger,
    attributes_from_rendered,
    normalize_event_attributes,
    prepare_trigger,
    validate_event_name,
    validate_triggered_by,
)
from moengage_provider.operators.links import MoEngageDashboardLink
from moengage_provider.operators.templating import PlainStringsStayPlain, is_literal

if TYPE_CHECKING:
    from airflow.sdk import Context

    from moengage_provider.api.outcomes import Outcome
    from moengage_provider.delivery.rate_limit_wait import MAX_IN_WORKER_WAIT
    from moengage_provider.delivery.record import (
        DeliveryRecord,
        DeliverySettings,
        Plan,
        RecordStore,
        TryResult,
    )
    from moengage_provider.exceptions import MoEngageRateLimitError
    from moengage_provider.hooks.moengage import MoEngageHook
    from moengage_provider.operators.create_event import CreateBusinessEventOperator, declared_attribute_types

__all__ = [
    "MAX_IN_WORKER_WAIT",
    "CreateBusinessEventOperator",
    "TriggerBusinessEventOperator",
    "declared_attribute_types",
]

IfOutcomeUnknown = Literal["resend", "skip", "fail", "check"]
IfCheckInconclusive = Literal["fail", "resend", "skip"]
#: The delivery record's policies (delivery.UNKNOWN_POLICIES, which a test keeps equal to this), checked
#: at parse without importing the delivery state machine into every DAG file that uses the operator.
_IF_OUTCOME_UNKNOWN: tuple[str, ...] = get_args(IfOutcomeUnknown)


def _default_retry_policy() -> Any:
    try:
        from moengage_provider.delivery.retry_policy import MoEngageRetryPolicy
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
            from moengage_provider.delivery.idempotency import with_event_asset

            kwargs["outlets"] = with_event_asset(kwargs.get("outlets"), event_name, kwargs.get("task_id"))
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
        if if_outcome_unknown not in _IF_OUTCOME_UNKNOWN:
            modes = ", ".join(repr(m) for m in _IF_OUTCOME_UNKNOWN)
            raise ValueError(
                f"{type(self).__name__} {self.task_id!r}: if_outcome_unknown must be one of {modes}, "
                f"got {if_outcome_unknown!r}."
            )
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
            from moengage_provider.operators.create_event import check_declared

            check_declared(self.hook, prepared.body)
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
            from moengage_provider.exceptions import MoEngageValidationError

            raise MoEngageValidationError(err.field, err.problem) from None

    def build_payload(self) -> dict[str, Any]:
        """The request body from the rendered fields; a bad value fails the task with nothing sent."""
        return self.prepare_payload().body

    @property
    def delivery_settings(self) -> DeliverySettings:
        from moengage_provider.delivery.record import DeliverySettings

        return DeliverySettings(if_outcome_unknown=self.if_outcome_unknown, deduplicate=self.deduplicate)

    def _deliver(self, context: Context, prepared: PreparedTrigger) -> dict[str, Any]:
        """Ask the delivery record what this try does, do it, and report how the try ended, once."""
        from moengage_provider.delivery.record import (
            Action,
            DeliveryStore,
            TryResult,
            payload_fingerprint,
            plan_try,
        )
        from moengage_provider.delivery.stores import state_store_for, warn_if_reruns_can_resend

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
            warn_if_reruns_can_resend(store, self.log)
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
        from moengage_provider.observability import metrics

        # The connection's settings, if this try got that far (a missing connection is not re-read).
        settings = vars(self.hook).get("settings") if "hook" in vars(self) else None
        if settings is None or self._lineage_report is None:
            self._lineage_report = None
            return
        metrics.observe_try(result, settings, self._lineage_report, self.log)

    def _carry_out(
        self,
        context: Context,
        store: RecordStore,
        plan: Plan,
        fingerprint: str,
        prepared: PreparedTrigger,
        sent: list[Outcome],
    ) -> dict[str, Any]:
        from moengage_provider.api.outcomes import Outcome
        from moengage_provider.delivery import in_doubt
        from moengage_provider.delivery.record import Action, Plan, after_attempt, before_send, utc_now_iso
        from moengage_provider.exceptions import MoEngageError, MoEngageRateLimitError
        from moengage_provider.observability import metrics

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
            from moengage_provider.delivery.idempotency import IdempotencyGate

            once = IdempotencyGate(context, self.idempotency_key, event_name, fingerprint, self.log)
            once.check()  # the same announcement by any earlier task instance: skip (or fail)
        check = None
        if self.if_outcome_unknown == "check":
            from moengage_provider.delivery.counters import OutcomeCheck

            check = OutcomeCheck(context.get("task_state_store"), self.hook, event_name, self.log)
        if plan.payload_changed_since_delivery and previous is not None:
            self.log.info(
                "The payload changed since this task instance delivered %r at %s; sending the new one.",
                previous.event_name,
                previous.delivered_at,
            )
        if plan.same and previous is not None and previous.in_doubt:
            settled = in_doubt.follow_unknown_policy(
                self, plan, previous, check, store, fingerprint, event_name, once
            )
            if settled is not None:
                return settled
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
                    settled = in_doubt.settle_by_counters(
                        self, check, store, record, fingerprint, event_name, once
                    )
                    if settled is not None:
                        return settled
                    plan = Plan(Action.SEND, record, same=True)
                    continue
                in_doubt.explain(self, err, context, record)
                raise
            sent.append(Outcome.DELIVERED)
            now = utc_now_iso()
            result = {"event_name": event_name, "message": answer.get("message"), "sent_at": now}
            store.save(after_attempt(plan, attempt, Outcome.DELIVERED, now=now, result=result))
            if once is not None:
                once.record()
            return result

    def _wait_for_rate_limit(
        self,
        context: Context,
        err: MoEngageRateLimitError,
        rate_limited_since: str,
        record: DeliveryRecord | None = None,
    ) -> None:
        """Wait out a 429: defer, sleep here when short (this module's ``time``), or retry later."""
        from moengage_provider.delivery.rate_limit_wait import seconds_to_sleep

        time.sleep(seconds_to_sleep(self, context, err, rate_limited_since, record))

    # -- lineage (read by the OpenLineage provider; nothing is imported without it) ---------------

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The business event as the output dataset, the task's inlets as inputs (lineage.py)."""
        from moengage_provider.observability.lineage import operator_lineage

        return operator_lineage(
            self._lineage_report,
            inlets=self.inlets,
            outlets=self.outlets,
            include_values=self.lineage_include_values,
        )

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """As on success; the facet's ``outcome`` says whether the event may have been delivered."""
        return self.get_openlineage_facets_on_complete(task_instance)

    def _reject_bad_literals(self) -> None:
        """Fail at DAG parse for values that no template or XCom will change."""
        try:
            if is_literal(self.event_name):
                validate_event_name(self.event_name)
            if is_literal(self.triggered_by):
                validate_triggered_by(self.triggered_by, strict=False)  # strictly at run time
            if not isinstance(self.event_attributes, str) and is_literal(self.event_attributes):
                normalize_event_attributes(self.event_attributes)
        except InvalidBusinessEventError as err:
            raise ValueError(f"{type(self).__name__} {self.task_id!r}: {err}") from None


#: Names that live in their own modules, importable from here too, loaded on first use (keeps a DAG
#: file's ``from ...business_event import TriggerBusinessEventOperator`` from loading them).
_MOVED = {
    "CreateBusinessEventOperator": "moengage_provider.operators.create_event",
    "declared_attribute_types": "moengage_provider.operators.create_event",
    "MAX_IN_WORKER_WAIT": "moengage_provider.delivery.rate_limit_wait",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
