"""
What each answer (or non-answer) from MoEngage means for the event: ONE table, read by the hook.

Every HTTP status from 100 to 599, every way a request can fail without one, and every
:class:`~moengage_provider.api.versions.Answer` an API version reads from an answer (V5 says whether
the campaigns went out) maps to exactly one :class:`Outcome`:

- ``not_delivered``: MoEngage certainly did not take the event; sending again is safe;
- ``delivered``: MoEngage took it;
- ``unknown``: it may or may not have; the delivery record and ``if_outcome_unknown`` decide.

The row also says whether the hook may resend at once (only where nothing was delivered and the
cause is transient) and what Airflow does. The table in docs/failures.md is rendered from
:data:`RULES` (``python -m moengage_provider.api.outcomes``), and a test checks that they agree.
Standard library only: the exceptions, the hook, the operator and the tests all import it.
"""

from __future__ import annotations

from dataclasses import dataclass

from moengage_provider.api.versions import Answer
from moengage_provider.exceptions import (
    Failure,
    MoEngageApiError,
    MoEngageClientError,
    MoEngageConfigurationError,
    MoEngageConnectionError,
    MoEngageError,
    MoEngageKeyScopeError,
    MoEngageNoActiveCampaignError,
    MoEngageQuotaExhaustedError,
    MoEngageRateLimitError,
    MoEngageServerError,
    MoEngageValidationError,
    Outcome,
)

#: What Airflow does with the task: "fails now" (no retries burned), "retries", or "waits".
FAILS_NOW = "fails now, no retries"
RETRIES = "retries"
WAITS = "the operator waits for the rate-limit window"
SUCCEEDS = "succeeds"


@dataclass(frozen=True)
class Rule:
    """One row: which answers it covers, what they mean, and who may send again."""

    what: str
    outcome: Outcome
    #: The hook may resend within the same try (nothing was delivered, the cause may pass).
    hook_retries: bool
    airflow: str
    #: The exception class(es) raised for it (none: no error).
    errors: tuple[type[MoEngageError], ...]
    statuses: tuple[tuple[int, int], ...] = ()
    failures: tuple[Failure, ...] = ()
    #: What the answer says about the campaigns (read by the API version): these rows come before
    #: the status's own row.
    answers: tuple[Answer, ...] = ()


