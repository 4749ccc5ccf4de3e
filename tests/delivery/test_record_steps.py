"""
The delivery record step by step, by example (the property in test_record.py covers any sequence):
what each field holds after each step, since the next try reads them (a deduplicated rerun returns
``result``; the total rate-limit wait is counted from ``rate_limited_since``), and the stored form,
which outlives an upgrade of the provider.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from moengage_provider.delivery.record import (
    UNKNOWN_POLICIES,
    Action,
    DeliveryRecord,
    DeliverySettings,
    Plan,
    after_attempt,
    before_send,
    payload_fingerprint,
    plan_try,
    settle_doubt,
    utc_now_iso,
)
from moengage_provider.delivery.stores import STORE_KEY, DeliveryStore
from moengage_provider.exceptions import Outcome

RESULT = {"event_name": "E", "message": "The business event has been triggered", "sent_at": "t1"}


def record(status: str, fingerprint: str = "A", **fields: Any) -> DeliveryRecord:
    return DeliveryRecord(fingerprint, status, "E", "t0", **fields)  # type: ignore[arg-type]


# -- the stored form -------------------------------------------------------------------------------


def test_fingerprints_are_stable_across_versions():
    """A record written by this version must match the same payload after an upgrade: digest pinned."""
    body = b'{"event_name":"E","event_attributes":{"a":1}}'
    by_bytes = payload_fingerprint(body, workspace_id="W", base_url="https://api-01.moengage.com")
    assert by_bytes == "ad61d47bd8c356b3c86d14ea67057763ca14ccd8a3a07ddc4cb040de86f47db3"


@pytest.mark.parametrize("change", ["workspace_id", "base_url", "data"])
def test_a_fingerprint_changes_with_the_workspace_the_endpoint_and_the_bytes(change):
    args: dict[str, Any] = {"data": b"{}", "workspace_id": "W", "base_url": "https://h"}
    other = {**args, change: {"data": b"{ }", "workspace_id": "V", "base_url": "https://g"}[change]}
    assert payload_fingerprint(**args) != payload_fingerprint(**other)


def test_the_clock_is_utc_to_the_second():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", utc_now_iso())


def test_a_record_survives_its_stored_form_and_a_damaged_one_is_ignored():
    full = record("delivered", delivered_at="t1", result=RESULT, reason="why", rate_limited_since="t0")
    assert DeliveryRecord.from_json(full.to_json()) == full
    assert DeliveryRecord.from_json({**full.to_json(), "added_by_a_later_version": 1}) == full
    assert DeliveryRecord.from_json(["A", "delivered"]) is None
    assert DeliveryRecord.from_json({**full.to_json(), "fingerprint": None}) is None
    assert DeliveryRecord.from_json({**full.to_json(), "status": "sent"}) is None
    for status in ("sending", "unknown", "waiting", "delivered"):
        assert DeliveryRecord.from_json(record(status).to_json()) == record(status)


@pytest.mark.parametrize(
    ("status", "in_doubt"), [("sending", True), ("unknown", True), ("waiting", False), ("delivered", False)]
)
def test_only_a_request_without_a_clear_answer_leaves_a_doubt(status, in_doubt):
    assert record(status).in_doubt is in_doubt


class StateStore:
    """Airflow 3.3's task state store accessor, as a dict (get/set/delete)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


def test_the_store_keeps_one_record_under_one_key():
    accessor = StateStore()
    store = DeliveryStore(accessor)
    assert store.available and store.load() is None
    store.save(record("delivered", result=RESULT))
    assert list(accessor.data) == [STORE_KEY] == ["moengage_business_event_delivery"]
    assert store.load() == record("delivered", result=RESULT)
    store.save(record("waiting"))
    assert store.load() == record("waiting")
    store.save(None)
    assert accessor.data == {} and store.load() is None


def test_without_a_state_store_nothing_is_remembered():
    store = DeliveryStore(None)
    assert not store.available
    store.save(record("delivered"))
    store.save(None)
    assert store.load() is None


# -- the decisions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "mode", "dedup", "action"),
    [
        (None, "resend", True, Action.SEND),
        (record("delivered", "B"), "skip", True, Action.SEND),  # another payload
        (record("delivered"), "resend", True, Action.ALREADY_DELIVERED),
        (record("delivered"), "resend", False, Action.SEND),
        (record("waiting"), "fail", True, Action.SEND),
        (record("sending"), "resend", True, Action.SEND),
        (record("unknown"), "skip", True, Action.SKIP),
        (record("sending"), "fail", False, Action.FAIL),
        (record("unknown"), "check", True, Action.CHECK),
    ],
)
def test_what_a_try_does_before_sending(stored, mode, dedup, action):
    plan = plan_try(stored, "A", DeliverySettings(if_outcome_unknown=mode, deduplicate=dedup))
    assert plan == Plan(action, stored, stored is not None and stored.fingerprint == "A")


