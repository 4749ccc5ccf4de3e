"""
Counters and timers for business-event deliveries, sent through Airflow's own metrics.

They go wherever the deployment sends Airflow's metrics (``[metrics] statsd_on``, ``otel_on``,
``statsd_datadog_enabled``): this module only calls Airflow's public ``Stats`` API, it has no
client of its own. Tags are the event name and the data center (plus the one per-metric tag in
:data:`METRICS`), never a key, a header or an attribute value. Plain StatsD has no tags: there the
counters add up over all events (turn on ``statsd_influxdb_enabled``, Datadog or OpenTelemetry to
split them by event).

A metric must never fail a delivery: any error from the metrics backend is logged and dropped.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moengage_provider.exceptions import (
    MoEngageClientError,
    MoEngageConfigurationError,
    MoEngageError,
    MoEngageRateLimitError,
    MoEngageRateLimitWait,
    MoEngageValidationError,
)

log = logging.getLogger(__name__)

PREFIX = "moengage.business_event"

#: Every metric: name (after :data:`PREFIX`) -> (kind, what it means, its own tag beyond
#: ``event_name`` and ``data_center``). docs/observability.md's table lists the same rows.
METRICS: dict[str, tuple[str, str, str | None]] = {
    "delivered": ("counter", "MoEngage answered 2xx: the event was accepted.", None),
    "deduplicated": (
        "counter",
        "Not sent because this payload was already delivered (`reason`: `rerun` for a retry or a "
        "cleared task, `idempotency_key` for a key seen before).",
        "reason",
    ),
    "rate_limited": ("counter", "A 429 made the task wait for the next window.", None),
    "rate_limit_wait": ("timer", "How long that wait is (ms), one value per wait.", None),
    "outcome_unknown": (
        "counter",
        "A try ended without knowing whether MoEngage took the event (read timeout, dropped "
        "connection, 500/502/504).",
        None,
    ),
    "unknown_resolved": (
        "counter",
        "A later try met an unknown outcome and resolved it (`resolution`: `resend`, `skip`, `fail`).",
        "resolution",
    ),
    "client_error": (
        "counter",
        "MoEngage refused the request for good (`status`: the HTTP status, e.g. `400`, `401`).",
        "status",
    ),
    "request_duration": (
        "timer",
        "Time of one trigger call (ms), retries of requests MoEngage never got included "
        "(`outcome`: `delivered`, `rate_limited`, `client_error`, `not_delivered`, `unknown`).",
        "outcome",
    ),
}

#: Tag values keep to what every backend accepts (InfluxDB-style StatsD drops ``,`` and ``=``).
_UNSAFE_TAG_CHARS = re.compile(r"[^A-Za-z0-9_.\-]")
#: The ``data_center`` tag when the connection names no data center, only a host (proxy, sandbox).
CUSTOM_HOST = "custom_host"


def tag_value(value: object) -> str:
    """A tag value every metrics backend accepts: unsafe characters become ``_``, at most 100 of them."""
    return _UNSAFE_TAG_CHARS.sub("_", str(value))[:100] or "_"


def _tags(event_name: str, data_center: str | None, **more: object) -> dict[str, str]:
    tags = {"event_name": tag_value(event_name), "data_center": tag_value(data_center or CUSTOM_HOST)}
    tags.update({key: tag_value(value) for key, value in more.items()})
    return tags


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


def _emit(kind: str, name: str, tags: dict[str, str], value: dt.timedelta | None = None) -> None:
    stat = f"{PREFIX}.{name}"
    try:
        if kind == "counter":
            _stats().incr(stat, tags=tags)
        else:
            _stats().timing(stat, value, tags=tags)
    except Exception:  # a metrics backend must never fail a delivery
        log.debug("Could not emit metric %s", stat, exc_info=True)


def deduplicated(event_name: str, data_center: str | None, *, reason: str = "rerun") -> None:
    _emit("counter", "deduplicated", _tags(event_name, data_center, reason=reason))


def rate_limit_wait(event_name: str, data_center: str | None, seconds: float) -> None:
    tags = _tags(event_name, data_center)
    _emit("counter", "rate_limited", tags)
    _emit("timer", "rate_limit_wait", tags, dt.timedelta(seconds=max(0.0, seconds)))


def unknown_resolved(event_name: str, data_center: str | None, *, resolution: str) -> None:
    _emit("counter", "unknown_resolved", _tags(event_name, data_center, resolution=resolution))


#: A try that met an earlier unknown outcome: what it did about it (delivery.Action -> ``resolution``).
_RESOLUTIONS = {"send": "resend", "skip": "skip", "fail": "fail"}


def try_finished(result: Any, data_center: str | None) -> None:
    """Per-try counters, from the operator's one place where a try's end is known (a ``TryResult``)."""
    action = getattr(result.action, "value", result.action)
    if action == "already_delivered":
        deduplicated(result.event_name, data_center, reason="rerun")
    elif result.earlier_doubt:
        unknown_resolved(result.event_name, data_center, resolution=_RESOLUTIONS.get(action, str(action)))


def observe_try(result: Any, settings: Any, report: dict[str, Any], log: Any) -> None:
    """A finished try's counters, and its lineage report completed; never changes how a try ends."""
    try:
        try_finished(result, settings.data_center)
        report.update(
            workspace_id=settings.workspace_id,
            data_center=settings.data_center,
            host=settings.host,
            **try_report(result),
        )
    except Exception:
        log.debug("Could not record metrics/lineage for this try", exc_info=True)


