"""Sandbox config files (JSON; YAML when PyYAML is installed) -> ``MoEngageSandbox`` keyword arguments."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from moengage_provider.testing.sandbox.events import attached
from moengage_provider.testing.sandbox.options import event_specs
from moengage_provider.testing.sandbox.validation import normalize_attributes

CONFIG_KEYS = {
    "events",
    "permissive",
    "hourly_limit",
    "daily_limit",
    "hour_seconds",
    "day_seconds",
    "retry_after",
    "record_file",
    "search_limit_per_minute",
    "minute_seconds",
    "event_limit",
    "workspace_id",
    "flow_hourly_limit",
    "flow_daily_limit",
    "all_flows",
    "counter_lag_seconds",
    "five_minute_limit",
    "five_minute_seconds",
    "rate_limits",
    "rate_limit_headers",
    "business_events_scope",
}


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a sandbox config file (JSON; YAML too when PyYAML is installed) into constructor kwargs.

    Format: ``{"events": {"NewSeriesAlert": {"attributes": {"season": "string"}, "active_campaign": true}},
    "permissive": false, "hourly_limit": 50, ...}``. The API key is never read from a file.
    """
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    data: Any
    if file.suffix.lower() in (".yaml", ".yml"):
        data = _load_yaml(text, file)
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            if file.suffix.lower() == ".json":
                raise ValueError(f"{file}: not valid JSON: {exc}") from None
            data = _load_yaml(text, file)
    if not isinstance(data, dict):
        raise ValueError(f"{file}: the config must be a mapping")
    unknown = set(data) - CONFIG_KEYS
    if unknown:
        raise ValueError(f"{file}: unknown config keys {sorted(unknown)}; known: {sorted(CONFIG_KEYS)}")
    events = data.get("events")
    if events is not None:
        if not isinstance(events, dict):
            raise ValueError(f"{file}: 'events' must be a mapping of event name -> spec")
        try:
            for name, spec in event_specs(events):
                normalize_attributes(spec["attributes"], name)
                attached(name, spec["active_campaign"], spec["flow"], spec["campaigns"], spec["flows"])
        except ValueError as exc:
            raise ValueError(f"{file}: {exc}") from None
    return dict(data)


def _load_yaml(text: str, file: Path) -> Any:
    try:
        import yaml
    except ImportError:
        raise ValueError(f"{file}: YAML config needs PyYAML (pip install pyyaml); or use JSON") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{file}: not valid YAML: {exc}") from None
