"""The control API (``/_sandbox/...``, no auth): records, declared events, rate limits, faults,
reset, for tests and scripts in other processes. Its answers are ``{"error": "..."}`` on failure, never MoEngage's shape.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from moengage_provider.testing.sandbox.protocol import Response, json_bytes
from moengage_provider.testing.sandbox.state import SandboxState

#: endpoint -> the methods it answers (the ``Allow`` header of its 405).
ROUTES: dict[str, str] = {
    "/_sandbox/health": "GET",
    "/_sandbox/triggers": "GET",
    "/_sandbox/rejected": "GET",
    "/_sandbox/requests": "GET",
    "/_sandbox/rate_limit": "GET, POST",
    "/_sandbox/events": "GET, POST",
    "/_sandbox/reset": "POST",
    "/_sandbox/faults": "POST",
    "/_sandbox/keys": "POST",
}


def _ok(obj: Any) -> Response:
    return Response(200, json_bytes(obj))


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json_bytes({"error": message}), headers=headers)


def handle(state: SandboxState, url: str, method: str, path: str, query: str, body: bytes) -> Response:
    allowed = ROUTES.get(path.rstrip("/"))
    if allowed is None:
        return _error(404, f"no sandbox control endpoint at {path}")
    path = path.rstrip("/")
    if method not in allowed.split(", "):
        return _error(405, f"{method} not allowed on {path}", {"Allow": allowed})
    params = {k: v[-1] for k, v in parse_qs(query).items()}
    try:
        if path == "/_sandbox/health":
            return _ok({"status": "ok", "url": url, "workspace_id": state.primary})
        if path in ("/_sandbox/triggers", "/_sandbox/rejected"):
            return _ok(state.recorder.copies(path.rsplit("/", 1)[1]))
        if path == "/_sandbox/requests":
            requests = state.recorder.copies("requests")
            return _ok([{**r, "body": r["body"].decode("utf-8", errors="replace")} for r in requests])
        if path == "/_sandbox/rate_limit" and method == "GET":
            return _ok(state.rate_limit_state(params.get("workspace_id")))
        if path == "/_sandbox/reset":
            state.reset()
            return _ok({"status": "ok"})
        if path == "/_sandbox/events" and method == "GET":
            return _ok(state.events(params.get("workspace_id")))
        payload = json.loads(body) if body.strip() else {}
        if not isinstance(payload, dict):
            return _error(400, "expected a JSON object")
        if path == "/_sandbox/events":
            return _ok(declare_events(state, payload))
        if path == "/_sandbox/rate_limit":
            with state.lock:
                state.settings.change_rate_limits(payload)
            return _ok(state.rate_limit_state(params.get("workspace_id")))
        if path == "/_sandbox/keys":
            return _ok(add_api_key(state, payload))
        state.faults.from_control(payload)
        return _ok({"status": "ok", "pending_faults": state.faults.pending()})
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        return _error(400, str(exc))


def declare_events(state: SandboxState, payload: dict[str, Any]) -> dict[str, Any]:
    workspace_id = payload.get("workspace_id")
    if "events" in payload:
        specs = payload["events"]
        if not isinstance(specs, dict):
            raise ValueError("'events' must be an object: name -> {attributes, active_campaign, flow}")
    elif "name" in payload:
        specs = {
            payload["name"]: {
                k: payload[k]
                for k in ("attributes", "active_campaign", "flow", "campaigns", "flows")
                if k in payload
            }
        }
    else:
        raise ValueError("expected {'name', 'attributes', 'active_campaign'} or {'events': {...}}")
    state.declare_events(specs, workspace_id=workspace_id)
    return {"status": "ok", "declared": sorted(specs)}


def add_api_key(state: SandboxState, payload: dict[str, Any]) -> dict[str, Any]:
    """``{"api_key", "workspace_id"?, "business_events_scope"?}``: a further key, or a key's scope."""
    unknown = set(payload) - {"api_key", "workspace_id", "business_events_scope"}
    if unknown or "api_key" not in payload:
        raise ValueError(
            "expected {'api_key', 'workspace_id' (optional), 'business_events_scope' (optional)}"
        )
    state.add_api_key(
        payload["api_key"],
        workspace_id=payload.get("workspace_id"),
        business_events_scope=bool(payload.get("business_events_scope", True)),
    )
    return {"status": "ok"}
