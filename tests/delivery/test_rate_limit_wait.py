"""
Waiting out MoEngage's rate limit in a try, over real HTTP against the sandbox: the order in which the
answer's headers decide, the reset as a moment, the published windows and their escalation across
deferrals (the delivery record remembers), the jitter, the wait's log line, the total-wait bound, and
what is left of the window in the per-trigger log line and its metric. Windows last seconds.

A deferral is what Airflow does with it: the try raises, the test waits until the moment the try
asked for (the triggerer's part), then runs the next try with the same task state store.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import math
import re
import time
from typing import Any

import pytest

from moengage_provider.api.payload import prepare_trigger
from moengage_provider.delivery.attempt import Attempt
from moengage_provider.delivery.idempotency import DeliveryHistory
from moengage_provider.delivery.record import DeliverySettings, TaskInstanceRef
from moengage_provider.delivery.stores import DeliveryStore
from moengage_provider.exceptions import AirflowFailException
from moengage_provider.hooks.moengage import MoEngageHook
from moengage_provider.observability import metrics
from tests.dagrun import captured_log
from tests.delivery.test_attempt import MemoryState

UTC = dt.timezone.utc
LOGGER = "test_rate_limit_wait"
#: An always-full workspace with no rate-limit header: the published windows alone decide.
NO_HEADERS_ALWAYS_FULL = pytest.mark.moengage_sandbox(five_minute_limit=0, rate_limit_headers=False)
#: The operator's ``rate_limit_window``: MoEngage's hour as 24 s, so five minutes last 2 s, a day 576 s.
HOUR = dt.timedelta(seconds=24)
WAIT_LINE = re.compile(
    r"MoEngage rate limit hit for '(?P<event>[^']+)' \(HTTP 429(?:, request_id=[0-9a-f]{24})?\)\. "
    r"Waiting (?P<duration>\w+), until (?P<until>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC, decided by "
    r"(?P<decided_by>[^(]+) \((?P<why>.*)\); (?P<how>(?:deferring|sleeping|handing)[^.]*)\. "
    r"This is a wait, not a failed delivery\. "
    r"MoEngage allows 10 business event triggers per 5 minutes, 50 per hour and 200 per day per workspace"
)


class Deferred(Exception):
    def __init__(self, until: dt.datetime) -> None:
        super().__init__(until)
        self.until = until


def defer(until: dt.datetime) -> Any:
    raise Deferred(until)


def a_try(store: DeliveryStore, sku: str = "A1", **settings: Any) -> Attempt:
    return Attempt(
        prepare_trigger("PriceDrop", {"sku": sku}),
        DeliverySettings(**{"rate_limit_window": HOUR, **settings}),
        TaskInstanceRef("dag", "fire", "run", try_number=1),
        MoEngageHook(),
        store,
        DeliveryHistory(None),
        logging.getLogger(LOGGER),
        defer,
    )


def run_until_deferred(attempt: Attempt) -> dt.datetime:
    with pytest.raises(Deferred) as deferred:
        attempt.run()
    return deferred.value.until


def sleep_until(moment: dt.datetime) -> None:
    time.sleep(max(0.0, (moment - dt.datetime.now(UTC)).total_seconds()))


def sleep_until_phase(seconds: float, low: float, high: float) -> None:
    """Until the clock is between ``low`` and ``high`` seconds into a window of ``seconds`` (epoch-aligned)."""
    phase = time.time() % seconds
    if not low <= phase < high:
        time.sleep((low - phase) % seconds + 0.01)


def wait_lines(caplog: pytest.LogCaptureFixture) -> list[re.Match[str]]:
    lines = [
        r.getMessage() for r in caplog.records if r.name == LOGGER and "rate limit hit" in r.getMessage()
    ]
    matches = [WAIT_LINE.search(line) for line in lines]
    assert all(matches), lines
    return [m for m in matches if m]


def trigger_lines(capfd: pytest.CaptureFixture[str]) -> list[str]:
    """The hook's per-trigger log lines (Airflow's logging writes them to the task's output)."""
    return [
        line
        for line in captured_log(capfd).splitlines()
        if "MoEngage business event 'PriceDrop' triggered" in line
    ]


def http_date(moment: dt.datetime) -> str:
    return email.utils.format_datetime(moment, usegmt=True)


@pytest.fixture
def gauges(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float, dict[str, str]]]:
    """The gauges the try emits, as (name, value, tags)."""
    seen: list[tuple[str, float, dict[str, str]]] = []

    class Stats:
        def incr(self, stat: str, tags: dict[str, str]) -> None: ...

        def timing(self, stat: str, value: Any, tags: dict[str, str]) -> None: ...

        def gauge(self, stat: str, value: float, tags: dict[str, str]) -> None:
            seen.append((stat.removeprefix(metrics.PREFIX + "."), value, tags))

    monkeypatch.setattr(metrics, "_stats", Stats)
    return seen


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


