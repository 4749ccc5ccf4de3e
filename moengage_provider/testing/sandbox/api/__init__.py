"""The API behaviour, the same for every version: find the version and route of a path, authenticate,
read the body, hand the request to its endpoint, record the outcome, answer with the rate-limit
headers. Each version (:mod:`.legacy`, :mod:`.v5`) brings its routes, endpoints and refusals.

Order of checks (docs/sandbox.md): path (404) and method (405), then auth (and, under V5, the
key's scope), the request id header (V5), Content-Type, JSON, then the endpoint's own checks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs

from moengage_provider.testing.sandbox.api import legacy, v5
from moengage_provider.testing.sandbox.api.admission import rate_limit_headers
from moengage_provider.testing.sandbox.api.auth import authenticate
from moengage_provider.testing.sandbox.api.call import NO_BODY, ApiVersion, Call, Refusals, Route
from moengage_provider.testing.sandbox.protocol import Reject, Response, json_bytes
from moengage_provider.testing.sandbox.state import SandboxState
from moengage_provider.testing.sandbox.validation import parse_json

#: Every API version the sandbox speaks; the first whose prefix a path starts with owns it, and the
#: last (the legacy API, MoEngage's original) anything else.
VERSIONS: tuple[ApiVersion, ...] = (v5.VERSION, legacy.VERSION)


def version_for(path: str) -> ApiVersion:
    return next((version for version in VERSIONS if path.startswith(version.prefix)), VERSIONS[-1])


def refusals_for(path: str, request_id: str, headers: Mapping[str, str] | None = None) -> Refusals:
    """How the version that owns ``path`` words a refusal (for the transport's own refusals)."""
    version = version_for(path)
    methods = version.routes.get(path, {})
    factory = next((r.refusals for r in methods.values() if r.refusals is not None), version.refusals)
    return factory(request_id, headers or {})


@dataclass
class Answer:
    """The response to one API request and what the records and the access log say of it."""

    response: Response
    event_name: str | None
    #: the access-log outcome: the status, and for a V5 trigger its triggered_status
    outcome: str
    response_id: str | None


def peek_event_name(path: str, body: bytes) -> str | None:
    """The event name of a body that names one, for records and logs (even of a refused request)."""
    route = next(iter(version_for(path).routes.get(path, {}).values()), None)
    if route is None or not route.names_event:
        return None
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(payload, dict) and isinstance(payload.get("event_name"), str):
        return cast(str, payload["event_name"])
    return None


def process(
    state: SandboxState,
    method: str,
    target: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    request_id: str,
    received_at: str,
) -> Answer:
    """Answer one API request and record its outcome."""
    version = version_for(path)
    event_name = peek_event_name(path, body)
    refusals = version.refusals(request_id, headers)
    call: Call | None = None
    try:
        route = version.route(method, path, refusals)
        if route.refusals is not None:
            refusals = route.refusals(request_id, headers)
        ws = authenticate(state, headers.get("authorization"), refusals, scoped=version.scoped)
        query = {
            k: v[-1]
            for k, v in parse_qs(target.partition("?")[2].partition("#")[0], keep_blank_values=True).items()
        }
        call = Call(
            state, ws, request_id, received_at, refusals, route.kinds, query=query, request_headers=headers
        )
        call.payload = _payload(route, headers, body, refusals)
        with state.lock:
            result = route.endpoint(call)
        answer_headers = {**refusals.answer_headers(), **rate_limit_headers(call)}
        response = Response(200, json_bytes(result), headers=answer_headers)
        return Answer(
            response, event_name, " ".join(filter(None, ["200", call.outcome])), refusals.response_id
        )
    except Reject as reject:
        workspace_id = call.ws.workspace_id if call is not None else reject.workspace_id
        state.recorder.reject(
            path,
            reject.status,
            reject.code,
            reject.message,
            workspace_id,
            received_at,
            request_id,
            event_name,
            reject.details,
            response_id=refusals.response_id,
        )
        answer_headers = {**refusals.answer_headers(), **(reject.headers or {}), **rate_limit_headers(call)}
        response = Response(reject.status, json_bytes(reject.body), headers=answer_headers)
        return Answer(response, event_name, str(reject.status), refusals.response_id)


def _payload(route: Route, headers: Mapping[str, str], body: bytes, refusals: Refusals) -> dict[str, Any]:
    if route.body == NO_BODY or (route.body != "json" and not body.strip()):
        return {}
    return parse_json(headers.get("content-type"), body, refusals.bad_body)
