"""Rate limits as MoEngage publishes them: one table of windows, their configuration, the counting,
and what the answer says about them (``x-ratelimit-*`` headers, ``Retry-After``).

Every window is fixed, aligned to multiples of its length since the epoch, and counted per
workspace; only accepted requests count. A request of one kind (a trigger, a search, ...) is
counted in every window of that kind and refused when any of them is full. Changing a published
limit is one row of ``PUBLISHED``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: The kinds of request that are counted. A trigger of an event a Business-Trigger flow uses counts
#: as a "trigger" and as a "flow_trigger".
TRIGGER, FLOW_TRIGGER, SEARCH = "trigger", "flow_trigger", "search"
V5_LIST, V5_SEARCH = "v5_list", "v5_search"


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` requests of ``kind`` per window of ``seconds``, per workspace."""

    name: str
    kind: str
    limit: int
    seconds: float


#: MoEngage's published limits: the trigger pages (legacy and V5) for campaigns and Business-Trigger
#: flows, the legacy search page, the V5 list and search pages. A trigger through either API version
#: counts in the same windows.
PUBLISHED: tuple[Limit, ...] = (
    Limit("five_minutes", TRIGGER, 10, 300.0),
    Limit("hour", TRIGGER, 50, 3600.0),
    Limit("day", TRIGGER, 200, 86400.0),
    Limit("flow_hour", FLOW_TRIGGER, 3, 3600.0),
    Limit("flow_day", FLOW_TRIGGER, 10, 86400.0),
    Limit("search", SEARCH, 100, 60.0),
    Limit("v5_list_minute", V5_LIST, 60, 60.0),
    Limit("v5_list_hour", V5_LIST, 1000, 3600.0),
    Limit("v5_search_minute", V5_SEARCH, 30, 60.0),
    Limit("v5_search_hour", V5_SEARCH, 500, 3600.0),
)

#: The named options (constructor keywords, config keys, CLI flags): option -> (windows, field).
#: A length option sets every window of that length ("hour_seconds": how long an hour is).
NAMED_OPTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "five_minute_limit": (("five_minutes",), "limit"),
    "five_minute_seconds": (("five_minutes",), "seconds"),
    "hourly_limit": (("hour",), "limit"),
    "hour_seconds": (("hour", "flow_hour", "v5_list_hour", "v5_search_hour"), "seconds"),
    "daily_limit": (("day",), "limit"),
    "day_seconds": (("day", "flow_day"), "seconds"),
    "flow_hourly_limit": (("flow_hour",), "limit"),
    "flow_daily_limit": (("flow_day",), "limit"),
    "search_limit_per_minute": (("search",), "limit"),
    "minute_seconds": (("search", "v5_list_minute", "v5_search_minute"), "seconds"),
}


