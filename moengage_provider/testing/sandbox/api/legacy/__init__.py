"""The legacy Business Events API (``/v1.0/business_event...``): create, search, trigger, each in a
module of its own, and its refusals in the documented error shape (429 and 500 have their own)."""

from __future__ import annotations

import copy
from collections.abc import Mapping

from moengage_provider.testing.sandbox.api.call import (
    MISSING,
    UNKNOWN_WORKSPACE,
    ApiVersion,
    Route,
)
from moengage_provider.testing.sandbox.api.legacy import create, search, trigger
from moengage_provider.testing.sandbox.protocol import (
    CODE_401,
    CREATE_PATH,
    HTML_TYPE,
    INTERNAL_ERROR_BODY,
    JSON_TYPE,
    MSG_AUTH_MISSING,
    MSG_AUTH_REQUIRED,
    MSG_BAD_REQUEST,
    MSG_INVALID_APP_ID,
    MSG_INVALID_SECRET,
    MSG_METHOD_NOT_ALLOWED,
    MSG_NOT_FOUND,
    RATE_LIMIT_BODY,
    SEARCH_PATH,
    SERVICE_UNAVAILABLE_BODY,
    TEXT_TYPE,
    TRIGGER_PATH,
    Reject,
    bad_request,
    detail,
    error,
    json_bytes,
    status_line,
)
from moengage_provider.testing.sandbox.ratelimits import SEARCH, TRIGGER, Standing


class LegacyRefusals:
    """The legacy API's refusals: ``{"error": {code, message, details, request_id}}``."""

    response_id = None

    def __init__(self, request_id: str, headers: Mapping[str, str] | None = None) -> None:
        self.request_id = request_id

    def answer_headers(self) -> dict[str, str]:
        return {}

    def not_found(self, path: str) -> Reject:
        details = [detail("InvalidValue", "path", f"No API at {path}")]
        return error(404, status_line(404), MSG_NOT_FOUND, details, self.request_id)

    def method_not_allowed(self, method: str, path: str, allowed: str) -> Reject:
        details = [detail("InvalidValue", "method", f"{method} is not allowed on {path}; use {allowed}")]
        return error(
            405,
            status_line(405),
            MSG_METHOD_NOT_ALLOWED,
            details,
            self.request_id,
            headers={"Allow": allowed},
        )

    def unauthenticated(self, how: str) -> Reject:
        if how == MISSING:
            inner = detail("MissingValue", "Authorization", MSG_AUTH_MISSING)
            return error(
                401,
                CODE_401,
                MSG_AUTH_REQUIRED,
                [detail("InvalidValue", "Authorization", inner)],
                self.request_id,
            )
        target, message = (
            ("APP_ID", MSG_INVALID_APP_ID)
            if how == UNKNOWN_WORKSPACE
            else ("APP_SECRET_KEY", MSG_INVALID_SECRET)
        )
        inner = detail("InvalidValue", target, message)
        return error(
            401, CODE_401, MSG_AUTH_REQUIRED, [detail("InvalidValue", target, [inner])], self.request_id
        )

    def forbidden(self) -> Reject:  # the legacy API checks no scope: a key without it is a wrong key
        return self.unauthenticated("key")

    def bad_body(self, target: str, message: str) -> Reject:
        return bad_request(MSG_BAD_REQUEST, [detail("InvalidValue", target, message)], self.request_id)

    def unreadable(self, status: int, message: str) -> Reject:
        return error(status, status_line(status), message, [], self.request_id)

    def rate_limited(self, standing: Standing, now: float, retry_after: bool) -> Reject:
        """The documented 429 (``Retry-After`` only when asked for: the legacy pages document none)."""
        return Reject(
            429,
            copy.deepcopy(RATE_LIMIT_BODY),
            code="429 rate limiter exception",
            message=RATE_LIMIT_BODY["data"]["description"],
            headers={"Retry-After": standing.retry_after(now)} if retry_after else None,
        )

    def fault(self, status: int, path: str) -> tuple[bytes, str]:
        """What MoEngage (or the proxy in front of it) answers with that status."""
        if status == 500:
            return json_bytes(INTERNAL_ERROR_BODY), JSON_TYPE
        if status == 503:
            return json_bytes(SERVICE_UNAVAILABLE_BODY), JSON_TYPE
        if status == 429:
            return json_bytes(RATE_LIMIT_BODY), JSON_TYPE
        if status in (502, 504):
            line = status_line(status)
            page = (
                f"<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n"
                f"<center><h1>{line}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            )
            return page.encode("utf-8"), HTML_TYPE
        if status in (204, 304):
            return b"", TEXT_TYPE
        phrase = status_line(status).partition(" ")[2] or "Error"
        info = detail("InjectedFault", path, f"Fault injected by the MoEngage sandbox: {status_line(status)}")
        body = {
            "error": {
                "code": status_line(status),
                "message": phrase,
                "details": [info],
                "request_id": self.request_id,
            }
        }
        return json_bytes(body), JSON_TYPE


VERSION = ApiVersion(
    "v1.0",
    prefix="/",
    routes={
        TRIGGER_PATH: {"POST": Route(trigger.handle, (TRIGGER,), names_event=True)},
        CREATE_PATH: {"POST": Route(create.handle, names_event=True)},
        SEARCH_PATH: {"POST": Route(search.handle, (SEARCH,))},
    },
    refusals=LegacyRefusals,
)
