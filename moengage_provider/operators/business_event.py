"""
TriggerBusinessEventOperator: fire a MoEngage business event from a DAG.

Kept cheap to import (DAG files import it on every parse): the hook, ``requests`` and the HTTP
provider load only when the task runs.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from moengage_provider.exceptions import MoEngageValidationError
from moengage_provider.payload import (
    InvalidBusinessEventError,
    build_trigger_payload,
    normalize_event_attributes,
    validate_event_name,
    validate_triggered_by,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from moengage_provider.hooks.moengage import MoEngageHook


class TriggerBusinessEventOperator(BaseOperator):
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
    """

    template_fields: Sequence[str] = ("event_name", "event_attributes", "triggered_by")
    template_fields_renderers: ClassVar[dict[str, str]] = {"event_attributes": "json"}
    ui_color = "#e9f1ff"

    def __init__(
        self,
        *,
        event_name: str,
        event_attributes: Mapping[str, Any] | str | Any,
        triggered_by: str | None = None,
        moengage_conn_id: str = "moengage_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.event_name = event_name
        self.event_attributes = event_attributes
        self.triggered_by = triggered_by
        self.moengage_conn_id = moengage_conn_id
        self._reject_bad_literals()

    @cached_property
    def hook(self) -> MoEngageHook:
        from moengage_provider.hooks.moengage import MoEngageHook

        return MoEngageHook(moengage_conn_id=self.moengage_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        body = self.build_payload()
        answer = self.hook.trigger_business_event(
            body["event_name"], body["event_attributes"], body.get("triggered_by")
        )
        return {
            "event_name": body["event_name"],
            "message": answer.get("message"),
            "sent_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        }

    def build_payload(self) -> dict[str, Any]:
        """The request body from the rendered fields; a bad value fails the task with nothing sent."""
        try:
            return build_trigger_payload(
                self.event_name, _attributes_from_rendered(self.event_attributes), self.triggered_by
            )
        except InvalidBusinessEventError as err:
            raise MoEngageValidationError(err.field, err.problem) from None

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


def _attributes_from_rendered(value: Any) -> Any:
    """A rendered ``event_attributes``: text must hold a JSON object (or a dict's Python repr)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        try:
            # A dict XCom rendered by plain Jinja arrives as its Python repr ({'a': 1}).
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise InvalidBusinessEventError(
                "event_attributes",
                f"rendered to {shown!r}, which is not a JSON object. Render a JSON object, pass a dict, "
                "or pass an XComArg (e.g. the output of an upstream @task).",
            ) from None
    if not isinstance(parsed, dict):
        raise InvalidBusinessEventError(
            "event_attributes", f"rendered to a JSON {type(parsed).__name__}, not an object."
        )
    return parsed


def _is_literal(value: Any) -> bool:
    """True when the value holds no template string and no XComArg: it is final at parse time."""
    if isinstance(value, str):
        return "{{" not in value and "{%" not in value
    if isinstance(value, Mapping):
        return all(_is_literal(k) and _is_literal(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_is_literal(item) for item in value)
    return not hasattr(value, "resolve")
