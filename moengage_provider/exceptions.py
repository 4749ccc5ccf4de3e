"""
Errors this provider raises, one class per decision an on-call engineer (or Airflow) has to make.

- :class:`MoEngageClientError`: MoEngage refused the request and a retry cannot fix it (400, 401,
  403, ...). It is an ``AirflowFailException``, so the task fails without burning retries.
- :class:`MoEngageRateLimitError`: 429; wait as MoEngage's headers say, or for the next window.
- :class:`MoEngageServerError`: 5xx; ``outcome_unknown`` says whether MoEngage may have taken the event.
- :class:`MoEngageConnectionError`: no answer; ``outcome_unknown`` says whether the body went out.
- :class:`MoEngageConfigurationError` / :class:`MoEngageValidationError`: fixed by the user, never by a retry.

Every one carries ``outcome`` (:class:`Outcome`: not delivered, delivered, unknown), so no error
reaches the operator unclassified; ``outcome_unknown`` is ``outcome is Outcome.UNKNOWN``. What an
answer from MoEngage means, and which of these classes it raises, is the one table in
:mod:`moengage_provider.api.outcomes`; the hook passes the row's outcome to the error it raises. A
class's own ``outcome`` is what an error of that class means when nobody said otherwise: errors
raised before anything is sent delivered nothing, an API or connection error is assumed the worst.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from moengage_provider.api.rate_limits import LIMITS_TEXT, RateLimitHeaders
from moengage_provider.api.text_fields import InvalidBusinessEventError


class Outcome(str, enum.Enum):
    """What became of the event: MoEngage certainly did not take it, took it, or may have."""

    NOT_DELIVERED = "not_delivered"
    DELIVERED = "delivered"
    UNKNOWN = "unknown"


class Failure(str, enum.Enum):
    """Ways a request ends without a usable HTTP answer (rows of the outcomes table)."""

    REFUSED = "refused"
    DNS = "dns"
    CONNECT_TIMEOUT = "connect_timeout"
    PROXY = "proxy"
    TLS = "tls"
    READ_TIMEOUT = "read_timeout"
    #: The connection closed or was reset after the request went out, before any answer.
    RESET_BEFORE_ANSWER = "reset_before_answer"
    #: The status line came, then the connection broke during the answer's body.
    TRUNCATED_ANSWER = "truncated_answer"
    #: A 2xx whose body is not the JSON object MoEngage sends (a captive portal, a proxy's page).
    NOT_MOENGAGE_JSON = "not_moengage_json"
    #: Anything else raised while sending (a bug in a library, an OS error): assumed the worst.
    UNEXPECTED = "unexpected"


class MoEngageError(AirflowException):
    """Base class of every error this provider raises; ``outcome`` says what became of the event."""

    #: Errors raised before anything is sent (bad input, bad connection) delivered nothing.
    outcome: Outcome = Outcome.NOT_DELIVERED

    @property
    def outcome_unknown(self) -> bool:
        """Whether MoEngage may have accepted the event despite the error."""
        return self.outcome is Outcome.UNKNOWN

    def add_context(self, text: str) -> None:
        """Append what the operator knows (the delivery history, the next try) to the one-line message."""
        first = (str(self.args[0]) if self.args else "").rstrip()
        if first and not first.endswith((".", "!", "?")):
            first += "."
        self.args: tuple[Any, ...] = (f"{first} {text}".strip(), *self.args[1:])


class MoEngageConfigurationError(MoEngageError, AirflowFailException):
    """The Airflow connection cannot reach MoEngage as configured (missing key, unknown data center...)."""


class MoEngageValidationError(MoEngageError, AirflowFailException, ValueError):
    """The event is not one MoEngage can take; nothing was sent. ``field`` names the part at fault."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"Invalid MoEngage business event, {field}: {problem} Nothing was sent.")


@contextmanager
def invalid_event_fails_the_task() -> Iterator[None]:
    """
    Where a task (or a callback) checks what it is about to send: a payload check's
    :class:`~moengage_provider.api.text_fields.InvalidBusinessEventError` becomes a
    :class:`MoEngageValidationError` naming the same field, which fails the task without retries.
    """
    try:
        yield
    except InvalidBusinessEventError as err:
        raise MoEngageValidationError(err.field, err.problem) from None


class MoEngageOutcomeUnknownError(MoEngageError, AirflowFailException):
    """An earlier try may have delivered the event and ``if_outcome_unknown='fail'``: a human decides."""

    outcome = Outcome.UNKNOWN


