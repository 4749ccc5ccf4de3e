from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from moengage_provider.testing import MoEngageSandbox
from tests.testing.sandbox_helpers import API_KEY, SERIES_EVENTS, WORKSPACE


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., MoEngageSandbox]]:
    """Start sandboxes with the test credentials; all are stopped after the test."""
    started: list[MoEngageSandbox] = []

    def make(**kwargs: Any) -> MoEngageSandbox:
        kwargs.setdefault("workspace_id", WORKSPACE)
        kwargs.setdefault("api_key", API_KEY)
        sandbox = MoEngageSandbox(**kwargs).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., MoEngageSandbox]) -> MoEngageSandbox:
    """A strict sandbox with the documented example events declared."""
    return make_sandbox(events=SERIES_EVENTS, permissive=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: schemathesis against the published OpenAPI file")
    config.addinivalue_line("markers", "fuzz: hypothesis over raw HTTP requests to the sandbox")
