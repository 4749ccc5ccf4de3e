"""Test helpers for the MoEngage provider: a local MoEngage Business Events API (the sandbox).

``from moengage_provider.testing import MoEngageSandbox``. Importing this package is cheap: the
sandbox module (standard library only, no Airflow) is loaded on first attribute access, which also
keeps ``python -m moengage_provider.testing.sandbox`` free of runpy's double-import warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moengage_provider.testing.sandbox import (
        MoEngageSandbox,
        RejectedRecord,
        RequestRecord,
        TriggerRecord,
        load_config,
    )

__all__ = ["MoEngageSandbox", "RejectedRecord", "RequestRecord", "TriggerRecord", "load_config"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from moengage_provider.testing import sandbox

        return getattr(sandbox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
