"""
Counters and timers for business-event deliveries, sent through Airflow's own metrics.

They go wherever the deployment sends Airflow's metrics (``[metrics] statsd_on``, ``otel_on``,
``statsd_datadog_enabled``): this module only calls Airflow's public ``Stats`` API, it has no
client of its own. Tags are the event name and the data center (plus the one per-metric tag in
:data:`METRICS`), never a key, a header or an attribute value. Plain StatsD has no tags: there the
counters add up over all events (turn on ``statsd_influxdb_enabled``, Datadog or OpenTelemetry to
split them by event).

:data:`METRICS` is the one table of what is emitted: a metric goes out only under a name it lists,
as the kind it says, with the tag values it declares; docs/observability.md's table is rendered from it
(``python -m moengage_provider.observability.metrics``). A metric must never fail a delivery: any
error from the metrics backend is logged and dropped.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from moengage_provider.observability.report import TryReport, request_outcome

if TYPE_CHECKING:
    from moengage_provider.api.rate_limits import RateLimitHeaders

log: logging.Logger = logging.getLogger(__name__)

PREFIX = "moengage.business_event"


@dataclass(frozen=True)
class Metric:
    kind: Literal["counter", "timer", "gauge"]
    #: What one count (or one timing) stands for.
    means: str
    #: Its own tag, beyond ``event_name`` and ``data_center``, and the values that tag takes.
    tag: str | None = None
    values: tuple[str, ...] = ()
    #: ``values`` are examples of an open set (an HTTP status), not all the values there are.
    open_values: bool = False


#: Every metric, by name (after :data:`PREFIX`).
METRICS: dict[str, Metric] = {
    "delivered": Metric("counter", "MoEngage answered 2xx: the event was accepted"),
    "deduplicated": Metric(
        "counter",
        "not sent: this payload was already delivered, by an earlier try of this task instance "
        "(`rerun`) or under the same `idempotency_key`",
        "reason",
        ("rerun", "idempotency_key"),
    ),
    "rate_limited": Metric(
        "counter",
        "a 429 (or API V5's quota `FAILURE`) made the task wait (as MoEngage's headers say, or for the "
        "next window)",
    ),
    "rate_limit_wait": Metric("timer", "how long that wait is, one value per wait"),
    "rate_limit_remaining": Metric(
        "gauge",
        "triggers left in MoEngage's rate-limit window after a trigger, from its answer's "
        "`x-ratelimit-remaining` (sent only when the answer has that header; 0 on a 429)",
        "limit",
        ("10", "50", "200"),
        open_values=True,
    ),
    "outcome_unknown": Metric(
        "counter",
        "a try ended not knowing whether MoEngage took the event (read timeout, dropped connection, "
        "500/502/504)",
    ),
    "unknown_resolved": Metric(
        "counter",
        "a later try met that unknown outcome and followed `if_outcome_unknown`",
        "resolution",
        ("resend", "skip", "fail", "check"),
    ),
    "client_error": Metric(
        "counter", "MoEngage refused the request for good (4xx)", "status", ("400", "401"), open_values=True
    ),
    "campaigns_triggered": Metric(
        "counter",
        "API V5: campaigns and flows a trigger reached (its `summary.triggered`), counted by that number",
    ),
    "campaigns_skipped": Metric(
        "counter",
        "API V5: campaigns and flows a trigger skipped by quota (its `summary.failed`), counted by that number",
    ),
    "request_duration": Metric(
        "timer",
        "one trigger call, the hook's resends of requests MoEngage never got included",
        "outcome",
        ("delivered", "rate_limited", "client_error", "not_delivered", "unknown"),
    ),
}

#: Tag values keep to what every backend accepts (InfluxDB-style StatsD drops ``,`` and ``=``).
_UNSAFE_TAG_CHARS = re.compile(r"[^A-Za-z0-9_.\-]")
#: The ``data_center`` tag when the connection names no data center, only a host (proxy, sandbox).
CUSTOM_HOST = "custom_host"


class UndeclaredMetricError(ValueError):
    """A metric, or a value of its tag, that :data:`METRICS` does not declare (a bug in this provider)."""


def tag_value(value: object) -> str:
    """A tag value every metrics backend accepts: unsafe characters become ``_``, at most 100 of them."""
    return _UNSAFE_TAG_CHARS.sub("_", str(value))[:100] or "_"


#: Where Airflow keeps its public ``Stats`` API, newest first (3.2+, then older 3.x and 2.x).
_STATS_MODULES = ("airflow.sdk.observability.stats", "airflow.observability.stats", "airflow.stats")


def _stats() -> Any:
    """Airflow's public metrics API, wherever this Airflow keeps it."""
    for module in _STATS_MODULES:
        try:
            return importlib.import_module(module).Stats
        except ImportError:
            continue
    raise ImportError(f"This Airflow has none of {', '.join(_STATS_MODULES)}")


