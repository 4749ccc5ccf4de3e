"""What every API version provides, and one request as its endpoints see it.

An API version is a path prefix, its routes (path -> method -> ``Route``) and its ``Refusals``:
how it words each refusal (the legacy API and V5 have different error shapes). The request
pipeline in :mod:`..api` is the same for all of them; adding a version is adding its package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from moengage_provider.testing.sandbox.protocol import Reject
from moengage_provider.testing.sandbox.ratelimits import Standing
from moengage_provider.testing.sandbox.state import SandboxState, Workspace

#: How an unauthenticated request failed: no usable Basic credentials, an unknown workspace ID,
#: a wrong API key.
MISSING, UNKNOWN_WORKSPACE, WRONG_KEY = "missing", "workspace", "key"


class Refusals(Protocol):
    """The refusals of one API version (bound to one request: they carry its ids)."""

    #: the id of the answer, for versions that give one (V5: ``resp_`` + the request's trace id)
    @property
    def response_id(self) -> str | None: ...

    def answer_headers(self) -> dict[str, str]:
        """Headers every answer of this request carries (V5: ``X-MOE-Request-Id``)."""
        ...

    def not_found(self, path: str) -> Reject: ...

    def method_not_allowed(self, method: str, path: str, allowed: str) -> Reject: ...

    def unauthenticated(self, how: str) -> Reject: ...

    def forbidden(self) -> Reject: ...

    def bad_body(self, target: str, message: str) -> Reject:
        """The request could not be read as the endpoint's input (Content-Type, JSON, framing)."""
        ...

    def unreadable(self, status: int, message: str) -> Reject:
        """A request the transport could not read (body framing, size, header limits)."""
        ...

    def rate_limited(self, standing: Standing, now: float, retry_after: bool) -> Reject: ...

    def fault(self, status: int, path: str) -> tuple[bytes, str]:
        """The default body (and its content type) of an injected fault with this status."""
        ...


#: Refusals for a request: built from its internal request id and its headers.
RefusalsFactory = Callable[[str, Mapping[str, str]], Refusals]


@dataclass
class Call:
    """An authenticated request: who sent what, and what its answer will say about rate limits."""

    state: SandboxState
    ws: Workspace
    request_id: str
    received_at: str
    refusals: Refusals
    #: the kinds of request this endpoint counts (their windows are reported on every answer)
    kinds: tuple[str, ...] = ()
    payload: dict[str, Any] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    request_headers: Mapping[str, str] = field(default_factory=dict)
    #: set when the request was counted (or refused) in its windows
    standing: Standing | None = None
    #: what the endpoint adds to the access-log line's outcome (V5: the triggered_status)
    outcome: str = ""


Endpoint = Callable[[Call], dict[str, Any]]

#: How a route reads its body: a JSON object (required), a JSON object or nothing, or not at all.
JSON_BODY, OPTIONAL_JSON_BODY, NO_BODY = "json", "optional-json", "none"


@dataclass(frozen=True)
class Route:
    endpoint: Endpoint
    #: the kinds of request it counts (see :mod:`..ratelimits`); empty: not rate-limited
    kinds: tuple[str, ...] = ()
    body: str = JSON_BODY
    #: its body names an event (``event_name``), for records and logs even when it is refused
    names_event: bool = False
    #: its own refusals, when they differ from its version's
    refusals: RefusalsFactory | None = None


@dataclass(frozen=True)
class ApiVersion:
    name: str
    #: the paths it owns start with this (the legacy API owns what no other version does)
    prefix: str
    routes: Mapping[str, Mapping[str, Route]]
    refusals: RefusalsFactory
    #: whether its keys need the business-events scope (a key without it gets ``forbidden``)
    scoped: bool = False

    def route(self, method: str, path: str, refusals: Refusals) -> Route:
        methods = self.routes.get(path)
        if methods is None:
            raise refusals.not_found(path)
        found = methods.get(method)
        if found is None:
            raise refusals.method_not_allowed(method, path, ", ".join(methods))
        return found
