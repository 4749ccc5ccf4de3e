"""
Core scenarios on a real LocalExecutor deployment (api-server, scheduler, dag-processor, triggerer as
processes; SQLite), counting what MoEngage (the sandbox) received.
"""

from __future__ import annotations

import pytest

from tests.deployment import scenarios
from tests.deployment.harness import Deployment


@pytest.fixture(scope="module")
def kills(local_deployment: Deployment) -> dict[tuple[str, str], scenarios.Outcome]:
    local_deployment.wait_for_dags([f"deploy_kill_{m}_{w}" for m, w in scenarios.KILL_EXPECTED])
    return scenarios.kill_matrix(local_deployment)


@pytest.mark.parametrize(("mode", "where"), list(scenarios.KILL_EXPECTED))
def test_worker_killed_mid_request(kills, mode: str, where: str) -> None:
    """SIGKILL while the request is in flight: the final count is what if_outcome_unknown promises."""
    result = kills[(mode, where)]
    delivered, state = scenarios.KILL_EXPECTED[(mode, where)]
    assert (result.delivered, result.state) == (delivered, state), result.describe()
    assert result.tries == 2, result.describe()
    assert "may have delivered" in result.logs[2] or "may have" in result.logs[2], result.describe()
