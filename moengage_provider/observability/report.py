"""
How one try of the trigger ended, as one typed value: what the try's metrics and its lineage read.

The try (``delivery/attempt.py``) builds a :class:`TryReport` when it ends, from what it knows then;
``metrics.try_finished`` counts it and ``lineage.operator_lineage`` turns it into the run facet and
the output dataset. :data:`OUTCOMES` is the vocabulary of its ``outcome`` (the facet's ``outcome``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from moengage_provider.exceptions import (
    MoEngageClientError,
    MoEngageConfigurationError,
    MoEngageError,
    MoEngageRateLimitError,
    MoEngageRateLimitWait,
    MoEngageValidationError,
    Outcome,
)

if TYPE_CHECKING:
    from moengage_provider.hooks.connection import MoEngageConnectionSettings

#: How a try ended, as the lineage facet's ``outcome`` says it. The first five are also the outcomes
#: of one trigger call (:func:`request_outcome`, the ``outcome`` tag of the ``request_duration`` metric).
OUTCOMES: dict[str, str] = {
    "delivered": "MoEngage answered 2xx: the event was accepted",
    "unknown": "MoEngage may or may not have taken the event (timeout, dropped connection, 5xx, or an "
    "earlier unknown outcome skipped with if_outcome_unknown='skip')",
    "rate_limited": "refused for the rate limit (429); nothing delivered",
    "client_error": "refused for good (4xx); nothing delivered",
    "not_delivered": "certainly not taken (connection refused, 503, not sent)",
    "deduplicated": "an earlier delivery of this payload (by this task instance, or under the same "
    "idempotency_key); nothing was sent",
}

#: Why a try sent nothing because the payload was delivered before (the ``reason`` of ``deduplicated``).
Deduplicated = Literal["rerun", "idempotency_key"]


@dataclass(frozen=True)
class TryReport:
    """What one try sent, where, and what came of it. No secret: no key, no header."""

    #: The request body as sent (event name, attributes, triggered_by).
    body: Mapping[str, Any]
    workspace_id: str
    data_center: str | None
    #: Host (and port) the request went to.
    host: str
    #: One of :data:`OUTCOMES`.
    outcome: str
    #: From MoEngage's error answer, when it had them.
    request_id: str | None = None
    http_status: int | None = None
    #: Sent nothing because this payload was delivered before, and how that was known.
    deduplicated: Deduplicated | None = None
    #: The try met an earlier unknown outcome and did this about it: resend, skip, fail or check.
    resolution: str | None = None
    #: API V5: what came of the campaigns (``SUCCESS``, ``PARTIAL_SUCCESS``, ``FAILURE``).
    triggered_status: str | None = None

    @property
    def event_name(self) -> str:
        return str(self.body["event_name"])

    @classmethod
    def of_try(
        cls,
        *,
        body: Mapping[str, Any],
        connection: MoEngageConnectionSettings,
        error: BaseException | None,
        last_request: Outcome | None,
        deduplicated: Deduplicated | None,
        settled_as_unknown: bool,
        resolution: str | None,
        result: Mapping[str, Any] | None = None,
    ) -> TryReport:
        """The report of a try that sent ``body`` through ``connection`` and ended with ``error`` (if
        any) or ``result``, its last request's outcome being ``last_request`` (None: it sent none)."""
        return cls(
            body=body,
            workspace_id=connection.workspace_id,
            data_center=connection.data_center,
            host=connection.host,
            outcome=try_outcome(
                deduplicated=deduplicated is not None,
                settled_as_unknown=settled_as_unknown,
                error=error,
                last_request=last_request,
            ),
            request_id=getattr(error, "request_id", None),
            http_status=getattr(error, "status", None),
            deduplicated=deduplicated,
            resolution=resolution,
            triggered_status=(result or {}).get("triggered_status")
            or getattr(error, "triggered_status", None),
        )


def try_outcome(
    *,
    deduplicated: bool,
    settled_as_unknown: bool,
    error: BaseException | None,
    last_request: Outcome | None,
) -> str:
    """
    The ``outcome`` of a try, from how it ended: sent nothing for a payload delivered before; took
    an earlier unknown outcome as it was (skipped without knowing); delivered; or its error says
    (an error not ours, a wait past ``max_rate_limit_wait`` or a task timeout: the last answer does).
    """
    if deduplicated:
        return "deduplicated"
    if settled_as_unknown:
        return "unknown"
    if error is None:
        return "delivered"
    if isinstance(error, MoEngageError):
        return request_outcome(error) or "not_delivered"
    return last_request.value if last_request is not None else "unknown"


def request_outcome(error: BaseException | None) -> str | None:
    """What one trigger call's end means; ``None`` when no request went out (bad input, bad connection)."""
    if error is None:
        return "delivered"
    if isinstance(error, (MoEngageValidationError, MoEngageConfigurationError)):
        return None
    if isinstance(error, (MoEngageRateLimitError, MoEngageRateLimitWait)):
        return "rate_limited"
    if getattr(error, "outcome_unknown", None) is False:
        if isinstance(error, MoEngageClientError):
            return "client_error"
        return "not_delivered"
    # Unknown by the hook's verdict, or cut short mid-request (a task timeout, a signal).
    return "unknown"
