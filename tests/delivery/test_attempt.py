"""
One try, alone: built from typed values (no operator, no DAG run), against the sandbox. What its
report says (lineage reads it) and what it counts, where the try ends without sending.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest

from moengage_provider.api.payload import prepare_trigger
from moengage_provider.delivery.attempt import Attempt
from moengage_provider.delivery.idempotency import Delivery, DeliveryHistory, skip_exception
from moengage_provider.delivery.record import (
    DeliveryRecord,
    DeliverySettings,
    TaskInstanceRef,
    payload_fingerprint,
)
from moengage_provider.delivery.stores import DeliveryStore
from moengage_provider.hooks.moengage import MoEngageHook
from moengage_provider.observability import metrics

EVENTS = {"NewSeriesAlert": {"attributes": {"season": "string"}}}
pytestmark = pytest.mark.moengage_sandbox(permissive=False, events=EVENTS)


class MemoryState:
    """A task (or asset) state store's accessor, in memory: JSON values by key."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return copy.deepcopy(self.data.get(key, default))

    def set(self, key: str, value: Any) -> None:
        self.data[key] = copy.deepcopy(value)

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, str]]]:
    """The metrics the try emits, as (name, tags)."""
    seen: list[tuple[str, dict[str, str]]] = []

    class Stats:
        def incr(self, stat: str, tags: dict[str, str]) -> None:
            seen.append((stat.removeprefix(metrics.PREFIX + "."), tags))

        def timing(self, stat: str, value: Any, tags: dict[str, str]) -> None:
            seen.append((stat.removeprefix(metrics.PREFIX + "."), tags))

    monkeypatch.setattr(metrics, "_stats", Stats)
    return seen


def never_defer(until: Any) -> Any:
    raise AssertionError("this try must not defer")


def a_try(store: DeliveryStore, history: DeliveryHistory, **settings: Any) -> Attempt:
    return Attempt(
        prepare_trigger("NewSeriesAlert", {"season": "Season 1"}),
        DeliverySettings(**settings),
        TaskInstanceRef("dag", "fire", "run_2", try_number=1),
        MoEngageHook(),
        store,
        history,
        logging.getLogger("test_attempt"),
        never_defer,
    )


def fingerprint_of(attempt: Attempt) -> str:
    settings = attempt.hook.settings
    return payload_fingerprint(
        attempt.prepared.data, workspace_id=settings.workspace_id, base_url=settings.base_url
    )


def test_a_skip_by_the_idempotency_key_reports_deduplicated_not_unknown(moengage_sandbox, counted):
    history = DeliveryHistory(MemoryState())
    attempt = a_try(DeliveryStore(MemoryState()), history, idempotency_key="season-1")
    history.record(
        Delivery("season-1", fingerprint_of(attempt), "2026-12-01T10:00:00+00:00", "dag", "run_1", "fire")
    )

    with pytest.raises(skip_exception(), match="already announced under idempotency_key 'season-1'"):
        attempt.run()

    assert moengage_sandbox.triggers == []
    assert attempt.report is not None
    assert (attempt.report.outcome, attempt.report.deduplicated) == ("deduplicated", "idempotency_key")
    assert [(name, tags.get("reason")) for name, tags in counted] == [("deduplicated", "idempotency_key")]


def test_an_inconclusive_check_skipped_reports_unknown_not_delivered(moengage_sandbox, counted):
    store = DeliveryStore(MemoryState())
    attempt = a_try(
        store,
        DeliveryHistory(None),
        if_outcome_unknown="check",
        if_check_inconclusive="skip",
        check_settle_seconds=0,
    )
    # An earlier try sent this payload and got no answer; the counters before it were never read.
    store.save(
        DeliveryRecord(
            fingerprint_of(attempt),
            "unknown",
            "NewSeriesAlert",
            "2026-12-01T10:00:00+00:00",
            reason="read timeout",
        )
    )

    result = attempt.run()

    assert result["outcome"] == "unknown, not resent (if_check_inconclusive='skip')"
    assert moengage_sandbox.triggers == []
    assert attempt.report is not None
    assert (attempt.report.outcome, attempt.report.resolution) == ("unknown", "check")
    assert [(name, tags.get("resolution")) for name, tags in counted] == [("unknown_resolved", "check")]
