"""pytest plugin: the ``moengage_sandbox`` fixture (a local MoEngage Business Events API).

Registered through the ``pytest11`` entry point, so it is loaded in every pytest run of anyone who
installs the provider: it imports nothing heavy (no Airflow) until a test asks for the fixture.

Usage::

    def test_my_dag(moengage_sandbox):
        moengage_sandbox.run_dag(dag)                 # fails with the task's error + the rejections
        moengage_sandbox.assert_delivered("NewSeriesAlert", season="Season 1")

    @pytest.mark.moengage_sandbox(permissive=False, events={"E": {"attributes": {"a": "string"}}})
    def test_strict(moengage_sandbox): ...

    @pytest.mark.moengage_sandbox(api_version="v5")  # the connection's extra api_version
    def test_v5(moengage_sandbox): ...

Requests to the sandbox bypass any proxy from the environment (NO_PROXY gets its host, for the
test), and ``run_dag`` runs retries at once (``retry_delay_cap``), so a failing DAG fails the test
quickly. Airflow state is isolated: tests using the fixture run on an Airflow home of the session's own
(migrated SQLite), unless ``moengage_sandbox_airflow_home = keep`` (ini) or the environment variable
``MOENGAGE_SANDBOX_AIRFLOW_HOME=keep`` says to use the one already configured.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from moengage_provider.testing.airflow_home import IsolatedAirflowHome
    from moengage_provider.testing.sandbox import MoEngageSandbox

DEFAULT_WORKSPACE_ID = "sandbox-workspace"
MARKER = "moengage_sandbox"
HOME_OPTION = "moengage_sandbox_airflow_home"
HOME_ENV = "MOENGAGE_SANDBOX_AIRFLOW_HOME"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        HOME_OPTION,
        "isolate (default): tests using the moengage_sandbox fixture run on an Airflow home and SQLite DB "
        "of the session's own; keep: on the Airflow home already configured",
        default="isolate",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**kwargs): keyword arguments for the MoEngageSandbox that the moengage_sandbox "
        "fixture starts (events=..., permissive=..., hourly_limit=..., hour_seconds=..., ...); "
        "api_version=... sets the connection's extra api_version (e.g. 'v5').",
    )


@pytest.fixture(scope="session")
def moengage_sandbox_api_key() -> str:
    """A random API key, one per test session (override this fixture to choose your own)."""
    return "sbx-" + secrets.token_urlsafe(24)


@pytest.fixture
def moengage_sandbox_conn_id() -> str:
    """The Airflow connection id pointed at the sandbox (override to use another one)."""
    return "moengage_default"


@pytest.fixture(scope="session")
def moengage_sandbox_airflow_home(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> IsolatedAirflowHome | None:
    """The session's own Airflow home (migrated on first use), or None when told to keep yours."""
    mode = (os.environ.get(HOME_ENV) or str(request.config.getini(HOME_OPTION)) or "isolate").strip().lower()
    if mode not in ("isolate", "keep"):
        raise pytest.UsageError(f"{HOME_OPTION} / {HOME_ENV} must be 'isolate' or 'keep', not {mode!r}")
    if mode == "keep":
        return None
    from moengage_provider.testing.airflow_home import IsolatedAirflowHome

    return IsolatedAirflowHome(tmp_path_factory.mktemp("moengage-airflow-home"))


@pytest.fixture
def moengage_sandbox(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    moengage_sandbox_api_key: str,
    moengage_sandbox_conn_id: str,
    moengage_sandbox_airflow_home: IsolatedAirflowHome | None,
) -> Iterator[MoEngageSandbox]:
    """A running MoEngageSandbox on a free 127.0.0.1 port; AIRFLOW_CONN_<CONN_ID> points at it, and
    NO_PROXY names its host, so a proxy set in the environment never gets its requests."""
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
    api_version = kwargs.pop("api_version", None)
    with ExitStack() as stack:
        if moengage_sandbox_airflow_home is not None:
            stack.enter_context(moengage_sandbox_airflow_home.active())
        sandbox = stack.enter_context(MoEngageSandbox(**kwargs))
        connection = sandbox.airflow_connection(api_version=api_version)
        for name, value in connection.env(moengage_sandbox_conn_id).items():
            monkeypatch.setenv(name, value)
        yield sandbox