# -- the order: Retry-After, then x-ratelimit-reset ------------------------------------------------


def test_retry_after_decides_before_the_reset(moengage_sandbox, caplog):
    far_reset = int(time.time()) + 600
    moengage_sandbox.fail_next(429, headers={"Retry-After": "30", "x-ratelimit-reset": str(far_reset)})
    attempt = a_try(DeliveryStore(MemoryState()), deferrable=True)

    until = run_until_deferred(attempt)

    received = attempt.hook.last_rate_limit.received_at
    assert received + dt.timedelta(seconds=30) <= until <= received + dt.timedelta(seconds=31.5)
    (line,) = wait_lines(caplog)
    assert line["decided_by"] == "Retry-After"


def test_retry_after_as_an_http_date_is_waited_until(moengage_sandbox, caplog):
    moment = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(seconds=40)
    moengage_sandbox.fail_next(429, headers={"Retry-After": http_date(moment)})

    until = run_until_deferred(a_try(DeliveryStore(MemoryState()), deferrable=True))

    assert moment <= until <= moment + dt.timedelta(seconds=2.1)
    assert wait_lines(caplog)[0]["decided_by"] == "Retry-After"


def test_the_reset_decides_without_retry_after_and_is_a_moment(moengage_sandbox, caplog):
    reset = dt.datetime.fromtimestamp(int(time.time()) + 20, tz=UTC)
    moengage_sandbox.fail_next(429, headers={"x-ratelimit-reset": str(int(reset.timestamp()))})

    until = run_until_deferred(a_try(DeliveryStore(MemoryState()), deferrable=True))

    assert reset <= until <= reset + dt.timedelta(seconds=1.05)  # 5% of the 20 s wait, at most
    (line,) = wait_lines(caplog)
    assert line["decided_by"] == "x-ratelimit-reset"
    assert line["until"] == f"{until:%Y-%m-%d %H:%M:%S}"


@pytest.mark.moengage_sandbox(five_minute_limit=1, five_minute_seconds=3)
def test_a_refused_trigger_waits_for_the_sandbox_window_to_reset_then_sends_once(moengage_sandbox, caplog):
    sleep_until_phase(3, 0.05, 1.0)  # both triggers in one window of the sandbox
    a_try(DeliveryStore(MemoryState()), sku="A1").run()

    result = a_try(DeliveryStore(MemoryState()), sku="B2").run()  # refused, sleeps in the worker

    (line,) = wait_lines(caplog)
    assert line["decided_by"] == "x-ratelimit-reset" and line["how"] == "sleeping in the worker"
    refused = [r for r in moengage_sandbox.requests if r["status"] == 429]
    assert len(refused) == 1  # one refusal, one wait: no hammering
    reset = math.ceil(dt.datetime.fromisoformat(refused[0]["received_at"]).timestamp() / 3) * 3
    accepted = dt.datetime.fromisoformat(moengage_sandbox.triggers[-1]["received_at"])
    assert accepted.timestamp() >= reset  # not a moment before the window reopened
    assert [t["event_attributes"]["sku"] for t in moengage_sandbox.triggers] == ["A1", "B2"]
    assert result["event_name"] == "PriceDrop"


# -- the published windows, without any header -----------------------------------------------------


@NO_HEADERS_ALWAYS_FULL
def test_without_headers_the_windows_escalate_across_deferrals_five_minutes_hour_day(
    moengage_sandbox, caplog
):
    # Start where the escalation shows in full: from the fifth "five minutes" of an "hour" on (ten per
    # five minutes could have filled the hour's fifty), past the first three "hours" of the "day" (fifty
    # an hour could have filled its two hundred), and well before its end (its wait must be too long).
    while not (8.1 <= time.time() % 24 < 20 and 80 <= time.time() % 576 < 540):
        time.sleep(0.05)
    store = DeliveryStore(MemoryState())
    bound = dict(deferrable=True, max_rate_limit_wait=dt.timedelta(seconds=30))
    moments = []
    for _ in range(2):
        moments.append(run_until_deferred(a_try(store, **bound)))
        sleep_until(moments[-1])

    with pytest.raises(AirflowFailException, match="decided by the daily window") as failed:
        a_try(store, **bound).run()

    lines = wait_lines(caplog)
    assert [m["decided_by"] for m in lines] == ["the five-minute window", "the hourly window"]
    five, hour = (m.timestamp() for m in moments)
    assert five % 2 <= 0.1 + 1e-3  # the next "five minutes" (2 s) plus at most 5% of them
    assert hour % 24 <= 1.2 + 1e-3 and hour - five < 24  # the next "hour" (24 s), not a day
    assert "past max_rate_limit_wait=30s" in str(failed.value)
    assert len(moengage_sandbox.requests) == 3 and moengage_sandbox.triggers == []


