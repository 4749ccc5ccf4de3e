"""Shared helpers for the sandbox tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import base64
import copy
import time
from typing import Any

import requests

from moengage_provider.testing import MoEngageSandbox

WORKSPACE = "ws-test"
API_KEY = "k3y-Secret-4f9a2c7e"
TRIGGER = "/v1.0/business_event/trigger"
CREATE = "/v1.0/business_event"
SEARCH = "/v1.0/business_event/search"

SERIES_EVENTS: dict[str, dict[str, Any]] = {
    "NewSeriesAlert": {
        "attributes": {
            "season": "string",
            "episodes": "int",
            "cast": "array",
            "date": "date",
            "rating": "float",
        },
        "active_campaign": True,
    },
    "Dormant": {"attributes": {"x": "string"}, "active_campaign": False},
}

# The documented trigger example body (trigger-business-event.txt / OpenAPI), with a declared name.
DOC_TRIGGER = {
    "event_name": "NewSeriesAlert",
    "event_attributes": {
        "season": "Season 1",
        "episodes": 12,
        "cast": ["John Doe", "Jane Doe"],
        "date": "11/11/2023",
    },
    "triggered_by": "john.doe@example.com",
}


def call(
    sb: MoEngageSandbox,
    path: str,
    body: Any = None,
    *,
    auth: tuple[str, str] | None = (WORKSPACE, API_KEY),
    headers: dict[str, str] | None = None,
    data: bytes | str | None = None,
    method: str = "POST",
    timeout: float = 5.0,
    session: requests.Session | None = None,
) -> requests.Response:
    """One real HTTP request to the sandbox."""
    sender = session or requests
    kwargs: dict[str, Any] = {"auth": auth, "headers": headers, "timeout": timeout}
    if data is not None:
        kwargs["data"] = data
    elif body is not None:
        kwargs["json"] = body
    return sender.request(method, sb.url + path, **kwargs)


def trigger(sb: MoEngageSandbox, body: Any = None, **kwargs: Any) -> requests.Response:
    return call(sb, TRIGGER, copy.deepcopy(DOC_TRIGGER) if body is None else body, **kwargs)


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    """The error body with its (random) request_id removed, after checking it is 24 hex chars."""
    body = copy.deepcopy(body)
    request_id = body["error"].pop("request_id")
    assert isinstance(request_id, str) and len(request_id) == 24 and int(request_id, 16) >= 0
    return body


def error_body(code: str, message: str, details: list[dict[str, Any]]) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def wait_for(predicate: Any, timeout: float = 3.0, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


class FakeClock:
    """A settable clock for MoEngageSandbox(clock=...)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def SECRET_FORMS_OF(workspace_id: str, api_key: str) -> tuple[str, str, str]:
    """The three forms a key must never appear in: the key, "ws:key", and the base64 header value."""
    pair = f"{workspace_id}:{api_key}"
    return api_key, pair, base64.b64encode(pair.encode()).decode()