def try_report(result: Any) -> dict[str, Any]:
    """How a try ended, as lineage's ``outcome`` says it, with MoEngage's request_id and status."""
    action = getattr(result.action, "value", result.action)
    error = result.error
    if action == "already_delivered":
        outcome: str | None = "deduplicated"
    elif action in ("skip", "fail"):
        outcome = "unknown"
    elif error is None:
        outcome = "delivered"
    elif isinstance(error, MoEngageError):
        outcome = outcome_of(error) or "not_delivered"
    else:  # not ours (a wait past max_rate_limit_wait, a task timeout): the last answer says it
        last = getattr(result.outcome, "value", None)
        outcome = last or "unknown"
    return {
        "outcome": outcome,
        "request_id": getattr(error, "request_id", None),
        "http_status": getattr(error, "status", None),
    }


def outcome_of(error: BaseException | None) -> str | None:
    """What one trigger call's end means; ``None`` when no request went out (bad input, bad connection)."""
    if error is None:
        return "delivered"
    if isinstance(error, (MoEngageValidationError, MoEngageConfigurationError)):
        return None
    if isinstance(error, (MoEngageRateLimitError, MoEngageRateLimitWait)):
        return "rate_limited"
    if getattr(error, "outcome_unknown", None) is False:
        if isinstance(error, MoEngageClientError):
            return "client_error"
        return "not_delivered"
    # Unknown by the hook's verdict, or cut short mid-request (a task timeout, a signal).
    return "unknown"


@contextmanager
def trigger_request(
    event_name: str, data_center: str | None, report: dict[str, Any] | None = None
) -> Iterator[None]:
    """
    Time one trigger call and count its outcome: ``delivered``, ``client_error`` or ``outcome_unknown``.

    The one place where the answer to a request becomes metrics, for the operator and the notifier.
    ``report`` (the operator's lineage record) gets ``outcome``, ``request_id`` and ``http_status``.
    """
    started = time.monotonic()
    error: BaseException | None = None
    try:
        yield
    except BaseException as err:
        error = err
        raise
    finally:
        outcome = outcome_of(error)
        if outcome is not None:
            tags = _tags(event_name, data_center)
            elapsed = dt.timedelta(seconds=time.monotonic() - started)
            _emit("timer", "request_duration", {**tags, "outcome": outcome}, elapsed)
            if outcome == "delivered":
                _emit("counter", "delivered", tags)
            elif outcome == "unknown":
                _emit("counter", "outcome_unknown", tags)
            elif outcome == "client_error":
                status = getattr(error, "status", "unknown")
                _emit("counter", "client_error", {**tags, "status": tag_value(status)})
        if report is not None:
            report.update(
                outcome=outcome or "not_delivered",
                request_id=getattr(error, "request_id", None),
                http_status=getattr(error, "status", None),
            )
