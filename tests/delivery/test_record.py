"""The delivery state machine alone (no Airflow, no HTTP): any sequence of outcomes, any settings."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from moengage_provider.delivery.record import (
    UNKNOWN_POLICIES,
    Action,
    DeliverySettings,
    after_attempt,
    before_send,
    plan_try,
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
