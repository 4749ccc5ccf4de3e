"""
MoEngage's answers (and non-answers) -> our exceptions, classified by the one table in
:mod:`moengage_provider.api.outcomes`: each error is of the class its row names, with its row's outcome.

Separate from the hook so that "what does this answer mean" reads in one place: the hook only
sends, and asks :func:`error_for_response` / :func:`error_for_failure` what happened.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
from typing import TYPE_CHECKING, Any

from moengage_provider.api.outcomes import Failure, Outcome, Rule, for_answer, for_failure, for_status
from moengage_provider.api.rate_limits import RateLimitHeaders, read_headers
from moengage_provider.api.versions import LEGACY, ApiVersion, TriggerAnswer
from moengage_provider.exceptions import MoEngageApiError, MoEngageConnectionError, MoEngageError

if TYPE_CHECKING:
    from requests import Response


def parse_response(
    response: Response,
    endpoint: str,
    api: ApiVersion = LEGACY,
    method: str = "POST",
    rate_limit: RateLimitHeaders | None = None,
) -> dict[str, Any]:
    """MoEngage's parsed answer for a delivered request, or raise the error the table names (with
    ``rate_limit``, what the answer's headers say about the rate limit, read now if not given)."""
    status = response.status_code
    if 200 <= status < 300:
        try:
            parsed = json.loads(response.content)  # bytes: no charset guessing, unlike response.json()
        except (ValueError, TypeError):
            parsed = None
        if isinstance(parsed, dict):
            return parsed
        rule = for_failure(Failure.NOT_MOENGAGE_JSON)
        raise _error_class(rule)(
            status=status,
            endpoint=endpoint,
            method=method,
            message="the answer was not the JSON object MoEngage sends; the request may or may not "
            "have been accepted (is a proxy answering in MoEngage's place?)",
            body_excerpt=excerpt(response.text),
            outcome=rule.outcome,
        )
    fields = _error_fields(response, api)
    kind = api.answer_for_error(status, fields)
    rule = for_answer(kind) if kind is not None else for_status(status)
    kwargs: dict[str, Any] = {"status": status, "endpoint": endpoint, "method": method, **fields}
    kwargs["outcome"] = rule.outcome
    kwargs["rate_limit"] = rate_limit if rate_limit is not None else rate_limit_headers(response)
    kwargs["retry_after"] = kwargs["rate_limit"].retry_after_seconds
    if status == 401:
        kwargs["hint"] = (
            f"Check the connection's Workspace ID (login) and API Key (password): use {api.key_hint}"
        )
    if 300 <= status < 400:
        kwargs["message"] = (
            f"redirected to {response.headers.get('Location', '?')}; a POST is not followed, "
            "point the connection's host at the final URL"
        )
    raise _error_class(rule)(**kwargs)


def refuse_undelivered(read: TriggerAnswer, endpoint: str) -> None:
    """Raise when a trigger's 2xx answer says the event was not delivered (V5's ``FAILURE``: nothing
    attached, or everything skipped by quota), as the table's row for it says."""
    if read.answer is None or for_answer(read.answer).outcome is Outcome.DELIVERED:
        return
    rule = for_answer(read.answer)
    raise _error_class(rule)(
        status=200,
        endpoint=endpoint,
        code=read.triggered_status,
        message=f"nothing was triggered: {read.counts()} (MoEngage's message: {read.message!r})",
        details={"summary": dict(read.summary or {}), **{k: v for k, v in read.ids.items() if v}},
        request_id=read.response_id,
        outcome=rule.outcome,
        triggered_status=read.triggered_status,
    )


def hook_may_resend(error: MoEngageError) -> bool:
    """The table's answer to "may the hook send the same request again right now?"."""
    if isinstance(error, MoEngageConnectionError):
        return for_failure(error.failure).hook_retries
    if isinstance(error, MoEngageApiError):
        return for_status(error.status).hook_retries and error.outcome is Outcome.NOT_DELIVERED
    return False


def _error_class(rule: Rule) -> type[MoEngageApiError]:
    """The class the table names for an HTTP answer (one, and an API error, for every such row)."""
    (error,) = rule.errors
    if not issubclass(error, MoEngageApiError):
        raise TypeError(f"the outcomes table names {error.__name__} for an HTTP answer: {rule.what}")
    return error


def _error_fields(response: Response, api: ApiVersion) -> dict[str, Any]:
    """MoEngage's documented error fields (the API version knows its shapes), and a short excerpt."""
    shown = excerpt(response.text)
    try:
        body = response.json()
    except ValueError:
        body = None
    return {**api.error_fields(body), "body_excerpt": shown}


