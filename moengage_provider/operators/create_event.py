"""
CreateBusinessEventOperator: declare a MoEngage business event and its typed attributes, once.

Also importable from ``moengage_provider.operators.business_event`` (README). Cheap to import: the
hook loads only when the task runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from moengage_provider.api.payload import (
    InvalidBusinessEventError,
    check_against_declared,
    validate_attribute_types,
    validate_event_name,
    validate_triggered_by,
)
from moengage_provider.exceptions import AirflowFailException, MoEngageValidationError
from moengage_provider.operators.links import MoEngageDashboardLink
from moengage_provider.operators.templating import PlainStringsStayPlain, is_literal

if TYPE_CHECKING:
    from airflow.sdk import Context

    from moengage_provider.hooks.moengage import MoEngageHook


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
        self.created_by = created_by
        self.moengage_conn_id = moengage_conn_id
        try:
            self.attribute_types = validate_attribute_types(attribute_types)
            if is_literal(event_name):
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


def check_declared(hook: MoEngageHook, body: Mapping[str, Any]) -> None:
    """``check_declared_attributes``: compare with the event as declared in MoEngage; nothing is sent if
    they disagree (TriggerBusinessEventOperator calls this before sending)."""
    event = hook.get_business_event(body["event_name"])
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


def _describe(attribute_types: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{name}: {kind}" for name, kind in sorted(attribute_types.items())) + "}"