class MoEngageApiError(MoEngageError):
    """
    MoEngage (or something in front of it) answered with a non-2xx status.

    Carries MoEngage's documented error fields when the body has them; ``str()`` is one readable line.
    """

    #: An answer nobody classified: assume the worst (the hook always passes the table's outcome).
    outcome: Outcome = Outcome.UNKNOWN

    def __init__(
        self,
        *,
        status: int,
        endpoint: str,
        code: str | None = None,
        message: str | None = None,
        details: Any = None,
        request_id: str | None = None,
        body_excerpt: str | None = None,
        retry_after: float | None = None,
        outcome: Outcome | None = None,
        rate_limit: RateLimitHeaders | None = None,
        hint: str | None = None,
        triggered_status: str | None = None,
        method: str = "POST",
    ) -> None:
        if outcome is not None:
            self.outcome = outcome
        #: V5's ``triggered_status`` when a 200 answer is the error (``FAILURE``).
        self.triggered_status = triggered_status
        self._given_hint = hint
        self.status = status
        self.method = method
        self.endpoint = endpoint
        self.code = code
        self.message = message
        self.details = details
        self.request_id = request_id
        self.body_excerpt = body_excerpt
        #: ``Retry-After`` in seconds; ``rate_limit``: every rate-limit header of the answer, when read.
        self.retry_after = retry_after
        self.rate_limit = rate_limit
        super().__init__(self._summary())

    def _summary(self) -> str:
        parts = [f"MoEngage answered HTTP {self.status} to {self.method} {self.endpoint}"]
        if self.code and self.code != str(self.status):
            parts.append(f"code={self.code!r}")
        if self.message:
            parts.append(f"message={self.message!r}")
        if self.details:
            parts.append(f"details={_one_line(self.details)}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        if not (self.message or self.details) and self.body_excerpt is not None:
            parts.append(f"body={self.body_excerpt!r}" if self.body_excerpt else "body=<empty>")
        hint = self._given_hint or self._hint()
        line = f"{parts[0]}: {', '.join(parts[1:])}" if parts[1:] else parts[0]
        return line + (f". {hint}" if hint else "")

    def _hint(self) -> str:
        return ""


class MoEngageClientError(MoEngageApiError, AirflowFailException):
    """A 4xx that the same request cannot fix on retry: fails the task at once."""

    outcome = Outcome.NOT_DELIVERED

    def _hint(self) -> str:
        if self.status == 401:
            return (
                "Check the connection's Workspace ID (login) and API Key (password): use the key from "
                "the 'Campaign report/Business events/...' settings tile, not the Data API key"
            )
        if self.status == 404:
            return "Check the data center or host of the connection"
        if self.status == 400:
            return "Fix the event or its set-up in MoEngage; retrying the same request will not help"
        return "Retrying the same request will not help"


class MoEngageRateLimitError(MoEngageApiError):
    """
    429: the workspace is over MoEngage's trigger limits (``api/rate_limits.py``). ``retry_after``
    (seconds) and ``rate_limit`` (the answer's ``Retry-After`` and ``x-ratelimit-*`` headers), when
    known, say how long to wait; without them the published windows do.
    """

    outcome = Outcome.NOT_DELIVERED

    def _hint(self) -> str:
        return LIMITS_TEXT


class MoEngageQuotaExhaustedError(MoEngageRateLimitError):
    """V5 ``FAILURE``: every campaign and flow attached to the event was skipped by quota; nothing went
    out. Waited out like a rate limit, then sent again."""

    def _hint(self) -> str:
        return (
            "Every campaign and flow attached to this business event was skipped by its quota (MoEngage "
            "allows campaigns 10 triggers per 5 minutes, 50 per hour and 200 per day; flows 3 per hour "
            "and 10 per day): nobody was messaged. Waiting for the window, then sending again"
        )


class MoEngageNoActiveCampaignError(MoEngageClientError):
    """No active campaign or flow uses the event (V5 ``FAILURE`` with a total of 0, or the legacy
    400 "No active campaign found"): nobody was messaged, and sending again cannot change that."""

    def _hint(self) -> str:
        return (
            "No active campaign or flow uses this business event, so nobody was messaged; sending again "
            "cannot change that. In the MoEngage dashboard, attach one and make it active: a campaign "
            "whose delivery is 'Business Event Triggered' on this event (Engage > Campaigns), or a flow "
            "that starts on it. Then clear this task"
        )


class MoEngageKeyScopeError(MoEngageClientError):
    """V5 403 ``FORBIDDEN``: the API key authenticates but lacks the business-events scope. A
    configuration error: retrying with the same key cannot help."""

    def _hint(self) -> str:
        return (
            "The connection's API key is valid but lacks access to business events, so retrying with it "
            "cannot help. Create a key with business-events access in the MoEngage dashboard under "
            "Settings > Account > API keys (or ask a workspace admin to grant it), and put it in the "
            "connection's API Key (password)"
        )


class MoEngageServerError(MoEngageApiError):
    """5xx (or a 2xx that is not MoEngage's answer) from MoEngage or a proxy in front of it."""


class MoEngageConnectionError(MoEngageError):
    """No HTTP answer at all: refused, DNS failure, timeout, or a connection dropped mid-request."""

    def __init__(self, message: str, *, failure: Failure, outcome: Outcome) -> None:
        self.failure = failure
        self.outcome = outcome
        super().__init__(message)


def _one_line(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    except (TypeError, ValueError):
        return repr(value)


def mention_request_id(err: BaseException, request_id: str | None) -> None:
    """Name the ``X-MOE-Request-Id`` of the delivery in an error's message, once (V5 only: None
    leaves it alone), so MoEngage support can follow every try of that delivery."""
    if request_id is None or not isinstance(err, AirflowException) or not err.args:
        return
    message = str(err.args[0])
    if request_id not in message:
        stop = "" if message.rstrip().endswith((".", "!", "?")) else "."
        err.args = (f"{message.rstrip()}{stop} X-MOE-Request-Id: {request_id}.", *err.args[1:])


class MoEngageRateLimitWait(MoEngageError):
    """
    Rate limited, and the wait is too long to hold a worker: retry after ``wait``.

    Not a failed delivery: nothing was accepted, and the retry sends once the window reopens.
    """

    def __init__(self, message: str, *, wait_seconds: float) -> None:
        self.wait_seconds = wait_seconds
        super().__init__(message)
