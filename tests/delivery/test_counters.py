"""The "check" decision: what MoEngage's counters say about a send whose outcome is unknown."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moengage_provider.delivery.counters import VERDICTS, Counters, judge, read_counters, settle_seconds
from moengage_provider.testing import MoEngageSandbox


def counters(total: int, last: str | None = "2026-12-01T10:00:00") -> Counters:
    return Counters(total, last, "2026-12-01T10:00:05+00:00")


@pytest.mark.parametrize(
    ("before", "after", "in_flight", "verdict", "case"),
    [
        (counters(3), counters(3), 1, "not_delivered", "unchanged"),
        (counters(3), counters(4, "2026-12-01T10:00:09"), 1, "delivered", "one more, one send in flight"),
        (
            counters(3),
            counters(4, "2026-12-01T10:00:09"),
            2,
            "inconclusive",
            "one more, several sends in flight",
        ),
        (counters(3), counters(5), 1, "inconclusive", "more than one more"),
        (counters(3), counters(2), 1, "inconclusive", "fewer"),
        (counters(3), counters(3, "2026-12-01T10:00:09"), 1, "inconclusive", "time moved, count did not"),
        (None, counters(3), 1, "inconclusive", "unreadable"),
        (counters(3), None, 1, "inconclusive", "unreadable"),
    ],
)
def test_judge_follows_the_table(before, after, in_flight, verdict, case) -> None:
    result = judge(before, after, sends_in_flight=in_flight)
    assert (result.verdict, result.case) == (verdict, case)
    assert (case, verdict) in {(c, v) for c, v, _ in VERDICTS}
    assert case in result.explain()


@given(st.integers(0, 10_000), st.integers(-5, 5), st.integers(1, 3))
def test_only_exactly_one_more_with_one_send_counts_as_delivered(
    total: int, delta: int, in_flight: int
) -> None:
    real_delta = max(total + delta, 0) - total
    after = counters(total + real_delta, "2026-12-01T10:00:00" if real_delta == 0 else "2026-12-01T11:00:00")
    result = judge(counters(total), after, sends_in_flight=in_flight)
    assert (result.verdict == "delivered") == (real_delta == 1 and in_flight == 1)
    assert (result.verdict == "not_delivered") == (real_delta == 0)


def test_counters_round_trip_through_json() -> None:
    value = counters(7)
    assert Counters.from_json(value.to_json()) == value
    assert Counters.from_json({"total_trigger": "7"}) is None
    assert Counters.from_json(None) is None


def test_settle_delay_is_bounded() -> None:
    assert settle_seconds(-1) == 0 and settle_seconds(5) == 5 and settle_seconds(3600) == 60


def test_read_counters_from_a_real_search() -> None:
    """One search call against the sandbox; an unknown event or a failing search reads as None."""
    from moengage_provider.hooks.moengage import MoEngageHook

    events = {"Announced": {"attributes": {"n": "int"}}}
    with MoEngageSandbox("W", "K", events=events, permissive=False) as sb:
        import os

        os.environ["AIRFLOW_CONN_MOENGAGE_COUNTERS"] = sb.airflow_conn_json()
        try:
            hook = MoEngageHook("moengage_counters")
            before = read_counters(hook, "Announced")
            assert before is not None and before.total_trigger == 0 and before.last_received_time is None
            hook.trigger_business_event("Announced", {"n": 1})
            after = read_counters(hook, "Announced")
            assert after is not None and after.total_trigger == 1 and after.last_received_time
            assert judge(before, after).verdict == "delivered"
            assert read_counters(hook, "NotDeclared") is None
            sb.fail_next(500, path="/v1.0/business_event/search")
            assert read_counters(hook, "Announced") is None
        finally:
            del os.environ["AIRFLOW_CONN_MOENGAGE_COUNTERS"]
