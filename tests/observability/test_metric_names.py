"""
The metrics table owns what is emitted: every metric goes out under a name, a kind and tag values
that ``METRICS`` declares, every row is emitted by something, and the table in docs/observability.md is the code's.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, get_args

import pytest

from moengage_provider.api.rate_limits import RateLimitHeaders
from moengage_provider.delivery.record import UNKNOWN_POLICIES, Action, policy_name
from moengage_provider.exceptions import (
    Failure,
    MoEngageClientError,
    MoEngageConnectionError,
    MoEngageRateLimitError,
    MoEngageServerError,
    MoEngageValidationError,
    Outcome,
)
from moengage_provider.observability import metrics
from moengage_provider.observability.metrics import METRICS, PREFIX, UndeclaredMetricError, markdown_table
from moengage_provider.observability.report import OUTCOMES, Deduplicated, TryReport
from tests.conftest import REPO


class RecordingStats:
    """Airflow's ``Stats`` as this module calls it: what was emitted, as (name, kind, tags)."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, str, dict[str, str]]] = []
        self.counts: dict[str, int] = {}

    def incr(self, stat: str, count: int = 1, tags: dict[str, str] | None = None) -> None:
        self.emitted.append((stat, "counter", tags or {}))
        self.counts[stat] = self.counts.get(stat, 0) + count

    def timing(self, stat: str, value: Any, tags: dict[str, str]) -> None:
        self.emitted.append((stat, "timer", tags))

    def gauge(self, stat: str, value: float, tags: dict[str, str]) -> None:
        self.emitted.append((stat, "gauge", tags))


@pytest.fixture
def stats(monkeypatch: pytest.MonkeyPatch) -> RecordingStats:
    recording = RecordingStats()
    monkeypatch.setattr(metrics, "_stats", lambda: recording)
    return recording


def report(**fields: Any) -> TryReport:
    base: dict[str, Any] = {
        "body": {"event_name": "PriceDrop", "event_attributes": {}},
        "workspace_id": "W",
        "data_center": "01",
        "host": "api-01.moengage.com",
        "outcome": "delivered",
    }
    return TryReport(**{**base, **fields})


def emit_everything() -> None:
    """Every way this provider emits a metric, each branch once."""
    endpoint = "/v1.0/business_event/trigger"
    errors: list[BaseException | None] = [
        None,
        MoEngageClientError(status=401, endpoint=endpoint),
        MoEngageServerError(status=502, endpoint=endpoint),
        MoEngageServerError(status=503, endpoint=endpoint, outcome=Outcome.NOT_DELIVERED),
        MoEngageRateLimitError(status=429, endpoint=endpoint),
        MoEngageConnectionError("refused", failure=Failure.REFUSED, outcome=Outcome.NOT_DELIVERED),
        MoEngageValidationError("event_name", "is empty."),
        TimeoutError("the task's execution_timeout, mid-request"),
    ]
    for error in errors:
        try:
            with metrics.trigger_request("PriceDrop", "01"):
                if error is not None:
                    raise error
        except BaseException as raised:
            assert raised is error
    metrics.rate_limit_wait("PriceDrop", None, 12.5)
    now = dt.datetime.now(dt.timezone.utc)
    metrics.rate_limit_remaining("PriceDrop", "01", RateLimitHeaders(now, limit=10, remaining=9))
    metrics.rate_limit_remaining("PriceDrop", "01", RateLimitHeaders(now))  # no header: nothing
    metrics.campaigns("PriceDrop", "01", {"total": 5, "triggered": 3, "failed": 2})
    for reason in get_args(Deduplicated):
        metrics.try_finished(report(outcome="deduplicated", deduplicated=reason))
    for action in (Action.SEND, Action.SKIP, Action.FAIL, Action.CHECK):
        metrics.try_finished(report(resolution=policy_name(action)))


def test_every_metric_is_emitted_only_as_its_row_declares(stats: RecordingStats):
    emit_everything()
    assert stats.emitted
    for stat, kind, tags in stats.emitted:
        name = stat.removeprefix(PREFIX + ".")
        metric = METRICS[name]
        assert kind == metric.kind, stat
        own = {metric.tag} if metric.tag else set()
        assert set(tags) == {"event_name", "data_center"} | own, stat
        if metric.tag and not metric.open_values:
            assert tags[metric.tag] in metric.values, (stat, tags)


def test_every_row_and_every_declared_tag_value_is_emitted(stats: RecordingStats):
    emit_everything()
    assert {stat.removeprefix(PREFIX + ".") for stat, _, _ in stats.emitted} == set(METRICS)
    for name, metric in METRICS.items():
        if metric.tag and not metric.open_values:
            seen = {tags[metric.tag] for stat, _, tags in stats.emitted if stat == f"{PREFIX}.{name}"}
            assert seen == set(metric.values), name


def test_campaign_counters_count_by_the_numbers_v5_reports(stats: RecordingStats):
    metrics.campaigns("PriceDrop", "01", {"total": 5, "triggered": 3, "failed": 2})
    metrics.campaigns("PriceDrop", "01", {"total": 0, "triggered": 0, "failed": 0})  # nothing to count
    assert stats.counts == {f"{PREFIX}.campaigns_triggered": 3, f"{PREFIX}.campaigns_skipped": 2}


def test_tag_values_come_from_the_tables_that_decide_them():
    assert set(METRICS["unknown_resolved"].values) == set(UNKNOWN_POLICIES)
    assert set(METRICS["deduplicated"].values) == set(get_args(Deduplicated))
    assert set(METRICS["request_duration"].values) < set(OUTCOMES)


def test_an_undeclared_metric_or_tag_value_is_refused(stats: RecordingStats):
    with pytest.raises(UndeclaredMetricError):
        metrics._emit("sent", "PriceDrop", "01")
    with pytest.raises(UndeclaredMetricError):
        metrics._emit("unknown_resolved", "PriceDrop", "01", "maybe")
    assert stats.emitted == []


def test_the_documented_metrics_table_is_the_code_table():
    readme = (REPO / "docs" / "observability.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- metrics table:[^\n]*-->\n(.*?)<!-- end of metrics table -->", readme, re.DOTALL)
    assert match, "docs/observability.md lost the generated metrics table markers"
    assert match.group(1) == markdown_table(), (
        "docs/observability.md's metrics table differs from moengage_provider/observability/metrics.py; regenerate it "
        "with `.venv/bin/python -m moengage_provider.observability.metrics` and paste it between the markers."
    )
    documented = set(re.findall(rf"`{re.escape(PREFIX)}\.([a-z_]+)`", readme))
    assert documented == set(METRICS)
    # The README names only metrics that exist.
    in_readme = set(re.findall(rf"`{re.escape(PREFIX)}\.([a-z_]+)`", (REPO / "README.md").read_text()))
    assert in_readme <= set(METRICS)