def test_a_changed_payload_after_a_delivery_is_told_apart():
    assert plan_try(record("delivered", "B"), "A", DeliverySettings()).payload_changed_since_delivery
    assert not plan_try(record("delivered"), "A", DeliverySettings()).payload_changed_since_delivery
    assert not plan_try(record("unknown", "B"), "A", DeliverySettings()).payload_changed_since_delivery
    assert not plan_try(None, "A", DeliverySettings()).payload_changed_since_delivery


def test_the_policies_for_an_unknown_outcome():
    assert {mode: policy.action for mode, policy in UNKNOWN_POLICIES.items()} == {
        "resend": Action.SEND,
        "skip": Action.SKIP,
        "fail": Action.FAIL,
        "check": Action.CHECK,
    }
    with pytest.raises(ValueError) as info:
        DeliverySettings(if_outcome_unknown="retry")
    assert str(info.value) == (
        "if_outcome_unknown must be one of 'resend', 'skip', 'fail', 'check', got 'retry'."
    )


def test_the_record_written_before_sending():
    plan = plan_try(record("waiting", rate_limited_since="t0"), "A", DeliverySettings())
    assert before_send(plan, "A", "E", "t5") == DeliveryRecord(
        "A", "sending", "E", "t5", rate_limited_since="t0"
    )
    other = plan_try(record("waiting", "B", rate_limited_since="t0"), "A", DeliverySettings())
    assert before_send(other, "A", "E", "t5").rate_limited_since is None


def test_a_delivery_keeps_what_a_deduplicated_rerun_returns():
    plan = plan_try(
        record("unknown", reason="read timeout", rate_limited_since="t0"), "A", DeliverySettings()
    )
    attempt = before_send(plan, "A", "E", "t5")
    delivered = after_attempt(plan, attempt, Outcome.DELIVERED, now="t6", reason="ignored", result=RESULT)
    assert delivered == DeliveryRecord("A", "delivered", "E", "t5", delivered_at="t6", result=RESULT)
    with_reason = replace(attempt, reason="an earlier read timeout")
    cleared = after_attempt(plan, with_reason, Outcome.DELIVERED, now="t6", result=RESULT)
    assert cleared == delivered  # no reason for doubt is kept once delivered
    assert plan_try(delivered, "A", DeliverySettings()).action is Action.ALREADY_DELIVERED


def test_an_unknown_outcome_keeps_why():
    plan = plan_try(None, "A", DeliverySettings())
    attempt = before_send(plan, "A", "E", "t1")
    assert after_attempt(plan, attempt, Outcome.UNKNOWN, now="t2", reason="read timeout") == replace(
        attempt, status="unknown", reason="read timeout"
    )


@pytest.mark.parametrize("stored", [None, record("unknown"), record("delivered", "B")])
def test_nothing_delivered_puts_back_what_was_there(stored):
    plan = plan_try(stored, "A", DeliverySettings(deduplicate=False))
    attempt = before_send(plan, "A", "E", "t1")
    assert after_attempt(plan, attempt, Outcome.NOT_DELIVERED, now="t2") is stored


def test_the_total_rate_limit_wait_counts_from_the_first_refusal():
    """Each refused try carries ``rate_limited_since`` into the next: the wait limit reads it."""
    config = DeliverySettings()
    stored = None
    for now in ("t1", "t2", "t3"):
        plan = plan_try(stored, "A", config)
        attempt = before_send(plan, "A", "E", now)
        stored = after_attempt(plan, attempt, Outcome.NOT_DELIVERED, now=now, rate_limited=True)
        assert stored == DeliveryRecord("A", "waiting", "E", now, rate_limited_since="t1")
    plan = plan_try(stored, "A", config)
    attempt = before_send(plan, "A", "E", "t4")
    delivered = after_attempt(plan, attempt, Outcome.DELIVERED, now="t4", result=RESULT)
    assert delivered is not None and delivered.rate_limited_since is None


@pytest.mark.parametrize("doubt", ["sending", "unknown"])
def test_a_rate_limit_after_a_doubt_keeps_the_doubt(doubt):
    """A worker killed mid-request left ``sending``; refused for the rate limit now, it stays in doubt."""
    plan = plan_try(record(doubt, reason="reset"), "A", DeliverySettings())
    attempt = before_send(plan, "A", "E", "t1")
    after = after_attempt(plan, attempt, Outcome.NOT_DELIVERED, now="t2", rate_limited=True)
    assert after == record("unknown", reason="reset", rate_limited_since="t2")


def test_a_rate_limited_resend_of_a_delivered_payload_stays_delivered():
    stored = record("delivered", delivered_at="t0", result=RESULT)
    plan = plan_try(stored, "A", DeliverySettings(deduplicate=False))
    attempt = before_send(plan, "A", "E", "t1")
    after = after_attempt(plan, attempt, Outcome.NOT_DELIVERED, now="t2", rate_limited=True)
    assert after == replace(stored, rate_limited_since="t2")


def test_skip_settles_a_doubt_as_delivered_when_it_was_sent():
    doubt = record("unknown", reason="read timeout")
    assert settle_doubt(doubt, RESULT) == replace(doubt, status="delivered", delivered_at="t0", result=RESULT)
