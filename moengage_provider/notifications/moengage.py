"""
MoEngageBusinessEventNotifier: fire a business event from a task's or DAG's callback.

For "tell customers when the pipeline finished" without a task of its own:
``on_success_callback=send_moengage_business_event(event_name=..., event_attributes=...)``.
Same validation, errors and log line as the operator; no rerun de-duplication (callbacks have no
task state store), so prefer the operator where a duplicate would matter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseNotifier

from moengage_provider.api.payload import PreparedTrigger, attributes_from_rendered
from moengage_provider.operators.templating import PlainStringsStayPlain

if TYPE_CHECKING:
    from airflow.sdk import Context

    from moengage_provider.delivery.idempotency import IdempotencyGate
    from moengage_provider.hooks.moengage import MoEngageHook


class MoEngageBusinessEventNotifier(PlainStringsStayPlain, BaseNotifier):
    """
    Fire a MoEngage business event when a callback runs.

    :param event_name: Name of the business event, as created in MoEngage. Templated.
    :param event_attributes: Attribute name -> value (dict with templated values, or a template string
        rendering to a JSON object). Templated.
    :param triggered_by: Email shown in MoEngage as who fired the event. Templated.
    :param moengage_conn_id: Airflow connection of type ``moengage``.
    :param idempotency_key: Announce once per business fact (Airflow 3.3+): as on the operator, but the
        task must list ``business_event_asset(event_name)`` (``moengage_provider.delivery.idempotency``)
        among its outlets, where the deliveries are recorded. A repeat is logged and not sent. Templated.
    """

    template_fields: Sequence[str] = (
        "event_name",
        "event_attributes",
        "triggered_by",
        "moengage_conn_id",
        "idempotency_key",
    )

    def __init__(
        self,
        *,
        event_name: str,
        event_attributes: Mapping[str, Any] | str,
        triggered_by: str | None = None,
        moengage_conn_id: str = "moengage_default",
        idempotency_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.idempotency_key = idempotency_key
        self.event_name = event_name
        self.event_attributes = event_attributes
        self.triggered_by = triggered_by
        self.moengage_conn_id = moengage_conn_id

    def get_template_env(self, dag: Any = None) -> Any:
        # Airflow 3.3.2 hands DAG-level callbacks run by dag.test() a SerializedDAG, which has no
        # template environment; render with the default sandboxed one instead of failing the callback.
        if dag is not None and not hasattr(dag, "get_template_env"):
            dag = None
        return super().get_template_env(dag=dag)

    @cached_property
    def hook(self) -> MoEngageHook:
        from moengage_provider.hooks.moengage import MoEngageHook

        return MoEngageHook(moengage_conn_id=self.moengage_conn_id)

    def notify(self, context: Context) -> None:
        from moengage_provider.exceptions import invalid_event_fails_the_task

        with invalid_event_fails_the_task():
            prepared = self.hook.prepare_trigger(
                self.event_name, attributes_from_rendered(self.event_attributes), self.triggered_by
            )
        once = self._idempotency_gate(context, prepared)
        if once is not None and self._announced_before(once):
            return
        from moengage_provider.observability import metrics
        from moengage_provider.observability.lineage import report_hook_lineage

        # Metrics for the request; the event as the lineage output of the task this callback is on.
        call = metrics.TriggerCall()
        try:
            with metrics.trigger_request(
                prepared.event_name, self.hook.settings.data_center, self.hook
            ) as call:
                self.hook.send_prepared_trigger(prepared)
        finally:
            report_hook_lineage(self.hook, prepared.body, call.outcome)
        if once is not None:
            once.record()

    def _idempotency_gate(self, context: Context, prepared: PreparedTrigger) -> IdempotencyGate | None:
        if self.idempotency_key is None:
            return None
        from moengage_provider.delivery.idempotency import DeliveryHistory, IdempotencyGate
        from moengage_provider.delivery.record import TaskInstanceRef, payload_fingerprint

        settings = self.hook.settings
        fingerprint = payload_fingerprint(
            prepared.data, workspace_id=settings.workspace_id, base_url=settings.base_url
        )
        return IdempotencyGate(
            DeliveryHistory.of_event(context, prepared.event_name),
            self.idempotency_key,
            prepared.event_name,
            fingerprint,
            TaskInstanceRef.of(context.get("ti")),
            self.log,
        )

    def _announced_before(self, once: IdempotencyGate) -> bool:
        """The same announcement under the key by any earlier task instance: logged and counted, not sent."""
        from moengage_provider.delivery.idempotency import skip_exception
        from moengage_provider.observability import metrics

        try:
            once.check()
        except skip_exception() as skip:
            self.log.info("%s", skip)
            metrics.deduplicated(once.event_name, self.hook.settings.data_center, "idempotency_key")
            return True
        return False

    async def async_notify(self, context: Context) -> None:
        await asyncio.to_thread(self.notify, context)


send_moengage_business_event = MoEngageBusinessEventNotifier
