"""
The outcomes table against a list written out by hand, not read from the table: every HTTP status
from 100 to 599 and every failure kind, with what it must mean. An edit of the table (a status moved
to another row, a failure kind moved, a row's resend or Airflow column changed) fails here, and the
over-HTTP matrix (tests/operators/test_outcome_matrix.py) then shows what a user would see.

Written from the failures page (docs/failures.md) and MoEngage's documented answers: 2xx delivered; 503,
408 and 425 say the server did not process the request, so the hook resends at once; 429 waits for
the window; 303 means a server processed the POST and redirects (unknown); other 3xx and 4xx are not
delivered and a retry cannot fix them; 1xx as a final answer and other 5xx leave the outcome unknown.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from moengage_provider.api.outcomes import (
    FAILS_NOW,
    RETRIES,
    SUCCEEDS,
    WAITS,
    Failure,
    Outcome,
    Rule,
    for_failure,
    for_status,
)


class Meaning(NamedTuple):
    outcome: Outcome
    hook_resends: bool
    airflow: str
    error: str | None


DELIVERED = Meaning(Outcome.DELIVERED, False, SUCCEEDS, None)
CLIENT_ERROR = Meaning(Outcome.NOT_DELIVERED, False, FAILS_NOW, "MoEngageClientError")
NOT_PROCESSED = Meaning(Outcome.NOT_DELIVERED, True, RETRIES, "MoEngageApiError")
UNAVAILABLE = Meaning(Outcome.NOT_DELIVERED, True, RETRIES, "MoEngageServerError")
RATE_LIMITED = Meaning(Outcome.NOT_DELIVERED, False, WAITS, "MoEngageRateLimitError")
SEE_OTHER = Meaning(Outcome.UNKNOWN, False, FAILS_NOW, "MoEngageClientError")
SERVER_ERROR = Meaning(Outcome.UNKNOWN, False, RETRIES, "MoEngageServerError")
NEVER_LEFT = Meaning(Outcome.NOT_DELIVERED, True, RETRIES, "MoEngageConnectionError")
TLS_FAILED = Meaning(Outcome.NOT_DELIVERED, False, RETRIES, "MoEngageConnectionError")
LOST_ANSWER = Meaning(Outcome.UNKNOWN, False, RETRIES, "MoEngageConnectionError")
NOT_MOENGAGE = Meaning(Outcome.UNKNOWN, False, RETRIES, "MoEngageServerError")

#: (first status, last status, meaning), by hand; the list below checks it covers 100-599 once.
BY_HAND: list[tuple[int, int, Meaning]] = [
    (100, 199, SERVER_ERROR),
    (200, 299, DELIVERED),
    (300, 302, CLIENT_ERROR),
    (303, 303, SEE_OTHER),
    (304, 399, CLIENT_ERROR),
    (400, 407, CLIENT_ERROR),
    (408, 408, NOT_PROCESSED),
    (409, 424, CLIENT_ERROR),
    (425, 425, NOT_PROCESSED),
    (426, 428, CLIENT_ERROR),
    (429, 429, RATE_LIMITED),
    (430, 499, CLIENT_ERROR),
    (500, 502, SERVER_ERROR),
    (503, 503, UNAVAILABLE),
    (504, 599, SERVER_ERROR),
]

FAILURES_BY_HAND: dict[Failure, Meaning] = {
    Failure.REFUSED: NEVER_LEFT,
    Failure.DNS: NEVER_LEFT,
    Failure.CONNECT_TIMEOUT: NEVER_LEFT,
    Failure.PROXY: NEVER_LEFT,
    Failure.TLS: TLS_FAILED,
    Failure.READ_TIMEOUT: LOST_ANSWER,
    Failure.RESET_BEFORE_ANSWER: LOST_ANSWER,
    Failure.TRUNCATED_ANSWER: LOST_ANSWER,
    Failure.UNEXPECTED: LOST_ANSWER,
    Failure.NOT_MOENGAGE_JSON: NOT_MOENGAGE,
}


def _meaning(rule: Rule) -> Meaning:
    error = " / ".join(cls.__name__ for cls in rule.errors) or None
    return Meaning(rule.outcome, rule.hook_retries, rule.airflow, error)


def _expected(status: int) -> Meaning:
    (meaning,) = [meaning for low, high, meaning in BY_HAND if low <= status <= high]
    return meaning


def test_the_hand_list_covers_every_status_once():
    covered = [status for low, high, _ in BY_HAND for status in range(low, high + 1)]
    assert covered == list(range(100, 600))


@pytest.mark.parametrize("status", range(100, 600))
def test_each_status_means_what_the_hand_list_says(status):
    assert _meaning(for_status(status)) == _expected(status)


@pytest.mark.parametrize("status", [-1, 0, 42, 99, 600, 601, 999, 10**6])
def test_a_status_outside_http_is_the_worst_case(status):
    assert _meaning(for_status(status)) == SERVER_ERROR


@pytest.mark.parametrize("kind", list(Failure), ids=lambda kind: kind.value)
def test_each_failure_kind_means_what_the_hand_list_says(kind):
    assert kind in FAILURES_BY_HAND, f"a new failure kind {kind!r}: decide its meaning and add it here"
    assert _meaning(for_failure(kind)) == FAILURES_BY_HAND[kind]


def test_the_rows_read_by_people_say_what_they_cover():
    """README's table is rendered from each row's ``what``: a moved status must move its words too."""
    assert "303" in for_status(303).what
    assert "408" in for_status(408).what and "425" in for_status(425).what
    assert "429" in for_status(429).what
    assert "503" in for_status(503).what
    assert "proxy" in for_failure(Failure.PROXY).what
    assert "TLS" in for_failure(Failure.TLS).what
