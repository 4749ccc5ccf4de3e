"""What the provider does per Airflow version: the degradation table, the pre-3.3 store, the pre-3.2 form."""

from __future__ import annotations

import importlib.util
import logging

import pytest

import moengage_provider
from moengage_provider.delivery.stores import VARIABLE_PREFIX, VariableStateStore, state_store_for
from moengage_provider.hooks import connection_form, version_compat
from tests.conftest import AIRFLOW_3_2_PLUS, AIRFLOW_3_3_PLUS, AIRFLOW_3_PLUS, AIRFLOW_VERSION


def test_the_running_airflow_is_the_one_the_tests_see():
    assert ".".join(map(str, version_compat.AIRFLOW_VERSION)) == AIRFLOW_VERSION
    assert version_compat.has("task_state_store") is AIRFLOW_3_3_PLUS
    assert version_compat.has("retry_policy") is AIRFLOW_3_3_PLUS
    assert version_compat.has("conn_fields") is AIRFLOW_3_2_PLUS


def test_a_missing_mechanism_is_logged_once_with_what_happens_instead(caplog, monkeypatch):
    monkeypatch.setattr(version_compat, "_warned", set())
    log = logging.getLogger("test_version_compat")
    with caplog.at_level(logging.WARNING, logger="test_version_compat"):
        version_compat.warn_degraded_once("task_state_store", log)
        version_compat.warn_degraded_once("task_state_store", log)
    messages = [r.getMessage() for r in caplog.records]
    if AIRFLOW_3_3_PLUS:
        assert messages == []
    else:
        assert len(messages) == 1
        assert "has no task state store (added in 3.3)" in messages[0]
        assert "Airflow Variable" in messages[0]


def test_variable_keys_name_one_task_instance_and_fit_airflows_key_column():
    long_id = "d" * 250
    store = VariableStateStore(long_id, "t" * 250, "r" * 250, 3)
    key = store.variable_key("moengage_business_event_delivery")
    assert key.startswith(VARIABLE_PREFIX) and len(key) <= 250
    assert key == VariableStateStore(long_id, "t" * 250, "r" * 250, 3).variable_key(
        "moengage_business_event_delivery"
    )
    others = {
        VariableStateStore(long_id, "t" * 250, "r" * 250, 4).variable_key("moengage_business_event_delivery"),
        VariableStateStore(long_id, "t" * 250, "other-run", 3).variable_key(
            "moengage_business_event_delivery"
        ),
        store.variable_key("another_key"),
    }
    assert key not in others and len(others) == 3


def test_the_task_state_store_wins_where_airflow_has_one():
    sentinel = object()
    assert state_store_for({"task_state_store": sentinel}) is sentinel


def test_ui_field_behaviour_is_provider_infos_in_the_hooks_spelling():
    (conn_type,) = moengage_provider.get_provider_info()["connection-types"]
    behaviour = connection_form.ui_field_behaviour()
    assert behaviour["hidden_fields"] == conn_type["ui-field-behaviour"]["hidden-fields"]
    assert behaviour["relabeling"]["login"] == "Workspace ID"


@pytest.mark.skipif(
    importlib.util.find_spec("wtforms") is None or importlib.util.find_spec("flask_appbuilder") is None,
    reason="WTForms / Flask-AppBuilder are not installed (Airflow 2's UI, or the FAB provider)",
)
def test_the_hook_form_has_one_field_per_conn_field_and_the_data_center_list():
    from moengage_provider.hooks.moengage import MoEngageHook

    (conn_type,) = moengage_provider.get_provider_info()["connection-types"]
    widgets = MoEngageHook.get_connection_form_widgets()
    assert set(widgets) == set(conn_type["conn-fields"])
    validators = widgets["data_center"].kwargs["validators"]
    if AIRFLOW_3_PLUS:  # 3.0/3.1's UI turns an any_of validator into a dropdown of these values
        (any_of,) = [v for v in validators if hasattr(v, "values")]
        assert list(any_of.values) == conn_type["conn-fields"]["data_center"]["schema"]["enum"]
    else:  # Airflow 2's form is free text: what the hook accepts, refused with the hook's message
        from werkzeug.datastructures import MultiDict
        from wtforms import Form

        form_class = type("MoEngageForm", (Form,), {"data_center": widgets["data_center"]})
        for typed in ("02", "DC-02", "https://dashboard-02.moengage.com/v4/"):
            assert form_class(MultiDict({"data_center": typed})).validate(), typed
        refused = form_class(MultiDict({"data_center": "07"}))
        assert not refused.validate()
        assert "DC-01 (US)" in str(refused.errors["data_center"])  # the valid ones, named


@pytest.mark.skipif(
    importlib.util.find_spec("wtforms") is None or importlib.util.find_spec("flask_appbuilder") is None,
    reason="WTForms / Flask-AppBuilder are not installed (Airflow 2's UI, or the FAB provider)",
)
def test_the_hook_form_offers_the_api_version_the_hook_reads():
    from moengage_provider.hooks.moengage import MoEngageHook

    (conn_type,) = moengage_provider.get_provider_info()["connection-types"]
    field = MoEngageHook.get_connection_form_widgets()["api_version"]
    assert field.kwargs["default"] == "api-v1.0"
    if AIRFLOW_3_PLUS:  # a dropdown of what provider info lists
        (any_of,) = [v for v in field.kwargs["validators"] if hasattr(v, "values")]
        assert list(any_of.values) == conn_type["conn-fields"]["api_version"]["schema"]["enum"]
    else:  # free text: the forms users type, the hook's message for the others
        from werkzeug.datastructures import MultiDict
        from wtforms import Form

        form_class = type("MoEngageForm", (Form,), {"api_version": field})
        for typed in ("v5", "V5", "5", "api-v5", "v1.0"):
            assert form_class(MultiDict({"api_version": typed})).validate(), typed
        refused = form_class(MultiDict({"api_version": "v4"}))
        assert not refused.validate() and "'v5'" in str(refused.errors["api_version"])
