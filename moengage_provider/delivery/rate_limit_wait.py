"""
Waiting out a 429 in one try: how long (decided by ``api/rate_limits.py`` from the answer's headers,
the published windows and this payload's earlier waits, kept in its delivery record), then doing it
and saying so: defer to the triggerer, sleep in the worker when short, or hand the worker back with a
retry when the wait ends; fail the task once the total wait would pass ``max_rate_limit_wait``.

``attempt.py`` enters here for any :class:`~moengage_provider.exceptions.MoEngageRateLimitError`,
whatever raised it: the wait follows the error's headers when it has them, the windows when not.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from moengage_provider.api.rate_limits import (
    HOW_IT_WAITS,
    LIMITS_TEXT,
    RateLimitWait,
    format_duration,
    plan_wait,
    retry_after_said,
    windows_for,
)
from moengage_provider.delivery.record import (
    DeliveryRecord,
    DeliverySettings,
    TaskInstanceRef,
    nothing_delivered_by_this_try,
    remember_wait,
)
from moengage_provider.exceptions import AirflowFailException, MoEngageRateLimitError, MoEngageRateLimitWait
from moengage_provider.observability import metrics

#: Hands the task to the triggerer until the moment given (raises Airflow's TaskDeferred).
Defer = Callable[[dt.datetime], NoReturn]


@dataclass
class RateLimitWaiter:
    """Waits for one try of one event: the settings it was given, who runs it, where it says so."""

    settings: DeliverySettings
    task: TaskInstanceRef
    log: Any
    defer: Defer
    event_name: str

    def plan(
        self, err: MoEngageRateLimitError, record: DeliveryRecord
    ) -> tuple[RateLimitWait, DeliveryRecord]:
        """How long and how this refusal waits, and the record that remembers it (to save before waiting)."""
        now = dt.datetime.now(dt.timezone.utc)
        headers = err.rate_limit if err.rate_limit is not None else retry_after_said(err.retry_after, now)
        since = record.waiting_since or now
        wait = plan_wait(
            now,
            headers,
            windows=windows_for(self.settings.rate_limit_window),
            earlier=record.earlier_wait,
            waiting_since=since,
            max_wait=self.settings.max_rate_limit_wait,
            deferrable=self.settings.deferrable,
        )
        return wait, remember_wait(record, wait.decision.level, wait.until)

    def wait(
        self,
        err: MoEngageRateLimitError,
        wait: RateLimitWait,
        record: DeliveryRecord,
        data_center: str | None,
    ) -> None:
        """Wait as planned (returns after sleeping; raises to defer or retry), or fail: too long a wait."""
        nothing = nothing_delivered_by_this_try(record)
        decision = wait.decision
        if wait.too_long:
            raise AirflowFailException(
                f"MoEngage rate limit: still refused after waiting {format_duration(wait.waited)}, and the "
                f"next wait would last until {decision.until:%Y-%m-%d %H:%M:%S} UTC (decided by "
                f"{decision.decided_by}), past max_rate_limit_wait="
                f"{format_duration(self.settings.max_rate_limit_wait.total_seconds())}. {LIMITS_TEXT}. "
                "Spread triggers out, batch items into fewer events, or raise max_rate_limit_wait. "
                f"{nothing}"
            )
        metrics.rate_limit_wait(self.event_name, data_center, wait.seconds)
        self.log.warning(
            "MoEngage rate limit hit for %r (HTTP %s%s). Waiting %s, until %s UTC, decided by %s (%s); "
            "%s. This is a wait, not a failed delivery. %s.",
            self.event_name,
            err.status,
            f", request_id={err.request_id}" if err.request_id else "",
            format_duration(wait.seconds),
            f"{decision.until:%Y-%m-%d %H:%M:%S}",
            decision.decided_by,
            decision.why,
            HOW_IT_WAITS[wait.how],
            LIMITS_TEXT,
        )
        if wait.how == "defer":
            self.defer(wait.until)
        if wait.how == "sleep":
            time.sleep(wait.seconds)
            return
        self._retry_when_the_wait_ends(wait, nothing)

    def _retry_when_the_wait_ends(self, wait: RateLimitWait, nothing: str) -> NoReturn:
        if self.task.try_number > self.settings.retries:
            raise AirflowFailException(
                f"MoEngage rate limit: the wait lasts until {wait.until:%Y-%m-%d %H:%M:%S} UTC, but "
                "this task has no retries left to wait for it without holding a worker. Enable retries "
                f"(retries >= 1) or deferrable=True. {nothing}"
            )
        if not self.settings.retry_policy and self.settings.retry_delay < wait.seconds:
            self.log.warning(
                "This Airflow has no retry policies (added in 3.3): the retry comes after retry_delay=%s, "
                "before the wait ends, and may be refused again (each refusal uses a retry). Set "
                "deferrable=True, or retry_delay of at least %s.",
                format_duration(self.settings.retry_delay),
                format_duration(wait.seconds),
            )
        raise MoEngageRateLimitWait(
            f"MoEngage rate limit: retry at {wait.until:%Y-%m-%d %H:%M:%S} UTC (in "
            f"{format_duration(wait.seconds)}). This is a wait, not a failed delivery.",
            wait_seconds=wait.seconds,
        )
