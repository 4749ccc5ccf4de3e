"""The delivery state machine alone (no Airflow, no HTTP): any sequence of outcomes, any settings."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from moengage_provider.api.rate_limits import EarlierWait
from moengage_provider.delivery.record import (
    UNKNOWN_POLICIES,
    Action,
    DeliveryRecord,
    DeliverySettings,
    after_attempt,
    after_rate_limit,
    before_send,
    plan_try,
    remember_wait,
    settle_doubt,
)
from moengage_provider.exceptions import Outcome
from tests.conftest import examples

STEPS = st.lists(
    st.tuples(st.sampled_from(list(Outcome)), st.booleans(), st.sampled_from(["A", "B"])), max_size=12
)


@settings(max_examples=examples(300), deadline=None)
@given(steps=STEPS, mode=st.sampled_from(list(UNKNOWN_POLICIES)), dedup=st.booleans())
def test_the_record_never_forgets_a_delivery_or_a_doubt(steps, mode, dedup):
    config = DeliverySettings(if_outcome_unknown=mode, deduplicate=dedup)
    record = None
    # The model: per payload, was it delivered, and may an unanswered request have delivered it?
    delivered: dict[str, bool] = {}
    doubt: dict[str, bool] = {}
    last_payload = None
    for n, (outcome, rate_limited, payload) in enumerate(steps):
        plan = plan_try(record, payload, config)
        same = payload == last_payload
        if same and delivered.get(payload) and not doubt.get(payload):
            assert plan.action is (Action.ALREADY_DELIVERED if dedup else Action.SEND)
        elif same and doubt.get(payload):
            assert plan.action is UNKNOWN_POLICIES[mode].action
        else:
            assert plan.action is Action.SEND
        if plan.action is Action.ALREADY_DELIVERED or plan.action is Action.FAIL:
            continue
        if plan.action is Action.SKIP:
            assert plan.previous is not None
            record = settle_doubt(plan.previous, {"outcome": "skipped"})
            delivered[payload], doubt[payload] = True, False
            continue
        if not same:
            delivered.pop(payload, None)
            doubt.pop(payload, None)
        attempt = before_send(plan, payload, "E", f"t{n}")
        assert attempt.in_doubt  # a worker killed now leaves a doubt behind
        is_rate_limit = rate_limited and outcome is Outcome.NOT_DELIVERED
        record = after_attempt(plan, attempt, outcome, now=f"t{n}", reason="why", rate_limited=is_rate_limit)
        if outcome is Outcome.DELIVERED:
            delivered[payload], doubt[payload] = True, False
        elif outcome is Outcome.UNKNOWN:
            doubt[payload] = True
        if outcome is Outcome.NOT_DELIVERED and not same:
            # Nothing new happened: the record of the other payload (if any) is kept as it was.
            assert record is plan.previous or is_rate_limit
            if record is plan.previous:
                continue
        last_payload = payload
        assert record is not None
        assert record.in_doubt == bool(doubt.get(payload)), (record, doubt)
        assert (record.status == "delivered") == (bool(delivered.get(payload)) and not doubt.get(payload))


def test_the_operator_offers_exactly_the_delivery_policies():
    """The operator checks ``if_outcome_unknown`` at parse without importing this module: same set."""
    from typing import get_args

    from moengage_provider.delivery.record import UNKNOWN_POLICIES
    from moengage_provider.operators.business_event import IfOutcomeUnknown

    assert set(get_args(IfOutcomeUnknown)) == set(UNKNOWN_POLICIES)


# -- the rate-limit memory: since when a payload waits, and its latest wait for a window -------------


def test_a_waiting_payload_keeps_since_when_it_waits_and_its_latest_window_wait_until_delivered():
    config = DeliverySettings()
    first = before_send(plan_try(None, "A", config), "A", "E", "t0")
    refused = after_rate_limit(plan_try(None, "A", config), first, now="2026-12-06T10:00:00+00:00")
    waiting = remember_wait(refused, 0, dt.datetime(2026, 12, 6, 10, 5, 3, tzinfo=dt.timezone.utc))
    assert (waiting.status, waiting.rate_limited_since) == ("waiting", "2026-12-06T10:00:00+00:00")

    # The next try (after a deferral or a retry) loads it and sends again: the memory goes along.
    plan = plan_try(DeliveryRecord.from_json(waiting.to_json()), "A", config)
    again = before_send(plan, "A", "E", "t1")
    assert again.rate_limited_since == "2026-12-06T10:00:00+00:00"
    assert again.earlier_wait == EarlierWait(0, dt.datetime(2026, 12, 6, 10, 5, 3, tzinfo=dt.timezone.utc))
    refused_again = after_rate_limit(plan, again, now="2026-12-06T10:05:04+00:00")
    assert refused_again.rate_limited_since == "2026-12-06T10:00:00+00:00"  # not the second refusal's time
    assert refused_again.earlier_wait == again.earlier_wait

    delivered = after_attempt(plan, again, Outcome.DELIVERED, now="t2", result={})
    assert delivered is not None
    assert (delivered.rate_limited_since, delivered.earlier_wait) == (None, None)


def test_a_wait_a_header_decided_is_no_step_of_the_windows():
    record = DeliveryRecord(
        "A", "waiting", "E", "t0", rate_limit_level=1, rate_limit_until="2026-12-06T11:00:00+00:00"
    )
    assert (
        remember_wait(record, None, dt.datetime(2026, 12, 6, 11, 5, tzinfo=dt.timezone.utc)).earlier_wait
        is None
    )


def test_an_unreadable_window_wait_is_forgotten_not_fatal():
    for level, until in (
        (True, "2026-12-06T11:00:00+00:00"),
        ("1", "2026-12-06T11:00:00+00:00"),
        (1, "soon"),
    ):
        record = DeliveryRecord.from_json(
            {
                "fingerprint": "A",
                "status": "waiting",
                "event_name": "E",
                "attempted_at": "t0",
                "rate_limit_level": level,
                "rate_limit_until": until,
            }
        )
        assert record is not None and record.earlier_wait is None
