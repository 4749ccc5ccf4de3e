"""One API request as an endpoint sees it (``Call``), and what a path is answered by (``Route``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from moengage_provider.testing.sandbox.ratelimits import Standing
from moengage_provider.testing.sandbox.state import SandboxState, Workspace


@dataclass
class Call:
    """An authenticated request: who sent what, and what its answer will say about rate limits."""

    state: SandboxState
    ws: Workspace
    request_id: str
    received_at: str
    #: the kinds of request this endpoint counts (their windows are reported on every answer)
    kinds: tuple[str, ...] = ()
    payload: dict[str, Any] = field(default_factory=dict)
    request_headers: Mapping[str, str] = field(default_factory=dict)
    #: set when the request was counted (or refused) in its windows
    standing: Standing | None = None
    #: response headers of the endpoint's own
    headers: dict[str, str] = field(default_factory=dict)


Endpoint = Callable[[Call], dict[str, Any]]


@dataclass(frozen=True)
class Route:
    endpoint: Endpoint
    #: the kinds of request it counts (see :mod:`..ratelimits`); empty: not rate-limited
    kinds: tuple[str, ...] = ()
