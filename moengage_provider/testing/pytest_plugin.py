"""pytest plugin: the ``moengage_sandbox`` fixture (a local MoEngage Business Events API).

Registered through the ``pytest11`` entry point, so it is loaded in every pytest run of anyone who
installs the provider: it imports nothing heavy (no Airflow) until a test asks for the fixture.

Usage::

    def test_my_dag(moengage_sandbox):
        ...  # AIRFLOW_CONN_MOENGAGE_DEFAULT points at the sandbox
        assert moengage_sandbox.triggers[0]["event_name"] == "NewSeriesAlert"

    @pytest.mark.moengage_sandbox(permissive=False, events={"E": {"attributes": {"a": "string"}}})
    def test_strict(moengage_sandbox): ...
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from moengage_provider.testing.sandbox import MoEngageSandbox

DEFAULT_WORKSPACE_ID = "sandbox-workspace"
MARKER = "moengage_sandbox"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**kwargs): keyword arguments for the MoEngageSandbox that the moengage_sandbox "
        "fixture starts (events=..., permissive=..., hourly_limit=..., hour_seconds=..., ...).",
    )


@pytest.fixture(scope="session")
def moengage_sandbox_api_key() -> str:
    """A random API key, one per test session (override this fixture to choose your own)."""
    return "sbx-" + secrets.token_urlsafe(24)


@pytest.fixture
def moengage_sandbox_conn_id() -> str:
    """The Airflow connection id pointed at the sandbox (override to use another one)."""
    return "moengage_default"


@pytest.fixture
def moengage_sandbox(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    moengage_sandbox_api_key: str,
    moengage_sandbox_conn_id: str,
) -> Iterator[MoEngageSandbox]:
    """A running MoEngageSandbox on a free 127.0.0.1 port; AIRFLOW_CONN_<CONN_ID> points at it."""
    from moengage_provider.testing.sandbox import MoEngageSandbox

    kwargs: dict[str, Any] = {
        "workspace_id": DEFAULT_WORKSPACE_ID,
        "api_key": moengage_sandbox_api_key,
        "permissive": True,
    }
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(f"@pytest.mark.{MARKER} takes keyword arguments only")
        kwargs.update(marker.kwargs)
    sandbox = MoEngageSandbox(**kwargs)
    sandbox.start()
    try:
        monkeypatch.setenv(f"AIRFLOW_CONN_{moengage_sandbox_conn_id.upper()}", sandbox.airflow_conn_json())
        yield sandbox
    finally:
        sandbox.stop()
