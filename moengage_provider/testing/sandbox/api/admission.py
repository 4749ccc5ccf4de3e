"""Admission: count an accepted request in its rate-limit windows, or refuse it with its API's 429;
and what every answer of a rate-limited endpoint says about those windows (``x-ratelimit-*``)."""

from __future__ import annotations

from collections.abc import Iterable

from moengage_provider.testing.sandbox.api.call import Call
from moengage_provider.testing.sandbox.ratelimits import stand


def admit(call: Call, kinds: Iterable[str]) -> None:
    """Count the request in every window of ``kinds``, or raise the 429 when one of them is full."""
    state = call.state
    now = state.now()
    standing = stand(state.settings.limits.of_kinds(kinds), call.ws.windows, now, take=True)
    call.standing = standing
    if standing is not None and standing.full:
        raise call.refusals.rate_limited(standing, now, state.settings.retry_after)


def rate_limit_headers(call: Call | None) -> dict[str, str]:
    """``x-ratelimit-limit``, ``-remaining`` and ``-reset`` of the tightest window the request
    counts in, on every answer to a known workspace (unless switched off)."""
    if call is None or not call.kinds or not call.state.settings.rate_limit_headers:
        return {}
    standing = call.standing
    if standing is None:  # refused before it was counted: where the workspace stands now
        with call.state.lock:
            rows = call.state.settings.limits.of_kinds(call.kinds)
            standing = stand(rows, call.ws.windows, call.state.now(), take=False)
    return standing.headers() if standing is not None else {}