def _emit(
    name: str,
    event_name: str,
    data_center: str | None,
    own: object = None,
    seconds: float | None = None,
    amount: float = 0.0,
    count: int = 1,
) -> None:
    """Emit ``name`` as its row in :data:`METRICS` says (its kind, its tag with the value ``own``):
    a counter counts one, a timer ``seconds``, a gauge ``amount``."""
    metric = METRICS.get(name)
    if metric is None:
        raise UndeclaredMetricError(f"metric {name!r} is not in METRICS")
    tags = {"event_name": tag_value(event_name), "data_center": tag_value(data_center or CUSTOM_HOST)}
    if metric.tag is not None:
        value = tag_value(own)
        if not metric.open_values and value not in metric.values:
            raise UndeclaredMetricError(
                f"metric {name!r}: {metric.tag}={value!r} is not one of {metric.values}"
            )
        tags[metric.tag] = value
    stat = f"{PREFIX}.{name}"
    try:
        if metric.kind == "counter":
            _stats().incr(stat, tags=tags) if count == 1 else _stats().incr(stat, count=count, tags=tags)
        elif metric.kind == "gauge":
            _stats().gauge(stat, amount, tags=tags)
        else:
            _stats().timing(stat, dt.timedelta(seconds=max(0.0, seconds or 0.0)), tags=tags)
    except Exception:  # a metrics backend must never fail a delivery
        log.debug("Could not emit metric %s", stat, exc_info=True)


def rate_limit_wait(event_name: str, data_center: str | None, seconds: float) -> None:
    """A 429 made the task wait ``seconds``."""
    _emit("rate_limited", event_name, data_center)
    _emit("rate_limit_wait", event_name, data_center, seconds=seconds)


def deduplicated(event_name: str, data_center: str | None, reason: str) -> None:
    """Nothing sent: this payload was delivered before (``reason``: ``rerun`` or ``idempotency_key``)."""
    _emit("deduplicated", event_name, data_center, reason)


def campaigns(event_name: str, data_center: str | None, summary: Mapping[str, Any]) -> None:
    """What one V5 trigger's ``summary`` says: campaigns and flows reached, and skipped by quota."""
    for name, key in (("campaigns_triggered", "triggered"), ("campaigns_skipped", "failed")):
        count = summary.get(key)
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            _emit(name, event_name, data_center, count=count)


def try_finished(report: TryReport) -> None:
    """The per-try counters, from the report of a try that ended."""
    if report.deduplicated is not None:
        deduplicated(report.event_name, report.data_center, report.deduplicated)
    elif report.resolution is not None:
        _emit("unknown_resolved", report.event_name, report.data_center, report.resolution)


@dataclass
class TriggerCall:
    """One trigger request as the metrics saw it: its outcome, once it ended (None: nothing went out)."""

    outcome: str | None = None


def rate_limit_remaining(event_name: str, data_center: str | None, headers: RateLimitHeaders | None) -> None:
    """What MoEngage's answer says is left in its rate-limit window (nothing when it did not say)."""
    if headers is not None and headers.remaining is not None:
        limit = "unknown" if headers.limit is None else headers.limit
        _emit("rate_limit_remaining", event_name, data_center, limit, amount=headers.remaining)


@contextmanager
def trigger_request(event_name: str, data_center: str | None, hook: Any = None) -> Iterator[TriggerCall]:
    """
    Time one trigger call and count its outcome: ``delivered``, ``client_error`` or ``outcome_unknown``;
    report what the answer says is left of the rate limit (the hook's ``last_rate_limit``).

    The one place where the answer to a request becomes metrics, for the try and the notifier.
    """
    call = TriggerCall()
    started = time.monotonic()
    error: BaseException | None = None
    try:
        yield call
    except BaseException as err:
        error = err
        raise
    finally:
        call.outcome = request_outcome(error)
        if call.outcome is not None:
            elapsed = time.monotonic() - started
            _emit("request_duration", event_name, data_center, call.outcome, seconds=elapsed)
            if call.outcome == "delivered":
                _emit("delivered", event_name, data_center)
            elif call.outcome == "unknown":
                _emit("outcome_unknown", event_name, data_center)
            elif call.outcome == "client_error":
                _emit("client_error", event_name, data_center, getattr(error, "status", "unknown"))
            rate_limit_remaining(event_name, data_center, getattr(hook, "last_rate_limit", None))


def markdown_table() -> str:
    """docs/observability.md's metrics table, rendered from :data:`METRICS`."""
    lines = ["| metric | kind | counts | own tag |", "| --- | --- | --- | --- |"]
    for name, metric in METRICS.items():
        kind = "timer (ms)" if metric.kind == "timer" else metric.kind
        tag = ""
        if metric.tag is not None:
            values = ", ".join(f"`{value}`" for value in metric.values) + (
                "..." if metric.open_values else ""
            )
            tag = f"`{metric.tag}` ({values})"
        lines.append(f"| `{PREFIX}.{name}` | {kind} | {metric.means} | {tag} |".replace("|  |", "| |"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
