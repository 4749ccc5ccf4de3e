"""The sandbox's behaviour options (everything but where it listens and who may call it), in one
object that the constructor, config files, the CLI, the control API and the request handlers read.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moengage_provider.testing.sandbox.options import check_options
from moengage_provider.testing.sandbox.protocol import DEFAULT_MAX_BODY_BYTES
from moengage_provider.testing.sandbox.ratelimits import NAMED_OPTIONS, RateLimits

#: Options that change how rate limits are answered, not the windows themselves.
ANSWER_OPTIONS = ("rate_limit_headers", "retry_after")


@dataclass
class Settings:
    """What the sandbox answers and how strictly; see the constructor of ``MoEngageSandbox``."""

    permissive: bool = True
    retry_after: bool = False
    rate_limit_headers: bool = True
    record_file: Path | None = None
    event_limit: int = 50
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    all_flows: bool = False
    counter_lag_seconds: float = 0.0
    limits: RateLimits = field(default_factory=RateLimits)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Settings:
        """Settings from keyword options (other names are ignored: the caller takes its own)."""
        values = {name: options[name] for name in cls.plain_names() if name in options}
        settings = cls(**values)
        check_options({name: getattr(settings, name) for name in cls.plain_names()})
        settings.normalize()
        named = {name: options.get(name) for name in NAMED_OPTIONS}
        settings.limits = RateLimits.configure(named, options.get("rate_limits"))
        return settings

    @classmethod
    def plain_names(cls) -> tuple[str, ...]:
        """The options that are one value each (the rate-limit windows are ``limits``)."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "limits")

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

    def change_rate_limits(self, changes: Mapping[str, Any]) -> None:
        """Named window options, ``rate_limits`` and the answer options, at run time (control API)."""
        known = {*NAMED_OPTIONS, "rate_limits", *ANSWER_OPTIONS}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown rate-limit settings {sorted(unknown)}; known: {sorted(known)}")
        named = {name: changes[name] for name in NAMED_OPTIONS if name in changes}
        self.limits.update(named, changes.get("rate_limits"))
        for name in ANSWER_OPTIONS:
            if name in changes:
                setattr(self, name, bool(changes[name]))
