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

from airflow.sdk import BaseOperator

try:
    from airflow.sdk import conf
except ImportError:  # Airflow < 3.2: airflow.sdk does not export conf.
    from airflow.configuration import conf  # type: ignore[assignment]

from moengage_provider.delivery import DeliveryRecord, DeliveryStore, payload_fingerprint, utc_now_iso
from moengage_provider.exceptions import (
    MoEngageClientError,
    MoEngageConnectionError,
    MoEngageRateLimitError,
    MoEngageRateLimitWait,
    MoEngageServerError,
    MoEngageValidationError,
)
from moengage_provider.links import MoEngageDashboardLink
from moengage_provider.payload import (
    InvalidBusinessEventError,
    attributes_from_rendered,
    build_trigger_payload,
    check_against_declared,
    normalize_event_attributes,
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
        ``"skip"`` (at most once: succeed without sending) or ``"fail"`` (stop for a human to check).
    :param deferrable: Wait out rate limits in the triggerer, not in a worker slot. Defaults to
        ``[operators] default_deferrable``.
    :param max_rate_limit_wait: Longest total wait for MoEngage's rate limit before the task fails.
    :param rate_limit_window: Length of MoEngage's rate-limit window (one hour); waits without a
        ``Retry-After`` header last until the next window of this length.
    :param check_declared_attributes: Before sending, look the event up once in MoEngage (the search
        API, 100 requests/minute) and refuse attributes it does not declare or values of the wrong type.
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
        if if_outcome_unknown not in ("resend", "skip", "fail", "check"):
            raise ValueError(
                f"{type(self).__name__} {self.task_id!r}: if_outcome_unknown must be 'resend', 'skip', "
                f"'fail' or 'check', got {if_outcome_unknown!r}."
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
        self._reject_bad_literals()

    @cached_property
    def hook(self) -> MoEngageHook:
        from moengage_provider.hooks.moengage import MoEngageHook

        return MoEngageHook(moengage_conn_id=self.moengage_conn_id)

    # -- running ---------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        body = self.build_payload()
        if self.check_declared_attributes:
            self._check_declared(body)
        return self._deliver(context, body)

    def execute_after_rate_limit(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Resume here after deferring for a rate limit: the triggerer only waited, we send now."""
        return self._deliver(context, self.build_payload())

    def build_payload(self) -> dict[str, Any]:
        """The request body from the rendered fields; a bad value fails the task with nothing sent."""
        try:
            return build_trigger_payload(
                self.event_name, attributes_from_rendered(self.event_attributes), self.triggered_by
            )
        except InvalidBusinessEventError as err:
            raise MoEngageValidationError(err.field, err.problem) from None

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

    def _deliver(self, context: Context, body: dict[str, Any]) -> dict[str, Any]:
        store = DeliveryStore.from_context(context)
        self._warn_if_reruns_can_resend(store)
        settings = self.hook.settings
        fingerprint = payload_fingerprint(
            body, workspace_id=settings.workspace_id, base_url=settings.base_url
        )
        previous = store.load()
        same = previous is not None and previous.fingerprint == fingerprint
        if previous is not None and same and previous.status == "delivered" and self.deduplicate:
            self.log.info(
                "Skipping: MoEngage business event %r with this exact payload was already delivered by "
                "this task instance at %s. Nothing was sent. To send it again anyway, set "
                "deduplicate=False on the task.",
                body["event_name"],
                previous.delivered_at,
            )
            return previous.result or {}
        once = None
        if self.idempotency_key is not None:
            from moengage_provider.idempotency import IdempotencyGate

            once = IdempotencyGate(context, self.idempotency_key, body["event_name"], fingerprint, self.log)
            once.check()
        check = self._outcome_check(context, body) if self.if_outcome_unknown == "check" else None
        if previous is not None and same and previous.status in ("sending", "unknown"):
            if check is not None:
                verdict = self._settle_unknown(check, previous, fingerprint, body)
                if verdict is not None:
                    return self._record_result(
                        store,
                        previous,
                        fingerprint,
                        body,
                        {"message": None},
                        skipped=True,
                        outcome=verdict,
                        once=once,
                    )
            elif self._handle_unknown_outcome(previous, body):
                return self._record_result(
                    store, previous, fingerprint, body, {"message": None}, skipped=True, once=once
                )
        elif previous is not None and not same and previous.status == "delivered":
            self.log.info(
                "The payload changed since this task instance delivered %r at %s; sending the new one.",
                previous.event_name,
                previous.delivered_at,
            )
        rate_limited_since = previous.rate_limited_since if previous is not None and same else None
        checked_in_this_try = False
        while True:
            attempt = DeliveryRecord(
                fingerprint=fingerprint,
                status="sending",
                event_name=body["event_name"],
                attempted_at=utc_now_iso(),
                rate_limited_since=rate_limited_since,
            )
            store.save(attempt)
            if check is not None:
                check.before_send(fingerprint)
            try:
                answer = self.hook.trigger_business_event(
                    body["event_name"], body["event_attributes"], body.get("triggered_by")
                )
            except MoEngageRateLimitError as err:
                # Nothing was delivered; remember since when this payload waits (bounds the total wait).
                rate_limited_since = rate_limited_since or utc_now_iso()
                was_unknown = same and previous is not None and previous.status == "unknown"
                previous = _replace(
                    attempt,
                    status="unknown" if was_unknown else "waiting",
                    reason=previous.reason if was_unknown and previous is not None else None,
                    rate_limited_since=rate_limited_since,
                )
                same = True
                store.save(previous)
                self._wait_for_rate_limit(context, err, rate_limited_since)
                continue
            except (MoEngageServerError, MoEngageConnectionError) as err:
                if not err.outcome_unknown:
                    store.restore(previous)
                    raise
                unknown = _replace(attempt, status="unknown", reason=str(err))
                store.save(unknown)
                if check is None or checked_in_this_try:
                    raise
                # Resolve in this same try: once; a second unknown outcome is left to the next try.
                checked_in_this_try = True
                verdict = self._settle_unknown(check, unknown, fingerprint, body)
                if verdict is not None:
                    return self._record_result(
                        store,
                        unknown,
                        fingerprint,
                        body,
                        {"message": None},
                        skipped=True,
                        outcome=verdict,
                        once=once,
                    )
                previous, same = unknown, True
                continue
            except (MoEngageClientError, MoEngageValidationError):
                store.restore(previous)
                raise
            return self._record_result(store, attempt, fingerprint, body, answer, skipped=False, once=once)

    def _record_result(
        self,
        store: DeliveryStore,
        attempt: DeliveryRecord,
        fingerprint: str,
        body: dict[str, Any],
        answer: dict[str, Any],
        *,
        skipped: bool,
        outcome: str = "unknown, not resent (if_outcome_unknown='skip')",
        once: Any = None,
    ) -> dict[str, Any]:
        now = utc_now_iso()
        result = {"event_name": body["event_name"], "message": answer.get("message"), "sent_at": now}
        if skipped:
            result["sent_at"] = attempt.attempted_at
            result["outcome"] = outcome
        store.save(
            DeliveryRecord(
                fingerprint=fingerprint,
                status="delivered",
                event_name=body["event_name"],
                attempted_at=attempt.attempted_at,
                delivered_at=result["sent_at"],
                result=result,
            )
        )
        if once is not None:
            once.record()
        return result

    def _outcome_check(self, context: Context, body: dict[str, Any]) -> Any:
        from moengage_provider.counters_check import OutcomeCheck

        return OutcomeCheck(context.get("task_state_store"), self.hook, body["event_name"], self.log)

    def _settle_unknown(
        self, check: Any, previous: DeliveryRecord, fingerprint: str, body: dict[str, Any]
    ) -> str | None:
        """if_outcome_unknown='check': the outcome text when the send counts as done, None to send."""
        from moengage_provider.counters_check import settle_seconds

        why = previous.reason or "the try ended while the request was in flight"
        self.log.warning(
            "A previous send at %s may have delivered %r (%s); checking MoEngage's counters.",
            previous.attempted_at,
            body["event_name"],
            why,
        )
        result = check.resolve(fingerprint, settle_seconds(self.check_settle_delay.total_seconds()))
        if result.verdict == "delivered":
            return f"delivered (MoEngage's counters: {result.case})"
        if result.verdict == "not_delivered":
            return None
        fallback = self.if_check_inconclusive
        if fallback == "fail":
            from moengage_provider.exceptions import AirflowFailException

            raise AirflowFailException(
                f"MoEngage business event {body['event_name']!r} may have been delivered at "
                f"{previous.attempted_at} ({why}), and MoEngage's counters cannot tell ({result.explain()}). "
                "if_check_inconclusive='fail': check MoEngage's campaign analytics, then clear this task "
                "with if_outcome_unknown='resend' or 'skip'."
            )
        self.log.warning("The check was inconclusive; if_check_inconclusive=%r.", fallback)
        return None if fallback == "resend" else "unknown, not resent (if_check_inconclusive='skip')"

    def _handle_unknown_outcome(self, previous: DeliveryRecord, body: dict[str, Any]) -> bool:
        """Log what an earlier try left behind; True means succeed without sending."""
        why = previous.reason or "the try ended while the request was in flight"
        if self.if_outcome_unknown == "fail":
            from moengage_provider.exceptions import AirflowFailException

            raise AirflowFailException(
                f"A previous try at {previous.attempted_at} may have delivered MoEngage business event "
                f"{body['event_name']!r} ({why}). if_outcome_unknown='fail': check MoEngage's campaign "
                "analytics, then clear this task with if_outcome_unknown='resend' or 'skip'."
            )
        if self.if_outcome_unknown == "skip":
            self.log.warning(
                "A previous try at %s may have delivered %r (%s). if_outcome_unknown='skip': not sending "
                "again (at most once).",
                previous.attempted_at,
                body["event_name"],
                why,
            )
            return True
        self.log.warning(
            "A previous try at %s may have delivered %r (%s). if_outcome_unknown='resend': sending again "
            "(at least once; set if_outcome_unknown='skip' for at most once).",
            previous.attempted_at,
            body["event_name"],
            why,
        )
        return False

    def _wait_for_rate_limit(
        self, context: Context, err: MoEngageRateLimitError, rate_limited_since: str
    ) -> None:
        from moengage_provider.rate_limits import LIMITS_TEXT, format_duration, rate_limit_wait

        now = dt.datetime.now(dt.timezone.utc)
        seconds, until, reason = rate_limit_wait(
            now, retry_after=err.retry_after, window=self.rate_limit_window
        )
        waited = (now - dt.datetime.fromisoformat(rate_limited_since)).total_seconds()
        if waited + seconds > self.max_rate_limit_wait.total_seconds():
            from moengage_provider.exceptions import AirflowFailException

            raise AirflowFailException(
                f"MoEngage rate limit: still refused after waiting {format_duration(waited)}, and the next "
                f"window opens at {until:%Y-%m-%d %H:%M:%S} UTC, past max_rate_limit_wait="
                f"{format_duration(self.max_rate_limit_wait.total_seconds())}. {LIMITS_TEXT}. "
                "Spread triggers out, batch items into fewer events, or raise max_rate_limit_wait. "
                "Nothing was delivered."
            )
        how = (
            "deferring (worker slot released)"
            if self.deferrable
            else "sleeping in the worker"
            if seconds <= MAX_IN_WORKER_WAIT.total_seconds()
            else "handing the worker back with a retry"
        )
        self.log.warning(
            "MoEngage rate limit hit for %r (HTTP 429, request_id=%s). %s. Waiting %s until %s UTC: %s; "
            "%s. This is a wait, not a failed delivery.",
            self.event_name,
            err.request_id,
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
            from moengage_provider.exceptions import AirflowFailException

            raise AirflowFailException(
                f"MoEngage rate limit: the next window opens at {until:%Y-%m-%d %H:%M:%S} UTC, but this "
                "task has no retries left to wait for it without holding a worker. Enable retries "
                "(retries >= 1) or deferrable=True. Nothing was delivered."
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
                validate_triggered_by(self.triggered_by)
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


def _replace(record: DeliveryRecord, **changes: Any) -> DeliveryRecord:
    from dataclasses import replace

    return replace(record, **changes)


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
                from moengage_provider.exceptions import AirflowFailException

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
