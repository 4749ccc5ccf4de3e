"""The business event operators: ``TriggerBusinessEventOperator`` fires an event, once;
``CreateBusinessEventOperator`` declares one and its typed attributes; both show
``MoEngageDashboardLink``, the workspace's campaigns page.

Airflow glue only: arguments, templating, ``execute``, the resume after a deferral, the lineage
hooks. What one try of the trigger does is ``delivery/attempt.py``, loaded when a task runs (one
lazy import in ``_run_try``). Kept cheap to import, since DAG files import it on every parse: no
hook, ``requests``, HTTP provider, exceptions or delivery code load at import.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NoReturn, get_args

from airflow.providers.common.compat.sdk import BaseOperator, BaseOperatorLink, conf

from moengage_provider.api.payload import (
    ANY_VERSION,
    PreparedTrigger,
    attributes_from_rendered,
    normalize_event_attributes,
)
from moengage_provider.api.text_fields import (
    validate_event_name,
    validate_triggered_by,
)
from moengage_provider.operators.templating import (
    PlainStringsStayPlain,
    has_template_markers,
    is_literal,
    one_of,
    positive_duration,
    refused_at_parse,
)

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import TaskInstanceKey

    from moengage_provider.delivery.record import DeliverySettings
    from moengage_provider.hooks.moengage import MoEngageHook
    from moengage_provider.observability.report import TryReport

__all__ = ["CreateBusinessEventOperator", "MoEngageDashboardLink", "TriggerBusinessEventOperator"]

IfOutcomeUnknown = Literal["resend", "skip", "fail", "check"]
IfCheckInconclusive = Literal["fail", "resend", "skip"]
#: The delivery record's policies (``delivery.record.UNKNOWN_POLICIES``, which a test keeps equal to
#: this), checked at parse without importing the delivery state machine into every DAG file.
_IF_OUTCOME_UNKNOWN: tuple[str, ...] = get_args(IfOutcomeUnknown)
_IF_CHECK_INCONCLUSIVE: tuple[str, ...] = get_args(IfCheckInconclusive)


class MoEngageDashboardLink(BaseOperatorLink):
    """
    "MoEngage campaigns" button on the task: where to check that the event's campaigns went out.

    The running task stores the page's address (``persist``), since the webserver cannot work it out:
    Airflow 2 builds links from the serialized operator, which has no hook nor connection. The address
    is the data center's dashboard only (no workspace ID, no key: MoEngage's login picks the workspace).
    Empty when the connection only has a host (proxy or sandbox), or the task never started.
    """

    name = "MoEngage campaigns"
    #: The task instance's XCom that holds the page's address.
    url_xcom_key: ClassVar[str] = "moengage_campaigns_url"

    @classmethod
    def persist(cls, context: Context, hook: MoEngageHook) -> None:
        """Store the page's address with the task instance, before the task calls MoEngage. Once per try:
        Airflow clears a task instance's XComs when a try starts, not when it resumes after a deferral."""
        try:
            url = hook.dashboard_url()
        except Exception:  # a broken connection fails the task with its own clear error, later
            return
        if url:
            context["ti"].xcom_push(key=cls.url_xcom_key, value=url)

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.providers.common.compat.sdk import XCom

        return XCom.get_value(ti_key=ti_key, key=self.url_xcom_key) or ""


def _default_retry_policy() -> Any:
    try:
        from moengage_provider.delivery.retry_policy import MoEngageRetryPolicy
    except ImportError:  # Airflow < 3.3 has no RetryPolicy: plain retries apply.
        return None
    return MoEngageRetryPolicy()


