"""Admission: count an accepted request in its rate-limit windows, or refuse it; and what every
answer of a rate-limited endpoint says about those windows (``x-ratelimit-*``)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

from moengage_provider.testing.sandbox.api.call import Call
from moengage_provider.testing.sandbox.protocol import RATE_LIMIT_BODY, Reject
from moengage_provider.testing.sandbox.ratelimits import Standing, stand

#: Builds an API version's 429 from where the workspace stands.
Refusal = Callable[[Call, Standing], Reject]


def admit(call: Call, kinds: Iterable[str], refuse: Refusal) -> None:
    """Count the request in every window of ``kinds``, or raise ``refuse``'s 429 when one is full."""
    state = call.state
    standing = stand(state.settings.limits.of_kinds(kinds), call.ws.windows, state.now(), take=True)
    call.standing = standing
    if standing is not None and standing.full:
        raise refuse(call, standing)


def legacy_rate_limited(call: Call, standing: Standing) -> Reject:
    """The documented 429 (``Retry-After`` only when asked for: the legacy pages document none)."""
    headers = None
    if call.state.settings.retry_after:
        headers = {"Retry-After": standing.retry_after(call.state.now())}
    return Reject(
        429,
        copy.deepcopy(RATE_LIMIT_BODY),
        code="429 rate limiter exception",
        message=RATE_LIMIT_BODY["data"]["description"],
        headers=headers,
    )


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
