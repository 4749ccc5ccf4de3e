"""
The MoEngage connection form on Airflow before 3.2, built from the same provider info 3.2+ reads.

Airflow 3.2+ builds the form from ``conn-fields`` / ``ui-field-behaviour`` in provider info and never
calls the hook. Older Airflow asks the hook: ``get_connection_form_widgets`` (WTForms fields; 2.x's
Flask AppBuilder form renders them, 3.0/3.1's UI converts them to its JSON form, a field with an
``any_of`` validator becoming a dropdown) and ``get_ui_field_behaviour``. Both are derived here from
:func:`moengage_provider.get_provider_info`, so the two forms cannot drift apart. Imported only when
a form is built (WTForms and Flask-Babel are UI dependencies).
"""

from __future__ import annotations

from typing import Any


def _connection_type() -> dict[str, Any]:
    from moengage_provider import get_provider_info

    (conn,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "moengage"]
    return conn


def ui_field_behaviour() -> dict[str, Any]:
    """Provider info's ``ui-field-behaviour`` in the hook method's spelling (``hidden_fields``)."""
    behaviour = _connection_type().get("ui-field-behaviour", {})
    return {key.replace("-", "_"): value for key, value in behaviour.items()}


def connection_form_widgets() -> dict[str, Any]:
    """One optional text field per ``conn-fields`` entry; an ``enum`` restricts it to those values."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import StringField
    from wtforms.validators import Optional, any_of

    from moengage_provider.hooks.version_compat import AIRFLOW_V_3_0_PLUS

    widgets: dict[str, Any] = {}
    for name, spec in _connection_type().get("conn-fields", {}).items():
        schema = spec.get("schema", {})
        description = spec.get("description", "")
        validators: list[Any] = [Optional()]
        if "enum" in schema:
            description = f"{description} One of: {', '.join(schema['enum'])}."
            # 3.0/3.1 turn any_of into a dropdown of these values; Airflow 2's form is free text, so
            # there a field accepts what the hook accepts (01, DC-01, a dashboard URL; v5, 5).
            free_text = _FREE_TEXT_CHECKS.get(name) if not AIRFLOW_V_3_0_PLUS else None
            validators.append(free_text or any_of(schema["enum"]))
        default = schema.get("default")
        widgets[name] = StringField(
            lazy_gettext(spec.get("label", name)),
            validators=validators,
            description=description,
            default=None if default is None else str(default),
            widget=BS3TextFieldWidget(),
        )
    return widgets


def _api_version_validator(form: Any, field: Any) -> None:
    """Refuse an API version the hook would refuse, with the hook's own message."""
    from wtforms.validators import ValidationError

    from moengage_provider.api.versions import InvalidApiVersionError, api_version

    if field.data:
        try:
            api_version(field.data)
        except InvalidApiVersionError as err:
            raise ValidationError(str(err)) from None


def _data_center_validator(form: Any, field: Any) -> None:
    """Refuse a data center the hook would refuse, with the hook's own message (it lists the valid ones)."""
    from wtforms.validators import ValidationError

    from moengage_provider.api.data_centers import InvalidDataCenterError, normalize_data_center

    if field.data:
        try:
            normalize_data_center(field.data)
        except InvalidDataCenterError as err:
            raise ValidationError(str(err)) from None


#: Airflow 2's free-text fields, checked as the hook reads them.
_FREE_TEXT_CHECKS = {"data_center": _data_center_validator, "api_version": _api_version_validator}
