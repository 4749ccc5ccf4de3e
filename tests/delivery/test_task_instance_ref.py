"""Who a delivery belongs to (read from Airflow's task instance, in its Airflow 2 and 3 shapes), the
``X-MOE-Request-Id`` each try sends for it, and what the record says to a user: pure, no Airflow run."""

from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace

import pytest

from moengage_provider.delivery.record import (
    Action,
    DeliveryRecord,
    DeliverySettings,
    TaskInstanceRef,
    after_attempt,
    before_send,
    nothing_delivered_by_this_try,
    plan_try,
    policy_name,
    remember_wait,
)
from moengage_provider.exceptions import Outcome

UTC = dt.timezone.utc


# -- who runs the try ------------------------------------------------------------------------------


def test_an_airflow_2_task_instance_is_read_as_it_is():
    # Airflow 2's TaskInstance: map_index -1 when the task is not mapped, try_number from 1.
    ti = SimpleNamespace(
        dag_id="daily", task_id="announce", run_id="scheduled__2026-12-06", map_index=-1, try_number=2
    )
    assert TaskInstanceRef.of(ti) == TaskInstanceRef("daily", "announce", "scheduled__2026-12-06", -1, 2)


def test_a_mapped_airflow_3_task_instance_keeps_its_map_index():
    ti = SimpleNamespace(dag_id="daily", task_id="announce", run_id="manual__1", map_index=3, try_number=1)
    assert TaskInstanceRef.of(ti) == TaskInstanceRef("daily", "announce", "manual__1", 3, 1)


def test_an_airflow_3_task_instance_without_a_map_index_is_not_mapped():
    # Airflow 3's RuntimeTaskInstance types map_index as int | None.
    ti = SimpleNamespace(dag_id="daily", task_id="announce", run_id="manual__1", map_index=None, try_number=4)
    assert TaskInstanceRef.of(ti) == TaskInstanceRef("daily", "announce", "manual__1", -1, 4)


@pytest.mark.parametrize("try_number", [None, 0])
def test_a_task_instance_without_a_try_number_is_try_0(try_number):
    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=0, try_number=try_number)
    assert TaskInstanceRef.of(ti) == TaskInstanceRef("d", "t", "r", 0, 0)


def test_a_stand_in_with_only_the_ids_is_an_unmapped_try_0():
    assert TaskInstanceRef.of(SimpleNamespace(dag_id="d", task_id="t", run_id="r")) == TaskInstanceRef(
        "d", "t", "r", -1, 0
    )


def test_a_task_instance_s_ids_and_numbers_are_read_as_text_and_integers():
    ti = SimpleNamespace(dag_id=1, task_id=2, run_id=3, map_index="5", try_number="2")
    assert TaskInstanceRef.of(ti) == TaskInstanceRef("1", "2", "3", 5, 2)


def test_outside_a_task_run_the_delivery_belongs_to_no_task_instance():
    assert TaskInstanceRef.of(None) == TaskInstanceRef("", "", "", -1, 0)


# -- the X-MOE-Request-Id of a delivery ------------------------------------------------------------

TASK = TaskInstanceRef("daily", "announce", "scheduled__2026-12-06", -1, 1)


def test_the_request_id_is_a_uuid4_in_its_canonical_text():
    request_id = TASK.request_id("fingerprint-A")
    parsed = uuid.UUID(request_id)
    assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, request_id)
    # Pinned, so that a delivery retried after an upgrade of this provider still sends the same ID:
    # `printf 'daily\nannounce\nscheduled__2026-12-06\n-1\nfingerprint-A' | sha256sum` starts
    # 1210a6fce38e1e58c3c4e2a58cd95058; UUID4 sets its version nibble (1 -> 4) and variant (c -> 8).
    assert request_id == "1210a6fc-e38e-4e58-83c4-e2a58cd95058"


def test_every_try_of_one_delivery_sends_the_same_request_id():
    tries = [TaskInstanceRef("daily", "announce", "scheduled__2026-12-06", -1, n) for n in (1, 2, 7)]
    assert {t.request_id("fingerprint-A") for t in tries} == {TASK.request_id("fingerprint-A")}


