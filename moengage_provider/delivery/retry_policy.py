"""
The retry policy the trigger operator uses by default on Airflow 3.3+ (``airflow.sdk.RetryPolicy``).

- a 4xx a retry cannot fix, bad input, a broken connection config: fail now (these are
  ``AirflowFailException`` already, so Airflow never asks the policy);
- rate limited with a long wait: retry exactly when the window reopens, whatever ``retry_delay`` says;
- 5xx, timeouts, connection failures: retry with the task's own ``retry_delay``.

Importing this module fails on Airflow before 3.3; the operator then falls back to plain retries.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import RetryDecision, RetryPolicy

from moengage_provider.exceptions import (
    MoEngageConnectionError,
    MoEngageRateLimitWait,
    MoEngageServerError,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


class MoEngageRetryPolicy(RetryPolicy):
    """Retry what a retry can fix, when it can fix it."""

    def evaluate(
        self,
        exception: BaseException,
        try_number: int,
        max_tries: int,
        context: Context | None = None,
    ) -> RetryDecision:
        if try_number > max_tries:
            # No retries left: Airflow fails the task; a "retrying" line in the log would mislead.
            return RetryDecision.default()
        if isinstance(exception, MoEngageRateLimitWait):
            return RetryDecision.retry(
                delay=dt.timedelta(seconds=exception.wait_seconds),
                reason="MoEngage rate limit: retrying when the window reopens (a wait, not a failed delivery)",
            )
        if isinstance(exception, (MoEngageServerError, MoEngageConnectionError)):
            doubt = (
                "the event may or may not have been accepted"
                if exception.outcome_unknown
                else "nothing was delivered"
            )
            return RetryDecision.retry(
                reason=f"MoEngage transient failure ({type(exception).__name__}, {doubt})"
            )
        return RetryDecision.default()

    def serialize(self) -> dict[str, Any]:
        return {"__type": "MoEngageRetryPolicy"}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> MoEngageRetryPolicy:
        return cls()