def excerpt(text: str, limit: int = 200) -> str:
    """A short, one-line view of a body that is not MoEngage's JSON (an HTML page from a proxy, say)."""
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if title:
        text = title.group(1)
    flat = " ".join(re.sub(r"<[^>]+>", " ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def rate_limit_headers(response: Response) -> RateLimitHeaders:
    """What the answer says about MoEngage's rate limit (``Retry-After``, ``x-ratelimit-*``), read now."""
    return read_headers(response.headers, dt.datetime.now(dt.timezone.utc))


# -- no usable answer ------------------------------------------------------------------------------


def failure_kind(err: BaseException) -> Failure:
    """Which row of the table a transport exception is; anything unrecognised is the worst case."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(err, requests.exceptions.ConnectTimeout):
        return Failure.CONNECT_TIMEOUT
    if isinstance(err, requests.exceptions.ReadTimeout):
        return Failure.READ_TIMEOUT
    if isinstance(err, requests.exceptions.SSLError):
        return Failure.TLS
    if isinstance(err, requests.exceptions.ProxyError):
        return Failure.PROXY
    if isinstance(err, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return Failure.TRUNCATED_ANSWER
    causes = _causes(err)
    # A failed name lookup is the resolver's own error under urllib3's: urllib3 2 wraps it in a
    # NameResolutionError, 1.26 in a plain NewConnectionError, and both keep it in the chain.
    if any(isinstance(c, socket.gaierror) for c in causes):
        return Failure.DNS
    # urllib3's NewConnectionError subclasses ConnectTimeoutError: test it first.
    if any(isinstance(c, NewConnectionError) for c in causes):
        return Failure.REFUSED
    if any(isinstance(c, ConnectTimeoutError) for c in causes):
        return Failure.CONNECT_TIMEOUT
    if isinstance(err, requests.exceptions.ConnectionError):
        return Failure.RESET_BEFORE_ANSWER
    return Failure.UNEXPECTED


_FAILURE_TEXT = {
    Failure.REFUSED: "Could not connect to MoEngage ({target}): {cause}",
    Failure.DNS: "Could not connect to MoEngage ({target}): {cause}",
    Failure.CONNECT_TIMEOUT: "Could not connect to MoEngage ({target}) within {connect:g} s",
    Failure.PROXY: "Could not connect to MoEngage ({target}) through the proxy: {cause}",
    Failure.TLS: "TLS handshake with {host} failed ({cause}). Check the host, or the connection's "
    "'verify'/'cert' extras",
    Failure.READ_TIMEOUT: "MoEngage did not answer {target} within {read:g} s after the request was sent",
    Failure.RESET_BEFORE_ANSWER: "The connection to MoEngage broke during {target} ({cause}) before an answer "
    "came",
    Failure.TRUNCATED_ANSWER: "The connection to MoEngage broke during {target} while the answer was "
    "arriving ({cause})",
    Failure.UNEXPECTED: "Sending {target} failed unexpectedly ({cause})",
}

_OUTCOME_TAIL = {
    Outcome.NOT_DELIVERED: "nothing was sent.",
    Outcome.UNKNOWN: "the event may or may not have been accepted.",
}


def error_for_failure(
    err: BaseException,
    *,
    endpoint: str,
    host: str,
    connect_timeout: float,
    read_timeout: float,
    method: str = "POST",
) -> MoEngageConnectionError:
    """Name what went wrong, and (from the table) whether the request may have reached MoEngage."""
    kind = failure_kind(err)
    text = _FAILURE_TEXT[kind].format(
        target=f"{method} {endpoint} to {host}",
        host=host,
        cause=root_cause(err),
        connect=connect_timeout,
        read=read_timeout,
    )
    outcome = for_failure(kind).outcome
    return MoEngageConnectionError(f"{text}; {_OUTCOME_TAIL.get(outcome, '')}", failure=kind, outcome=outcome)


def _causes(err: BaseException) -> list[Any]:
    seen: set[int] = set()
    stack: list[Any] = [err]
    found: list[Any] = []
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        found.append(item)
        if isinstance(item, BaseException):
            stack.extend(item.args)
            stack.extend([getattr(item, "reason", None), item.__cause__, item.__context__])
    return found


def root_cause(err: BaseException) -> str:
    text = str(err)
    match = re.search(
        r"(Connection refused|Name or service not known|Temporary failure in name resolution"
        r"|nodename nor servname|Connection reset by peer|RemoteDisconnected\([^)]*\)"
        r"|Connection aborted|IncompleteRead\([^)]*\)|Connection broken|certificate verify failed[^)'\"]*"
        r"|wrong version number)",
        text,
    )
    return match.group(1) if match else type(err).__name__