@NO_HEADERS_ALWAYS_FULL
def test_a_first_refusal_never_waits_for_the_top_of_the_hour(moengage_sandbox, caplog):
    sleep_until_phase(24, 16.1, 21)  # late in the "hour": its top is under 8 s away
    until = run_until_deferred(a_try(DeliveryStore(MemoryState()), deferrable=True))
    assert wait_lines(caplog)[0]["decided_by"] == "the five-minute window"
    assert 17.9 <= until.timestamp() % 24 < 23  # the next five-minute boundary, not the top of the hour


@NO_HEADERS_ALWAYS_FULL
def test_early_in_the_hour_a_repeated_refusal_waits_for_five_minutes_again(moengage_sandbox, caplog):
    sleep_until_phase(24, 0.1, 3)  # the hour cannot be full yet: others took the five minutes
    store = DeliveryStore(MemoryState())
    sleep_until(run_until_deferred(a_try(store, deferrable=True)))
    run_until_deferred(a_try(store, deferrable=True))
    first, second = wait_lines(caplog)
    assert (first["decided_by"], second["decided_by"]) == ("the five-minute window",) * 2
    assert "the hourly window cannot be full yet" in second["why"]


# -- jitter, the log line, the total wait ----------------------------------------------------------


def test_every_wait_gets_a_jitter_of_at_most_five_percent(moengage_sandbox):
    moengage_sandbox.fail_next(429, headers={"Retry-After": "20"})
    attempt = a_try(DeliveryStore(MemoryState()), deferrable=True)

    until = run_until_deferred(attempt)

    jitter = (until - attempt.hook.last_rate_limit.received_at).total_seconds() - 20
    assert 0 < jitter <= 1.0


def test_the_wait_log_line_says_how_long_until_when_and_what_decided(moengage_sandbox, caplog):
    moengage_sandbox.fail_next(429, headers={"Retry-After": "90"})
    started = dt.datetime.now(UTC)

    until = run_until_deferred(a_try(DeliveryStore(MemoryState()), deferrable=True))

    (line,) = wait_lines(caplog)
    assert line["event"] == "PriceDrop"
    assert line["duration"] in ("1m30s", "1m31s", "1m32s", "1m33s", "1m34s", "1m35s")
    assert line["until"] == f"{until:%Y-%m-%d %H:%M:%S}" and until >= started + dt.timedelta(seconds=90)
    assert line["decided_by"] == "Retry-After"
    assert re.fullmatch(r"MoEngage's Retry-After header says \d\d:\d\d:\d\d UTC", line["why"])
    assert line["how"] == "deferring (worker slot released)"


def test_the_total_wait_counts_from_the_first_refusal_across_deferrals(moengage_sandbox, caplog):
    moengage_sandbox.fail_next(429, count=5, headers={"Retry-After": "2"})
    store = DeliveryStore(MemoryState())
    bound = dict(deferrable=True, max_rate_limit_wait=dt.timedelta(seconds=5))
    for _ in range(2):  # waited 0 s, then about 2 s: each 2 s wait still fits in 5 s
        sleep_until(run_until_deferred(a_try(store, **bound)))

    with pytest.raises(AirflowFailException, match=r"still refused after waiting 4s") as failed:
        a_try(store, **bound).run()

    assert "past max_rate_limit_wait=5s" in str(failed.value) and "Nothing was delivered" in str(failed.value)
    assert len(moengage_sandbox.requests) == 3


# -- what is left of the window --------------------------------------------------------------------


@pytest.mark.moengage_sandbox(five_minute_limit=10)
def test_each_trigger_says_what_is_left_of_the_window_in_its_log_line_and_a_metric(
    moengage_sandbox, capfd, gauges
):
    sleep_until_phase(300, 0.0, 298.0)  # both in one five-minute window
    a_try(DeliveryStore(MemoryState()), sku="A1").run()
    a_try(DeliveryStore(MemoryState()), sku="B2").run()

    lines = trigger_lines(capfd)
    assert len(lines) == 2, lines
    left = [re.search(r"MoEngage rate limit: (\d+) of 10 left until (\S+ \S+) UTC", line) for line in lines]
    assert [m and m.group(1) for m in left] == ["9", "8"]
    state = moengage_sandbox.rate_limit_state()
    assert left[1] is not None
    ends = dt.datetime.fromtimestamp(math.ceil(state["five_minutes_window_ends_at"]), tz=UTC)
    assert left[1].group(2) == f"{ends:%Y-%m-%d %H:%M:%S}"
    assert [(name, value, tags["limit"]) for name, value, tags in gauges] == [
        ("rate_limit_remaining", 9, "10"),
        ("rate_limit_remaining", 8, "10"),
    ]


@pytest.mark.moengage_sandbox(rate_limit_headers=False)
def test_without_the_header_nothing_is_said_about_what_is_left(moengage_sandbox, capfd, gauges):
    a_try(DeliveryStore(MemoryState())).run()
    lines = trigger_lines(capfd)
    assert len(lines) == 1 and "rate limit" not in lines[0]
    assert gauges == []
