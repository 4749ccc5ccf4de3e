"""
Every sample DAG in dags/ on a real LocalExecutor deployment, run the ways users run it: on its
schedule once unpaused, with ``airflow dags trigger`` and through the REST API (the UI's Trigger
button). Runs triggered by hand have no logical date. Each run delivers what it should, counted at
the sandbox. The groups (one per sample, one for the asset-driven pair) run side by side.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.deployment import samples
from tests.deployment.samples import assert_all_succeeded, group


@pytest.fixture(scope="module")
def sample_runs(local_results: dict[str, Any]) -> dict[str, Any]:
    result = local_results["samples"]
    if isinstance(result, BaseException):
        raise result
    return result


def test_load_then_announce_on_schedule_cli_and_rest(sample_runs) -> None:
    samples.assert_titles(group(sample_runs, "titles"))


def test_asset_driven_pair_on_schedule_cli_and_rest(sample_runs) -> None:
    steps = group(sample_runs, "episodes")
    assert_all_succeeded(steps)
    assert [(r["dag_id"][len("moengage_asset_") :], r["how"]) for r in steps.runs] == [
        ("load_episodes", "schedule"),
        ("announce_episodes", "asset"),
        ("load_episodes", "cli"),
        ("announce_episodes", "asset"),
        ("announce_episodes", "cli"),
        ("load_episodes", "rest"),
        ("announce_episodes", "asset"),
        ("announce_episodes", "rest"),
    ]
    counts = [e["new_episodes"] for e in steps.events("NewEpisodesAvailable")]
    # Announced once per load: by hand, the latest load was already announced (idempotency_key), so the
    # trigger skips and sends nothing, and its log names the run that announced it.
    assert counts == [8, 2, 1]
    by_hand = [r for r in steps.runs if r["dag_id"] == samples.ANNOUNCE and r["how"] in ("cli", "rest")]
    assert [r["tasks"]["announce_new_episodes"] for r in by_hand] == ["skipped", "skipped"], by_hand
    for run in by_hand:
        log = steps.d.task_log(samples.ANNOUNCE, run["run_id"], "announce_new_episodes", 1)
        assert "already announced under idempotency_key" in log and "asset_triggered__" in log, log[-3000:]


def test_event_per_item_on_schedule_cli_and_rest(sample_runs) -> None:
    steps = group(sample_runs, "restocks")
    assert_all_succeeded(steps)
    skus = [e["sku"] for e in steps.events("BackInStock")]
    assert len(skus) == 6 + 2 + 1 and len(set(skus)) == len(skus)
    assert {"SKU-DPL-001", "SKU-DPL-002", "SKU-DPL-003"} <= set(skus)


def test_notifier_on_schedule(sample_runs) -> None:
    scheduled = group(sample_runs, "notifier").runs[0]
    assert (scheduled["how"], scheduled["state"]) == ("schedule", "success"), scheduled.get("details")


def test_notifier_triggered_by_hand(sample_runs) -> None:
    steps = group(sample_runs, "notifier")
    assert [(r["how"], r["state"]) for r in steps.runs[1:]] == [("cli", "success"), ("rest", "success")], [
        r.get("details") for r in steps.runs[1:]
    ]
    assert len(steps.events("PriceListPublished")) == 3
