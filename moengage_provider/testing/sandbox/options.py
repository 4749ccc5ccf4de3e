"""Checks of the sandbox's options and event specs, shared by the constructor, the control API,
config files and the CLI, so each gives the same message for the same mistake."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

#: The keys of one event spec (``events={name: spec}``) and their meaning.
EVENT_SPEC_KEYS = {
    "attributes": "name -> type, or the create API's list of {attribute_name, attribute_data_type}",
    "active_campaign": "whether a campaign uses it (default true); false: triggers get the documented 400",
    "flow": "a Business-Trigger flow uses it: its triggers also count toward the 3/hour, 10/day flow limits",
    "campaigns": "the campaigns that use it: ids, or {id, quota} (quota: triggers it still takes)",
    "flows": "the Business-Trigger flows that use it: ids, or {id, quota}",
}
_NON_NEGATIVE = ("event_limit", "counter_lag_seconds")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_options(options: Mapping[str, Any]) -> None:
    """Checks of the plain options (the rate-limit windows check their own: see ``ratelimits``)."""
    for name in _NON_NEGATIVE:
        if options[name] < 0:
            raise ValueError(f"{name} must be >= 0")


def event_specs(specs: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(name, declare_event keywords)`` for each spec; a clear error for a malformed one."""
    for name, spec in specs.items():
        if not isinstance(spec, Mapping):
            raise ValueError(f"event {name!r}: expected a mapping with keys {sorted(EVENT_SPEC_KEYS)}")
        unknown = set(spec) - set(EVENT_SPEC_KEYS)
        if unknown:
            raise ValueError(
                f"event {name!r}: unknown keys {sorted(unknown)}; known: {sorted(EVENT_SPEC_KEYS)}"
            )
        yield (
            name,
            {
                "attributes": spec.get("attributes") or {},
                "active_campaign": bool(spec.get("active_campaign", True)),
                "flow": bool(spec.get("flow", False)),
                "campaigns": spec.get("campaigns"),
                "flows": spec.get("flows"),
            },
        )
