"""The provider as Airflow sees it: entry point, provider info, connection form, CLI listings."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points, version
from pathlib import Path

import jsonschema

import moengage_provider
from tests.conftest import REPO, airflow_env


def test_entry_point_gives_provider_info_named_like_the_distribution():
    (ep,) = [
        e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("moengage_provider")
    ]
    info = ep.load()()
    assert info["package-name"] == "airflow-provider-moengage"
    assert info["versions"][0] == version("airflow-provider-moengage") == moengage_provider.__version__


def test_provider_info_passes_airflows_schema():
    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(moengage_provider.get_provider_info(), schema)


def test_connection_form_labels_and_hidden_fields():
    (conn_type,) = moengage_provider.get_provider_info()["connection-types"]
    assert conn_type["connection-type"] == "moengage"
    behaviour = conn_type["ui-field-behaviour"]
    assert behaviour["relabeling"]["login"] == "Workspace ID"
    assert behaviour["relabeling"]["password"] == "API Key"
    assert {"schema", "port", "extra"} <= set(behaviour["hidden-fields"])
    data_center = conn_type["conn-fields"]["data_center"]
    assert data_center["label"] == "Data center"
    assert data_center["schema"]["enum"] == ["DC-01", "DC-02", "DC-03", "DC-04", "DC-05", "DC-06", "DC-101"]


def test_hook_class_attributes_match_the_provider_info():
    from moengage_provider.hooks.moengage import MoEngageHook

    assert MoEngageHook.conn_name_attr == "moengage_conn_id"
    assert MoEngageHook.default_conn_name == "moengage_default"
    assert MoEngageHook.conn_type == "moengage"
    assert MoEngageHook.hook_name == "MoEngage"


def _airflow(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=airflow_env(),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_airflow_providers_list_and_hooks_show_us(airflow_db):
    providers = json.loads(_airflow("providers", "list", "--output", "json"))
    ours = [p for p in providers if p["package_name"] == "airflow-provider-moengage"]
    assert ours and ours[0]["version"] == moengage_provider.__version__
    hooks = json.loads(_airflow("providers", "hooks", "--output", "json"))
    moengage = [h for h in hooks if h.get("connection_type") == "moengage"]
    assert moengage and moengage[0]["class"] == "moengage_provider.hooks.moengage.MoEngageHook"


def test_py_typed_is_shipped():
    assert (Path(moengage_provider.__file__).parent / "py.typed").exists()
