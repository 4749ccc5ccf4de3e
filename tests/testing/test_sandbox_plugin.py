"""The pytest plugin (pytest11 entry point) and the import cost of moengage_provider.testing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

from moengage_provider.testing import MoEngageSandbox
from tests.testing.sandbox_helpers import DOC_TRIGGER, TRIGGER

pytest_plugins = ["pytester"]


def test_fixture_points_the_airflow_connection_at_the_sandbox(moengage_sandbox: MoEngageSandbox) -> None:
    assert moengage_sandbox.running
    conn = json.loads(os.environ["AIRFLOW_CONN_MOENGAGE_DEFAULT"])
    assert conn == {
        "conn_type": "moengage",
        "host": "127.0.0.1",
        "port": moengage_sandbox.port,
        "schema": "http",
        "login": "sandbox-workspace",
        "password": moengage_sandbox.api_key,
    }
    url = f"{conn['schema']}://{conn['host']}:{conn['port']}"
    response = requests.post(
        url + TRIGGER, json=DOC_TRIGGER, auth=(conn["login"], conn["password"]), timeout=5
    )
    assert response.status_code == 200
    assert moengage_sandbox.triggers[0]["event_name"] == "NewSeriesAlert"
    assert moengage_sandbox.permissive is True


@pytest.mark.moengage_sandbox(
    permissive=False,
    hourly_limit=1,
    events={"PriceDrop": {"attributes": {"sku": "string"}, "active_campaign": True}},
)
def test_marker_overrides_the_sandbox_arguments(moengage_sandbox: MoEngageSandbox) -> None:
    assert moengage_sandbox.permissive is False and moengage_sandbox.hourly_limit == 1
    auth = ("sandbox-workspace", moengage_sandbox.api_key)
    url = moengage_sandbox.url + TRIGGER
    body = {"event_name": "PriceDrop", "event_attributes": {"sku": "A1"}}
    assert requests.post(url, json=body, auth=auth, timeout=5).status_code == 200
    assert requests.post(url, json=body, auth=auth, timeout=5).status_code == 429


def test_plugin_in_a_fresh_pytest_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os
        import pytest
        import requests

        seen = {}

        def test_uses_the_fixture(moengage_sandbox):
            seen["sb"] = moengage_sandbox
            seen["env"] = os.environ["AIRFLOW_CONN_MOENGAGE_DEFAULT"]
            moengage_sandbox.fail_next(503)
            r = requests.post(moengage_sandbox.url + "/v1.0/business_event/trigger", json={},
                              auth=("sandbox-workspace", moengage_sandbox.api_key), timeout=5)
            assert r.status_code == 503

        @pytest.mark.moengage_sandbox(workspace_id="mine", daily_limit=3)
        def test_marker(moengage_sandbox):
            assert moengage_sandbox.workspace_id == "mine"
            assert moengage_sandbox.daily_limit == 3

        def test_after():
            assert not seen["sb"].running  # stopped after its test
            assert os.environ.get("AIRFLOW_CONN_MOENGAGE_DEFAULT") != seen["env"]  # env restored
        """
    )
    # Loaded through its pytest11 entry point, by entry-point name.
    result = pytester.runpytest_inprocess("-p", "moengage_sandbox", "--strict-markers")
    result.assert_outcomes(passed=3)


def test_the_plugin_and_the_package_do_not_import_airflow() -> None:
    code = (
        "import sys, moengage_provider.testing.pytest_plugin, moengage_provider.testing as t;"
        "assert t.MoEngageSandbox;"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'));"
        "assert not bad, bad;"
        "print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