def _with_event_asset(outlets: Any, event_name: Any, task_id: Any) -> list[Any]:
    """The task's outlets plus the asset standing for the event (whose state store keeps the keys)."""
    if not isinstance(event_name, str) or has_template_markers(event_name):
        raise ValueError(
            f"TriggerBusinessEventOperator {task_id!r}: idempotency_key needs a literal event_name (the "
            "event's asset, where deliveries are recorded, is declared when the DAG is parsed)."
        )
    from moengage_provider.delivery.idempotency import business_event_asset

    asset = business_event_asset(event_name)
    listed = list(outlets) if isinstance(outlets, (list, tuple)) else ([] if outlets is None else [outlets])
    return listed if asset in listed else [*listed, asset]


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
    :param rate_limit_window: How long MoEngage's hour lasts for the published windows (10 triggers
        per 5 minutes, 50 per hour, 200 per day), which decide a wait when MoEngage's answer has no
        ``Retry-After`` or ``x-ratelimit-reset`` header; the five-minute and daily windows scale with
        it. Leave it at one hour against MoEngage; shrink it to seconds to test against a sandbox
        whose windows are shrunk the same way.
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
    operator_extra_links: Collection[BaseOperatorLink] = (MoEngageDashboardLink(),)
    #: How this task's latest try ended, for the lineage facets (None: it ended before sending anything).
    _lineage_report: TryReport | None = None

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
        self.if_outcome_unknown: str = one_of(
            self, "if_outcome_unknown", if_outcome_unknown, _IF_OUTCOME_UNKNOWN
        )
        self.if_check_inconclusive: str = one_of(
            self, "if_check_inconclusive", if_check_inconclusive, _IF_CHECK_INCONCLUSIVE
        )
        self.check_settle_delay = check_settle_delay
        self.idempotency_key = idempotency_key
        self.deferrable = deferrable
        self.max_rate_limit_wait = max_rate_limit_wait
        self.rate_limit_window: dt.timedelta = positive_duration(self, "rate_limit_window", rate_limit_window)
        self.check_declared_attributes = check_declared_attributes
        self.lineage_include_values = lineage_include_values
        with refused_at_parse(self):
            if is_literal(event_name):
                validate_event_name(event_name)
            if is_literal(triggered_by):
                validate_triggered_by(triggered_by, strict=False)  # strictly at run time
            if not isinstance(event_attributes, str) and is_literal(event_attributes):
                normalize_event_attributes(event_attributes, ANY_VERSION)  # the API is not known yet

    @cached_property
    def hook(self) -> MoEngageHook:
        from moengage_provider.hooks.moengage import MoEngageHook

        return MoEngageHook(moengage_conn_id=self.moengage_conn_id)

    # -- running ---------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        MoEngageDashboardLink.persist(context, self.hook)
        return self._run_try(context, resumed=False)

    def execute_after_rate_limit(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Resume here after deferring for a rate limit: the triggerer only waited, we send now."""
        return self._run_try(context, resumed=True)

    def prepare_payload(self) -> PreparedTrigger:
        """Validate and encode the rendered fields, once, for the connection's API version; a bad value
        fails the task with nothing sent."""
        from moengage_provider.exceptions import invalid_event_fails_the_task

        with invalid_event_fails_the_task():
            return self.hook.prepare_trigger(
                self.event_name, attributes_from_rendered(self.event_attributes), self.triggered_by
            )

    def delivery_settings(self, *, resumed: bool = False) -> DeliverySettings:
        """This task's arguments, rendered, as the try reads them (``resumed``: after a deferral, the
        declared attributes were checked already)."""
        from moengage_provider.delivery.record import DeliverySettings

        return DeliverySettings(
            if_outcome_unknown=self.if_outcome_unknown,
            deduplicate=self.deduplicate,
            if_check_inconclusive=self.if_check_inconclusive,
            check_settle_seconds=self.check_settle_delay.total_seconds(),
            idempotency_key=self.idempotency_key,
            check_declared_attributes=self.check_declared_attributes and not resumed,
            deferrable=self.deferrable,
            max_rate_limit_wait=self.max_rate_limit_wait,
            rate_limit_window=self.rate_limit_window,
            retries=self.retries or 0,
            retry_delay=self.retry_delay.total_seconds() if self.retry_delay else 0.0,
            retry_policy=getattr(self, "retry_policy", None) is not None,
        )

    def _run_try(self, context: Context, *, resumed: bool) -> dict[str, Any]:
        """One try (delivery/attempt.py); how it ended is kept for the lineage hooks below."""
        self._lineage_report = None
        prepared = self.prepare_payload()
        from moengage_provider.delivery.attempt import Attempt

        attempt = Attempt.in_task(
            context,
            prepared=prepared,
            settings=self.delivery_settings(resumed=resumed),
            hook=self.hook,
            log=self.log,
            defer=self._defer_until,
        )
        try:
            return attempt.run()
        except Exception as err:  # API V5: every error names the delivery's X-MOE-Request-Id
            from moengage_provider.exceptions import mention_request_id

            mention_request_id(err, attempt.request_id)
            raise
        finally:
            self._try_finished(attempt.report)

    def _try_finished(self, report: TryReport | None) -> None:
        """Where a try's end reaches the operator: its report, for the lineage hooks."""
        self._lineage_report = report

    def _defer_until(self, moment: dt.datetime) -> NoReturn:
        """Hand the task to the triggerer, which only waits; it resumes in ``execute_after_rate_limit``."""
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        self.defer(trigger=DateTimeTrigger(moment=moment), method_name="execute_after_rate_limit")

    # -- lineage (read by the OpenLineage provider; nothing is imported without it) ---------------

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The business event as the output dataset, the task's inlets as inputs (observability/lineage.py)."""
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


