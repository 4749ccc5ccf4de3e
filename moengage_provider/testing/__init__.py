"""Test helpers for the MoEngage provider: a local MoEngage Business Events API (the sandbox).

``from moengage_provider.testing import MoEngageSandbox``. Importing this package is cheap: the
sandbox package (standard library only, no Airflow) is loaded on first attribute access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moengage_provider.testing.dag_runs import DagRunFailed, NotDelivered
    from moengage_provider.testing.sandbox import (
        MoEngageSandbox,
        RejectedRecord,
        RequestRecord,
        SandboxConnection,
        SandboxStartError,
        SpawnedSandbox,
        TriggerRecord,
        load_config,
    )

__all__ = [
    "DagRunFailed",
    "MoEngageSandbox",
    "NotDelivered",
    "RejectedRecord",
    "RequestRecord",
    "SandboxConnection",
    "SandboxStartError",
    "SpawnedSandbox",
    "TriggerRecord",
    "load_config",
]
_FROM_DAG_RUNS = ("DagRunFailed", "NotDelivered")


def __getattr__(name: str) -> Any:
    if name in _FROM_DAG_RUNS:
        from moengage_provider.testing import dag_runs

        return getattr(dag_runs, name)
    if name in __all__:
        from moengage_provider.testing import sandbox

        return getattr(sandbox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
