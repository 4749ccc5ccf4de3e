"""The sandbox's behaviour options (everything but where it listens and who may call it), in one
object that the constructor, config files, the CLI and the request handlers all read.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moengage_provider.testing.sandbox.options import check_options
from moengage_provider.testing.sandbox.protocol import DEFAULT_MAX_BODY_BYTES


@dataclass
class Settings:
    """What the sandbox answers and how strictly; see the constructor of ``MoEngageSandbox``."""

    permissive: bool = True
    hourly_limit: int = 50
    daily_limit: int = 200
    hour_seconds: float = 3600.0
    day_seconds: float = 86400.0
    retry_after: bool = False
    record_file: Path | None = None
    search_limit_per_minute: int = 100
    minute_seconds: float = 60.0
    event_limit: int = 50
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    flow_hourly_limit: int = 3
    flow_daily_limit: int = 10
    all_flows: bool = False
    counter_lag_seconds: float = 0.0

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Settings:
        """Settings from keyword options (unknown names are ignored: the caller takes its own)."""
        values = {f.name: options[f.name] for f in dataclasses.fields(cls) if f.name in options}
        settings = cls(**values)
        check_options(dataclasses.asdict(settings))
        settings.normalize()
        return settings

    def normalize(self) -> None:
        """Coerce every value to its declared type (a config file may give ``"3"`` or ``3600``)."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "record_file":
                setattr(self, f.name, Path(os.fspath(value)) if value is not None else None)
            elif f.type in ("bool", bool):
                setattr(self, f.name, bool(value))
            elif f.type in ("int", int):
                setattr(self, f.name, int(value))
            elif f.type in ("float", float):
                setattr(self, f.name, float(value))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))
