"""The API behaviour: route a request, authenticate it, hand it to its endpoint, record the outcome.

Order of checks (docs/sandbox.md): path (404) and method (405), then auth, Content-Type, JSON, then
the endpoint's own checks (see :mod:`.trigger`, :mod:`.create`, :mod:`.search`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from typing import cast

from moengage_provider.testing.sandbox.api import create, search, trigger
from moengage_provider.testing.sandbox.api.admission import rate_limit_headers
from moengage_provider.testing.sandbox.api.call import Call, Route
from moengage_provider.testing.sandbox.protocol import (
    CODE_401,
    CREATE_PATH,
    MSG_AUTH_MISSING,
    MSG_AUTH_REQUIRED,
    MSG_INVALID_APP_ID,
    MSG_INVALID_SECRET,
    MSG_METHOD_NOT_ALLOWED,
    MSG_NOT_FOUND,
    SEARCH_PATH,
    TRIGGER_PATH,
    Reject,
    Response,
    detail,
    error,
    json_bytes,
    status_line,
)
from moengage_provider.testing.sandbox.ratelimits import SEARCH, TRIGGER
from moengage_provider.testing.sandbox.state import SandboxState, Workspace
from moengage_provider.testing.sandbox.validation import parse_json

#: path -> what answers it (POST only, as documented) and what it counts toward rate limits.
ROUTES: dict[str, Route] = {
    TRIGGER_PATH: Route(trigger.handle, (TRIGGER,)),
    CREATE_PATH: Route(create.handle),
    SEARCH_PATH: Route(search.handle, (SEARCH,)),
}
ALLOWED_METHODS = "POST"


def peek_event_name(path: str, body: bytes) -> str | None:
    """The event name of a create or trigger body, for records and logs (even of a refused request)."""
    if path not in (CREATE_PATH, TRIGGER_PATH):
        return None
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(payload, dict) and isinstance(payload.get("event_name"), str):
        return cast(str, payload["event_name"])
    return None


def route(method: str, path: str, request_id: str) -> Route:
    found = ROUTES.get(path)
    if found is None:
        raise error(
            404,
            status_line(404),
            MSG_NOT_FOUND,
            [detail("InvalidValue", "path", f"No API at {path}")],
            request_id,
        )
    if method != "POST":
        raise error(
            405,
            status_line(405),
            MSG_METHOD_NOT_ALLOWED,
            [detail("InvalidValue", "method", f"{method} is not allowed on {path}; use POST")],
            request_id,
            headers={"Allow": ALLOWED_METHODS},
        )
    return found


def process(
    state: SandboxState,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    request_id: str,
    received_at: str,
) -> tuple[Response, str | None]:
    """Answer one API request and record its outcome. Returns the response and the event name."""
    event_name = peek_event_name(path, body)
    call: Call | None = None
    try:
        found = route(method, path, request_id)
        ws = authenticate(state, headers.get("authorization"), request_id)
        call = Call(state, ws, request_id, received_at, found.kinds, request_headers=headers)
        call.payload = parse_json(headers.get("content-type"), body, request_id)
        with state.lock:
            result = found.endpoint(call)
        answer_headers = {**call.headers, **rate_limit_headers(call)}
        return Response(200, json_bytes(result), headers=answer_headers), event_name
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
        )
        answer_headers = {**(reject.headers or {}), **rate_limit_headers(call)}
        return Response(reject.status, json_bytes(reject.body), headers=answer_headers), event_name


def authenticate(state: SandboxState, header: str | None, request_id: str) -> Workspace:
    """Basic auth: workspace ID as the user name, API key as the password (documented 401s)."""

    def fail(target: str, message: str, listed: bool) -> Reject:
        inner = detail("InvalidValue" if listed else "MissingValue", target, message)
        return error(
            401,
            CODE_401,
            MSG_AUTH_REQUIRED,
            [detail("InvalidValue", target, [inner] if listed else inner)],
            request_id,
        )

    missing = fail("Authorization", MSG_AUTH_MISSING, listed=False)
    if not header:
        raise missing
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise missing
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise missing from None
    user, sep, password = decoded.partition(":")
    if not sep or (not user and not password):
        raise missing
    with state.lock:
        ws = state.workspaces.get(user)
    if ws is None:
        raise fail("APP_ID", MSG_INVALID_APP_ID, listed=True)
    if not hmac.compare_digest(password.encode("utf-8"), ws.api_key.encode("utf-8")):
        reject = fail("APP_SECRET_KEY", MSG_INVALID_SECRET, listed=True)
        reject.workspace_id = ws.workspace_id  # the workspace is known; only the key is wrong
        raise reject
    return ws