@pytest.mark.parametrize(
    ("task", "fingerprint"),
    [
        (TASK, "fingerprint-B"),  # another payload
        (TaskInstanceRef("weekly", "announce", "scheduled__2026-12-06"), "fingerprint-A"),
        (TaskInstanceRef("daily", "remind", "scheduled__2026-12-06"), "fingerprint-A"),
        (TaskInstanceRef("daily", "announce", "scheduled__2026-12-07"), "fingerprint-A"),
        (TaskInstanceRef("daily", "announce", "scheduled__2026-12-06", 0), "fingerprint-A"),
    ],
)
def test_another_payload_or_task_instance_or_map_index_sends_another_request_id(task, fingerprint):
    assert task.request_id(fingerprint) != TASK.request_id("fingerprint-A")


def test_each_mapped_task_instance_has_its_own_request_id():
    ids = {TaskInstanceRef("daily", "announce", "r", n).request_id("A") for n in (-1, 0, 1, 2)}
    assert len(ids) == 4


# -- what the record says --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record",
    [
        None,
        DeliveryRecord("A", "waiting", "order_placed", "2026-12-06T10:00:00+00:00"),
        DeliveryRecord("A", "delivered", "order_placed", "2026-12-06T10:00:00+00:00"),
        DeliveryRecord("A", "sending", "order_placed", "2026-12-06T10:00:00+00:00"),
    ],
)
def test_a_try_that_failed_without_a_doubt_says_nothing_was_delivered(record):
    assert nothing_delivered_by_this_try(record) == "Nothing was delivered."


def test_a_try_that_failed_after_a_doubt_says_an_earlier_try_may_have_delivered_and_why():
    record = DeliveryRecord("A", "unknown", "order_placed", "2026-12-06T10:00:00+00:00", reason="timed out")
    assert nothing_delivered_by_this_try(record) == (
        "This try delivered nothing, but an earlier try at 2026-12-06T10:00:00+00:00 may have delivered "
        "business event 'order_placed' (timed out)."
    )
    unexplained = DeliveryRecord("A", "unknown", "order_placed", "2026-12-06T10:00:00+00:00")
    assert nothing_delivered_by_this_try(unexplained).endswith("(it ended while in flight).")


@pytest.mark.parametrize(
    ("action", "name"),
    [(Action.SEND, "resend"), (Action.SKIP, "skip"), (Action.FAIL, "fail"), (Action.CHECK, "check")],
)
def test_each_doubt_resolution_is_named_by_its_if_outcome_unknown_value(action, name):
    assert policy_name(action) == name


# -- the rate-limit memory, field by field ---------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "moment"),
    [
        ("2026-12-06T10:00:00+00:00", dt.datetime(2026, 12, 6, 10, 0, tzinfo=UTC)),
        ("2026-12-06T15:30:00+05:30", dt.datetime(2026, 12, 6, 10, 0, tzinfo=UTC)),
        ("2026-12-06T10:00:00", dt.datetime(2026, 12, 6, 10, 0, tzinfo=UTC)),  # no zone: UTC
    ],
)
def test_since_when_a_payload_waits_is_read_as_the_moment_written(written, moment):
    since = DeliveryRecord("A", "waiting", "E", "t0", rate_limited_since=written).waiting_since
    assert since == moment
    assert since is not None and since.utcoffset() is not None  # comparable with an aware clock


def test_a_delivered_record_forgets_every_wait():
    waited = remember_wait(
        DeliveryRecord("A", "waiting", "E", "t0", rate_limited_since="2026-12-06T10:00:00+00:00"),
        1,
        dt.datetime(2026, 12, 6, 11, 0, tzinfo=UTC),
    )
    plan = plan_try(waited, "A", DeliverySettings())
    delivered = after_attempt(plan, before_send(plan, "A", "E", "t1"), Outcome.DELIVERED, now="t2", result={})
    assert delivered is not None
    assert (delivered.rate_limited_since, delivered.rate_limit_level, delivered.rate_limit_until) == (
        None,
        None,
        None,
    )


def test_a_wait_a_header_decided_clears_both_fields_of_the_window_wait():
    record = DeliveryRecord(
        "A", "waiting", "E", "t0", rate_limit_level=1, rate_limit_until="2026-12-06T11:00:00+00:00"
    )
    after = remember_wait(record, None, dt.datetime(2026, 12, 6, 11, 5, tzinfo=UTC))
    assert (after.rate_limit_level, after.rate_limit_until) == (None, None)
