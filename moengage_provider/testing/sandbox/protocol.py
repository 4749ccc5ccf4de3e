"""The legacy API's wire format (paths, documented texts and bodies, its error builders) and what
every API version shares: responses, refusals (``Reject``), ids, JSON and timestamps. V5's own is
in :mod:`.api.v5.wire`.

Plumbing only: which requests are valid is decided in :mod:`.validation` and the endpoint modules.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any

LOGGER_NAME = "moengage_provider.testing.sandbox"

CREATE_PATH = "/v1.0/business_event"
SEARCH_PATH = "/v1.0/business_event/search"
TRIGGER_PATH = "/v1.0/business_event/trigger"
API_PATHS = (CREATE_PATH, SEARCH_PATH, TRIGGER_PATH)
CONTROL_PREFIX = "/_sandbox"

ATTRIBUTE_TYPES = ("string", "int", "float", "array", "date")

# Success messages (trigger page and OpenAPI examples).
MSG_TRIGGERED = "The business event has been triggered"
MSG_CREATED = "The business event has been created"

# Documented 400 messages.
MSG_BAD_REQUEST = "Bad request"
MSG_EVENT_NOT_FOUND = "Business event does not exists"
MSG_EVENT_NOT_FOUND_DETAIL = "Business event does not exist"
MSG_WRONG_ATTRIBUTE = "Wrong business event attribute passed in api request"
MSG_NO_ACTIVE_CAMPAIGN = "No active campaign found for business event name"
MSG_SEARCH_CRITERIA = "At least one of event_ids or event_names should be provided"

# Documented 401 messages.
CODE_400 = "400 Bad Request"
CODE_401 = "401 Authentication error"
MSG_AUTH_REQUIRED = "Authentication required"
MSG_AUTH_MISSING = "APP_ID and APP_SECRET_KEY is missing in Authorization Header."
MSG_INVALID_APP_ID = "Invalid APP_ID is provided."
MSG_INVALID_SECRET = "Invalid APP_SECRET_KEY is provided."

# Sandbox-chosen messages, for cases the documentation does not cover (listed in docs/sandbox.md).
MSG_CONTENT_TYPE = "Content-Type must be application/json"
MSG_NOT_JSON = "Request body is not valid JSON"
MSG_NOT_OBJECT = "Request body must be a JSON object"
MSG_EVENT_EXISTS = "Business event with this name already exists"
MSG_EVENT_LIMIT = "Maximum number of business events for this workspace reached"
MSG_NOT_FOUND = "Not Found"
MSG_METHOD_NOT_ALLOWED = "Method Not Allowed"
MSG_TOO_LARGE = "Request body too large"
MSG_FLOW_LIMIT = "Exceeded the Business Trigger flow limit for this event"

RATE_LIMIT_BODY: dict[str, Any] = {
    "status": "error",
    "data": {
        "code": 429,
        "title": "rate limiter exception",
        "description": "Exceeded rate limit for this app",
    },
}
INTERNAL_ERROR_BODY: dict[str, Any] = {
    "title": "Internal Server Error",
    "message": (
        "An unexpected error was encountered while processing this request. Please contact MoEngage Team"
    ),
}
# Our own convention (MoEngage documents no 503): a 503 means "not processed, safe to retry".
SERVICE_UNAVAILABLE_BODY: dict[str, Any] = {
    "title": "Service Unavailable",
    "message": "Request not processed. Please retry.",
}

REDACTED = "<redacted>"
JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] | None = None


class Reject(Exception):
    """An error answer of the API, raised inside request processing."""

    def __init__(
        self,
        status: int,
        body: dict[str, Any],
        *,
        code: str,
        message: str,
        details: list[Any] | None = None,
        headers: dict[str, str] | None = None,
        workspace_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.code = code
        self.message = message
        self.details: list[Any] = details or []
        self.headers = headers
        self.workspace_id = workspace_id


def detail(code: str, target: Any, message: Any) -> dict[str, Any]:
    return {"code": code, "target": target, "message": message}


def error(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]],
    request_id: str,
    headers: dict[str, str] | None = None,
) -> Reject:
    body = {"error": {"code": code, "message": message, "details": details, "request_id": request_id}}
    return Reject(status, body, code=code, message=message, details=details, headers=headers)


def bad_request(message: str, details: list[dict[str, Any]], request_id: str) -> Reject:
    return error(400, CODE_400, message, details, request_id)


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def json_bytes(obj: Any) -> bytes:
    """ASCII-only JSON: any string a client sent (lone surrogates included) can be sent back."""
    return json.dumps(obj, ensure_ascii=True, allow_nan=False).encode("ascii")


_ID_LOCK = threading.Lock()
_ID_COUNTER = itertools.count(secrets.randbelow(1 << 24))
_ID_PROCESS = secrets.token_bytes(5).hex()


def new_object_id() -> str:
    """A 24-hex-character id shaped like MoEngage's (a MongoDB ObjectId), unique in this process."""
    with _ID_LOCK:
        n = next(_ID_COUNTER) & 0xFFFFFF
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{_ID_PROCESS}{n:06x}"


def iso_utc(ts: float) -> str:
    return (
        datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    )


def naive_iso(ts: float) -> str:
    """Search timestamps: the documented example's style plus the zone its schema requires
    (``format: date-time``, RFC 3339): '2023-05-29T18:36:52.390000+00:00'."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="microseconds")