class CreateBusinessEventOperator(PlainStringsStayPlain, BaseOperator):
    """
    Declare a MoEngage business event and its typed attributes, idempotently.

    Already there with the same attributes: nothing to do. Already there with different ones: a clear
    error (MoEngage events cannot be redefined through the API; create a new name instead). Always
    through MoEngage's legacy API (look-up and create), whatever the connection's ``api_version``:
    creating an event has not moved to V5.

    :param event_name: Name of the business event. Templated.
    :param attribute_types: Attribute name -> ``string``, ``int``, ``float``, ``array`` or ``date``.
    :param created_by: Email recorded as the event's creator. Templated.
    :param moengage_conn_id: Airflow connection of type ``moengage``.
    """

    template_fields: Sequence[str] = ("event_name", "created_by")
    ui_color = "#e9f1ff"
    operator_extra_links: Collection[BaseOperatorLink] = (MoEngageDashboardLink(),)

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
        self.created_by = created_by
        self.moengage_conn_id = moengage_conn_id
        from moengage_provider.api.declared import validate_attribute_types

        with refused_at_parse(self):
            self.attribute_types: dict[str, str] = validate_attribute_types(attribute_types)
            if is_literal(event_name):
                validate_event_name(event_name)

    @cached_property
    def hook(self) -> MoEngageHook:
        from moengage_provider.hooks.moengage import MoEngageHook

        return MoEngageHook(moengage_conn_id=self.moengage_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        from moengage_provider.api.versions import LEGACY
        from moengage_provider.exceptions import (
            AirflowFailException,
            MoEngageValidationError,
            invalid_event_fails_the_task,
        )

        MoEngageDashboardLink.persist(context, self.hook)
        with invalid_event_fails_the_task():
            name = validate_event_name(self.event_name)
            creator = validate_triggered_by(self.created_by, field="created_by")
        if creator is None:
            raise MoEngageValidationError("created_by", "is required by MoEngage: the creator's email.")
        if self.hook.api is not LEGACY:
            self.log.info(
                "Creating through MoEngage's legacy API (POST %s), whatever the connection's api_version "
                "(%s): MoEngage has not moved creating business events to V5.",
                LEGACY.create_path,
                self.hook.api.name,
            )
        existing = self.hook.get_business_event(name, api_version=LEGACY.name)
        if existing is not None:
            declared = dict(LEGACY.declared_event(existing).attributes)
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


def _describe(attribute_types: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{name}: {kind}" for name, kind in sorted(attribute_types.items())) + "}"
