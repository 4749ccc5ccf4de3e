"""
Core scenarios on a real LocalExecutor deployment (api-server, scheduler, dag-processor, triggerer as
processes; SQLite), counting what MoEngage (the sandbox) received. The scenarios run side by side
(each with its own sandbox); the tests below read what each one ended with.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.deployment import scenarios


@pytest.fixture(scope="module")
def core(local_results: dict[str, Any]) -> dict[str, Any]:
    return local_results


@pytest.mark.parametrize(("mode", "where"), list(scenarios.KILL_EXPECTED))
def test_worker_killed_mid_request(core, mode: str, where: str) -> None:
    """SIGKILL while the request is in flight: the final count is what if_outcome_unknown promises."""
    scenarios.assert_kill_outcome(core, mode, where)


def test_rate_limit_defers_through_a_restarted_triggerer(core) -> None:
    """A 429 defers: no worker held; the triggerer restarted mid-wait; the task resumes, delivers once."""
    scenarios.assert_deferral(core)


def test_clears_through_the_rest_api_send_nothing_twice(core) -> None:
    scenarios.assert_clears(core)
