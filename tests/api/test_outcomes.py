"""The one outcomes table: total over statuses and failure kinds, and the copy in docs/failures.md agrees."""

from __future__ import annotations

import re

import pytest

from moengage_provider import exceptions
from moengage_provider.api.outcomes import RULES, for_answer, for_failure, for_status, markdown_table
from moengage_provider.api.versions import Answer
from moengage_provider.exceptions import Failure, Outcome
from tests.conftest import REPO


def test_documented_failure_table_is_the_code_table():
    docs = (REPO / "docs" / "failures.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- outcomes table:[^\n]*-->\n(.*?)<!-- end of outcomes table -->", docs, re.DOTALL)
    assert match, "docs/failures.md lost the generated outcomes table markers"
    assert match.group(1) == markdown_table(), (
        "docs/failures.md's outcomes table differs from moengage_provider/api/outcomes.py; regenerate it with "
        "`.venv/bin/python -m moengage_provider.api.outcomes` and paste it between the markers."
    )


@pytest.mark.parametrize("status", range(100, 600))
def test_every_status_has_exactly_one_meaning(status):
    rule = for_status(status)
    assert any(low <= status <= high for low, high in rule.statuses)
    assert rule.outcome in Outcome
    # Only a status that certainly delivered nothing may be resent by the hook.
    assert not rule.hook_retries or rule.outcome is Outcome.NOT_DELIVERED
    assert (rule.outcome is Outcome.DELIVERED) == (200 <= status < 300)
    assert all(issubclass(error, exceptions.MoEngageError) for error in rule.errors)


@pytest.mark.parametrize("kind", list(Failure))
def test_every_failure_kind_has_exactly_one_row(kind):
    rows = [rule for rule in RULES if kind in rule.failures]
    assert rows == [for_failure(kind)]
    assert for_failure(kind).outcome is not Outcome.DELIVERED
    assert not for_failure(kind).hook_retries or for_failure(kind).outcome is Outcome.NOT_DELIVERED


def test_statuses_outside_http_are_the_worst_case():
    assert for_status(99).outcome is Outcome.UNKNOWN
    assert for_status(600).outcome is Outcome.UNKNOWN


def test_every_error_is_classified():
    for name in dir(exceptions):
        cls = getattr(exceptions, name)
        if isinstance(cls, type) and issubclass(cls, exceptions.MoEngageError):
            assert "outcome" in dir(cls) and "outcome_unknown" in dir(cls), name


@pytest.mark.parametrize("kind", list(Answer))
def test_every_answer_an_api_version_reads_has_exactly_one_row(kind):
    rows = [rule for rule in RULES if kind in rule.answers]
    assert rows == [for_answer(kind)]
    assert not for_answer(kind).hook_retries  # a processed answer is never resent by the hook


def test_what_v5_answers_mean_as_the_readme_says():
    """Written out by hand: which answers delivered the event, and what the task does about the rest."""
    assert for_answer(Answer.ALL_TRIGGERED).outcome is Outcome.DELIVERED
    assert for_answer(Answer.SOME_SKIPPED_BY_QUOTA).outcome is Outcome.DELIVERED  # never sent again
    assert for_answer(Answer.NOTHING_ATTACHED).errors == (exceptions.MoEngageNoActiveCampaignError,)
    assert for_answer(Answer.ALL_SKIPPED_BY_QUOTA).errors == (exceptions.MoEngageQuotaExhaustedError,)
    assert for_answer(Answer.KEY_LACKS_SCOPE).errors == (exceptions.MoEngageKeyScopeError,)
    # Refused for good: fail now, without burning retries. A quota: waited out like a rate limit.
    assert issubclass(exceptions.MoEngageNoActiveCampaignError, exceptions.AirflowFailException)
    assert issubclass(exceptions.MoEngageKeyScopeError, exceptions.AirflowFailException)
    assert issubclass(exceptions.MoEngageQuotaExhaustedError, exceptions.MoEngageRateLimitError)
    assert not issubclass(exceptions.MoEngageQuotaExhaustedError, exceptions.AirflowFailException)