class RateLimits:
    """The windows of one sandbox: the published table, changed by options.

    The published values, changed by the named options, then by ``rate_limits={name: {"limit",
    "seconds"}}``. What is not said of ``five_minutes`` follows the hour: it lasts a twelfth of the
    hour (a shrunk hour shrinks it too), and when ``hourly_limit`` is given it allows as many as
    the hour (a configuration written for the single hourly window behaves as it did). Later
    changes add to earlier ones; a named option replaces an override of the same field.
    """

    def __init__(self) -> None:
        self._given: dict[str, Any] = {}
        self._overrides: dict[str, dict[str, Any]] = {}
        self.windows: dict[str, Limit] = _build({}, {})

    @classmethod
    def configure(
        cls, named: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> RateLimits:
        limits = cls()
        limits.update(named or {}, overrides or {})
        return limits

    def update(self, named: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> None:
        """Apply named options (None: not given) and per-window overrides; all checked first."""
        given = {name: value for name, value in named.items() if value is not None}
        unknown = set(given) - set(NAMED_OPTIONS)
        if unknown:
            raise ValueError(f"unknown rate-limit options {sorted(unknown)}; known: {sorted(NAMED_OPTIONS)}")
        merged = {name: dict(fields) for name, fields in self._overrides.items()}
        for option in given:
            names, field_name = NAMED_OPTIONS[option]
            for name in names:
                merged.get(name, {}).pop(field_name, None)
        for name, fields in _checked_overrides(overrides or {}).items():
            merged.setdefault(name, {}).update(fields)
        merged = {name: fields for name, fields in merged.items() if fields}
        all_given = {**self._given, **given}
        self.windows = _build(all_given, merged)
        self._given, self._overrides = all_given, merged

    def option(self, option: str) -> int | float:
        """The value of a named option (the first of its windows)."""
        names, field_name = NAMED_OPTIONS[option]
        value: int | float = getattr(self.windows[names[0]], field_name)
        return value

    def of_kinds(self, kinds: Iterable[str]) -> list[Limit]:
        wanted = set(kinds)
        return [row for row in self.windows.values() if row.kind in wanted]

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {
            row.name: {"kind": row.kind, "limit": row.limit, "seconds": row.seconds}
            for row in self.windows.values()
        }


def _build(given: Mapping[str, Any], overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Limit]:
    windows = {row.name: row for row in PUBLISHED}
    for option, value in given.items():
        names, field_name = NAMED_OPTIONS[option]
        for name in names:
            windows[name] = _with(windows[name], field_name, value, option)
    for name, fields in overrides.items():
        for field_name, value in fields.items():
            windows[name] = _with(windows[name], field_name, value, f"rate_limits[{name!r}]")
    five, said = windows["five_minutes"], overrides.get("five_minutes", {})
    if "five_minute_seconds" not in given and "seconds" not in said:
        five = _with(five, "seconds", windows["hour"].seconds / 12, "hour_seconds")
    if "hourly_limit" in given and "five_minute_limit" not in given and "limit" not in said:
        five = _with(five, "limit", windows["hour"].limit, "hourly_limit")
    windows["five_minutes"] = five
    return windows


def _checked_overrides(overrides: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    windows = {row.name for row in PUBLISHED}
    if not isinstance(overrides, Mapping):
        raise ValueError("rate_limits must be a mapping: window name -> {'limit': N, 'seconds': S}")
    checked: dict[str, dict[str, Any]] = {}
    for name, fields in overrides.items():
        if name not in windows:
            raise ValueError(f"unknown rate-limit window {name!r}; known: {sorted(windows)}")
        if not isinstance(fields, Mapping) or not fields or set(fields) - {"limit", "seconds"}:
            raise ValueError(f"rate_limits[{name!r}] must be a mapping with 'limit' and/or 'seconds'")
        checked[name] = dict(fields)
    return checked


def _with(row: Limit, field_name: str, value: Any, said_by: str) -> Limit:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{said_by} must be a number, not {value!r}")
    if field_name == "limit":
        if value < 0 or value != int(value):
            raise ValueError(f"{said_by} must be a whole number >= 0")
        return Limit(row.name, row.kind, int(value), row.seconds)
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"{said_by} must be > 0")
    return Limit(row.name, row.kind, row.limit, float(value))


def parse_cli_rate_limit(text: str) -> tuple[str, dict[str, Any]]:
    """``NAME=LIMIT``, ``NAME=LIMIT/SECONDS`` or ``NAME=/SECONDS`` (``--rate-limit``) -> one override."""
    usage = f"--rate-limit {text!r}: expected WINDOW=LIMIT, WINDOW=LIMIT/SECONDS or WINDOW=/SECONDS"
    name, sep, value = text.partition("=")
    limit, _, seconds = value.partition("/")
    fields: dict[str, Any] = {}
    try:
        if limit:
            fields["limit"] = int(limit)
        if seconds:
            fields["seconds"] = float(seconds)
    except ValueError:
        raise ValueError(usage) from None
    if not sep or not name or not fields:
        raise ValueError(usage)
    return name, fields


@dataclass
class Window:
    """The count of one window of one workspace (the window it counts is ``index``)."""

    index: int = -1
    count: int = 0

    def roll(self, now: float, seconds: float) -> None:
        index = math.floor(now / seconds)
        if index != self.index:
            self.index, self.count = index, 0

    def ends_at(self, seconds: float) -> float:
        return (self.index + 1) * seconds


@dataclass(frozen=True)
class Standing:
    """Where a workspace stands in the windows of a request: the tightest window's limit, what is
    left of it and when it reopens (epoch seconds); ``full`` when the request must be refused."""

    limit: int
    remaining: int
    reset: float
    full: bool

    def headers(self) -> dict[str, str]:
        """MoEngage's rate-limit headers; the reset in whole UTC epoch seconds, rounded up, so a
        client that waits until then is never early."""
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(math.ceil(self.reset)),
        }

    def retry_after(self, now: float) -> str:
        """``Retry-After`` in whole seconds (at least 1) until the full windows have all reopened."""
        return str(max(1, math.ceil(self.reset - now)))


def stand(rows: list[Limit], counters: dict[str, Window], now: float, *, take: bool) -> Standing | None:
    """Roll the windows of ``rows`` to ``now``; with ``take``, count one request unless one of them
    is full. None when no window applies."""
    if not rows:
        return None
    for row in rows:
        counters.setdefault(row.name, Window()).roll(now, row.seconds)
    full = [row for row in rows if counters[row.name].count >= row.limit]
    if full:
        last = max(full, key=lambda row: counters[row.name].ends_at(row.seconds))
        return Standing(last.limit, 0, counters[last.name].ends_at(last.seconds), True)
    if take:
        for row in rows:
            counters[row.name].count += 1
    tightest = min(
        rows, key=lambda row: (row.limit - counters[row.name].count, -counters[row.name].ends_at(row.seconds))
    )
    window = counters[tightest.name]
    return Standing(
        tightest.limit, max(0, tightest.limit - window.count), window.ends_at(tightest.seconds), False
    )