# Order matters: the first row whose status range (inclusive), failure kind or answer matches wins.
RULES: tuple[Rule, ...] = (
    Rule(
        "bad input; missing or unusable connection (checked before anything is sent)",
        Outcome.NOT_DELIVERED,
        False,
        FAILS_NOW,
        (MoEngageValidationError, MoEngageConfigurationError),
    ),
    Rule("2xx with MoEngage's JSON answer", Outcome.DELIVERED, False, SUCCEEDS, (), statuses=((200, 299),)),
    Rule(
        "V5: 200 `SUCCESS` (every campaign and flow attached to the event reserved)",
        Outcome.DELIVERED,
        False,
        SUCCEEDS,
        (),
        answers=(Answer.ALL_TRIGGERED,),
    ),
    Rule(
        "V5: 200 `PARTIAL_SUCCESS` (some campaigns or flows skipped by quota; sending again would "
        "message the reached audiences twice)",
        Outcome.DELIVERED,
        False,
        "succeeds, and warns naming the skipped campaign and flow IDs",
        (),
        answers=(Answer.SOME_SKIPPED_BY_QUOTA,),
    ),
    Rule(
        "V5: 200 `FAILURE` with nothing attached (`total` 0); legacy: 400 'No active campaign found' "
        "(no active campaign or flow uses the event)",
        Outcome.NOT_DELIVERED,
        False,
        f"{FAILS_NOW}: attach an active campaign or flow to the event in MoEngage",
        (MoEngageNoActiveCampaignError,),
        answers=(Answer.NOTHING_ATTACHED,),
    ),
    Rule(
        "V5: 200 `FAILURE`, every campaign and flow attached skipped by quota",
        Outcome.NOT_DELIVERED,
        False,
        f"{WAITS}, then sends again",
        (MoEngageQuotaExhaustedError,),
        answers=(Answer.ALL_SKIPPED_BY_QUOTA,),
    ),
    Rule(
        "V5: 403 `FORBIDDEN` (the API key lacks the business-events scope)",
        Outcome.NOT_DELIVERED,
        False,
        f"{FAILS_NOW}: a configuration error, use a key with business-events access",
        (MoEngageKeyScopeError,),
        answers=(Answer.KEY_LACKS_SCOPE,),
    ),
    Rule(
        "2xx whose body is not MoEngage's JSON (a proxy or login page answering)",
        Outcome.UNKNOWN,
        False,
        RETRIES,
        (MoEngageServerError,),
        failures=(Failure.NOT_MOENGAGE_JSON,),
    ),
    Rule(
        "connection refused, DNS failure, connect timeout, proxy unreachable",
        Outcome.NOT_DELIVERED,
        True,
        RETRIES,
        (MoEngageConnectionError,),
        failures=(Failure.REFUSED, Failure.DNS, Failure.CONNECT_TIMEOUT, Failure.PROXY),
    ),
    Rule(
        "TLS handshake failed (certificate, wrong scheme)",
        Outcome.NOT_DELIVERED,
        False,
        RETRIES,
        (MoEngageConnectionError,),
        failures=(Failure.TLS,),
    ),
    Rule(
        "503 (taken as 'not processed')",
        Outcome.NOT_DELIVERED,
        True,
        RETRIES,
        (MoEngageServerError,),
        statuses=((503, 503),),
    ),
    Rule(
        "408 request timeout, 425 too early (the server did not process the request)",
        Outcome.NOT_DELIVERED,
        True,
        RETRIES,
        (MoEngageApiError,),
        statuses=((408, 408), (425, 425)),
    ),
    Rule(
        "429 rate limited",
        Outcome.NOT_DELIVERED,
        False,
        WAITS,
        (MoEngageRateLimitError,),
        statuses=((429, 429),),
    ),
    Rule(
        "303 See Other (a server redirects there after processing a POST)",
        Outcome.UNKNOWN,
        False,
        FAILS_NOW,
        (MoEngageClientError,),
        statuses=((303, 303),),
    ),
    Rule(
        "other 3xx (a redirect is not followed), 400, 401, 403, 404 and other 4xx",
        Outcome.NOT_DELIVERED,
        False,
        FAILS_NOW,
        (MoEngageClientError,),
        statuses=((300, 499),),
    ),
    Rule(
        "500, 502, 504 and other 5xx; 1xx as a final answer",
        Outcome.UNKNOWN,
        False,
        RETRIES,
        (MoEngageServerError,),
        statuses=((500, 599), (100, 199)),
    ),
    Rule(
        "read timeout after the request went out, connection dropped or reset before or during the "
        "answer, any other error while sending",
        Outcome.UNKNOWN,
        False,
        RETRIES,
        (MoEngageConnectionError,),
        failures=(
            Failure.READ_TIMEOUT,
            Failure.RESET_BEFORE_ANSWER,
            Failure.TRUNCATED_ANSWER,
            Failure.UNEXPECTED,
        ),
    ),
)

#: A status outside 100-599 is not HTTP; assume the worst.
_NOT_HTTP = Rule("a status outside 100-599", Outcome.UNKNOWN, False, RETRIES, (MoEngageServerError,))

_BY_STATUS: dict[int, Rule] = {}
for _status in range(100, 600):
    _BY_STATUS[_status] = next(r for r in RULES if any(low <= _status <= high for low, high in r.statuses))
_BY_FAILURE: dict[Failure, Rule] = {kind: next(r for r in RULES if kind in r.failures) for kind in Failure}
_BY_ANSWER: dict[Answer, Rule] = {kind: next(r for r in RULES if kind in r.answers) for kind in Answer}


def for_status(status: int) -> Rule:
    """The row for an HTTP answer whose body was readable (a 2xx is delivered only with MoEngage's JSON)."""
    return _BY_STATUS.get(status, _NOT_HTTP)


def for_failure(kind: Failure) -> Rule:
    """The row for a request that ended without a usable answer."""
    return _BY_FAILURE[kind]


def for_answer(kind: Answer) -> Rule:
    """The row for an answer whose content says more than its status (what became of the campaigns)."""
    return _BY_ANSWER[kind]


_OUTCOME_TEXT = {
    Outcome.DELIVERED: "delivered",
    Outcome.NOT_DELIVERED: "not delivered: safe to send again",
    Outcome.UNKNOWN: "**unknown**: may or may not have been accepted; the next try follows `if_outcome_unknown`",
}


def markdown_table() -> str:
    """docs/failures.md's outcomes table, rendered from :data:`RULES`."""
    lines = [
        "| what happened | the event | the hook | error | Airflow |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rule in RULES:
        hook = "resends at once (3 attempts, backoff with jitter)" if rule.hook_retries else "does not resend"
        error = " / ".join(f"`{cls.__name__}`" for cls in rule.errors) or "none"
        lines.append(f"| {rule.what} | {_OUTCOME_TEXT[rule.outcome]} | {hook} | {error} | {rule.airflow} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
