"""V5's wire format: paths, the request id and ``response_id``, the envelope, and its refusals.

Every V5 answer carries ``X-MOE-Request-Id`` (the client's, else one generated) and a
``response_id`` of ``resp_`` + that UUID without dashes. The trigger and the look-ups document two
error shapes: the trigger's details are ``{field, issue, message}`` and its 401 is
``AUTHENTICATION_REQUIRED``; the look-ups' details are ``{code, target, message}``, their 401
``UNAUTHORIZED`` and their 400 ``INVALID_REQUEST``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from moengage_provider.testing.sandbox.api.call import MISSING
from moengage_provider.testing.sandbox.protocol import JSON_TYPE, Reject, json_bytes, status_line
from moengage_provider.testing.sandbox.ratelimits import Standing

TRIGGERS_PATH = "/v5/business-events/triggers"
EVENTS_PATH = "/v5/business-events"
SEARCH_PATH = "/v5/business-events/search"
REQUEST_ID_HEADER = "X-MOE-Request-Id"

MSG_TRIGGERED = "The business event has been triggered"
MSG_EVENT_NOT_FOUND = "Business event does not exists"
MSG_WRONG_ATTRIBUTE = "Wrong business event attribute passed in api request"
MSG_VALIDATION = "One or more fields failed validation."
MSG_AUTH_MISSING = "Workspace ID and API key are missing from the Authorization header."
MSG_AUTH_INVALID = "Invalid workspace ID or API key."  # the sandbox's words: not documented
MSG_UNAUTHORIZED = "Missing or invalid authentication credentials."
MSG_INTERNAL = (
    "An unexpected error occurred while processing the request. Retry the request, and quote "
    "`response_id` if you contact MoEngage Support."
)

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_uuid(value: Any) -> bool:
    return isinstance(value, str) and bool(_UUID.match(value))


def issue(field: str, code: str, message: str) -> dict[str, str]:
    """One detail of a trigger's validation error."""
    return {"field": field, "issue": code, "message": message}


class V5Refusals:
    """V5's refusals for one request. ``lookup``: the look-ups' shape, else the trigger's."""

    def __init__(self, request_id: str, headers: Mapping[str, str], *, lookup: bool = False) -> None:
        self.request_id = request_id
        self.lookup = lookup
        sent = headers.get(REQUEST_ID_HEADER.lower())
        #: the client's X-MOE-Request-Id when it is not a UUID (refused before the body is read)
        self.malformed_request_id: str | None = sent if sent is not None and not is_uuid(sent) else None
        self.trace: str = sent.lower() if sent is not None and is_uuid(sent) else str(uuid.uuid4())
        self.trace_from_client: bool = self.malformed_request_id is None and sent is not None

    @property
    def response_id(self) -> str:
        return "resp_" + self.trace.replace("-", "")

    def answer_headers(self) -> dict[str, str]:
        return {REQUEST_ID_HEADER: self.trace}

    def envelope(self, kind: str, data: Any, **more: Any) -> dict[str, Any]:
        return {"response_id": self.response_id, "type": kind, "data": data, **more}

    def refuse(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reject:
        error: dict[str, Any] = {"code": code, "message": message}
        if target is not None:
            error["target"] = target
        if details:
            error["details"] = details
        body = {"response_id": self.response_id, "error": error}
        return Reject(status, body, code=code, message=message, details=details or [], headers=headers)

    def invalid(self, field: str, code: str, message: str, *, top: str | None = None) -> Reject:
        """A 400 naming one field: ``VALIDATION_FAILED`` (trigger) or ``INVALID_REQUEST`` (look-ups)."""
        if self.lookup:
            detail = {"code": code, "target": field, "message": message}
            return self.refuse(400, "INVALID_REQUEST", top or message, target=field, details=[detail])
        return self.refuse(
            400, "VALIDATION_FAILED", top or message, target=field, details=[issue(field, code, message)]
        )

    # -- the refusals every version has --------------------------------------------------------
    def not_found(self, path: str) -> Reject:
        return self.refuse(404, "NOT_FOUND", f"No API at {path}", target="path")

    def method_not_allowed(self, method: str, path: str, allowed: str) -> Reject:
        message = f"{method} is not allowed on {path}; use {allowed}"
        return self.refuse(405, "METHOD_NOT_ALLOWED", message, target="method", headers={"Allow": allowed})

    def unauthenticated(self, how: str) -> Reject:
        if self.lookup:
            return self.refuse(401, "UNAUTHORIZED", MSG_UNAUTHORIZED, target="Authorization")
        message = MSG_AUTH_MISSING if how == MISSING else MSG_AUTH_INVALID
        return self.refuse(401, "AUTHENTICATION_REQUIRED", message, target="Authorization")

    def forbidden(self) -> Reject:
        what = "read" if self.lookup else "trigger"
        message = f"This API key does not have the scope required to {what} business events."
        return self.refuse(403, "FORBIDDEN", message, target="Authorization")

    def bad_body(self, target: str, message: str) -> Reject:
        return self.invalid(target, "INVALID_VALUE", message)

    def unreadable(self, status: int, message: str) -> Reject:
        if status == 413:
            return self.refuse(413, "PAYLOAD_TOO_LARGE", message, target="body")
        return self.refuse(status, "INVALID_REQUEST", message)

    def rate_limited(self, standing: Standing, now: float, retry_after: bool) -> Reject:
        """V5 documents ``Retry-After`` (seconds) on its 429: always there."""
        seconds = standing.retry_after(now)
        message = (
            f"Workspace rate limit exceeded. Retry after {seconds} seconds."
            if self.lookup
            else "Exceeded rate limit for this workspace."
        )
        return self.refuse(429, "RATE_LIMIT_EXCEEDED", message, headers={"Retry-After": seconds})

    def internal_error(self) -> Reject:
        return self.refuse(500, "INTERNAL_ERROR", MSG_INTERNAL)

    def fault(self, status: int, path: str) -> tuple[bytes, str]:
        """An injected fault, answered in V5's error shape (a 429 without ``Retry-After`` unless
        the fault gives one: a proxy's 429 need not carry it)."""
        codes = {429: "RATE_LIMIT_EXCEEDED", 500: "INTERNAL_ERROR", 503: "SERVICE_UNAVAILABLE"}
        code = codes.get(status) or status_line(status).partition(" ")[2].upper().replace(" ", "_") or "ERROR"
        message = (
            MSG_INTERNAL
            if status == 500
            else f"Fault injected by the MoEngage sandbox: {status_line(status)}"
        )
        return json_bytes(
            {"response_id": self.response_id, "error": {"code": code, "message": message}}
        ), JSON_TYPE


def trigger_refusals(request_id: str, headers: Mapping[str, str]) -> V5Refusals:
    return V5Refusals(request_id, headers)


def lookup_refusals(request_id: str, headers: Mapping[str, str]) -> V5Refusals:
    return V5Refusals(request_id, headers, lookup=True)


def check_request_id(refusals: V5Refusals) -> None:
    """A client's ``X-MOE-Request-Id`` must be a UUID (the spec's ``format: uuid``)."""
    if refusals.malformed_request_id is not None:
        shown = refusals.malformed_request_id[:80]
        raise refusals.invalid(
            REQUEST_ID_HEADER, "INVALID_FORMAT", f"{REQUEST_ID_HEADER} must be a UUID, not {shown!r}"
        )
