"""A local stand-in for the MoEngage Business Events API.

``MoEngageSandbox`` is a real HTTP server (stdlib ``ThreadingHTTPServer``, HTTP/1.1 with keep-alive)
that answers ``POST /v1.0/business_event`` (create), ``POST /v1.0/business_event/search`` and
``POST /v1.0/business_event/trigger`` the way MoEngage documents them: Basic auth, the documented
success and error bodies, declared events with typed attributes, the per-workspace rate limits, plus
fault injection (error statuses, stalls, dropped connections) and records of every request.

Run it from a shell::

    MOENGAGE_SANDBOX_API_KEY=K python -m moengage_provider.testing.sandbox --port 8080 --workspace-id W

This module uses the standard library only (PyYAML is used for ``.yaml`` config files when it is
installed) and never imports Airflow.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import copy
import hmac
import ipaddress
import itertools
import json
import logging
import math
import os
import re
import secrets
import selectors
import shlex
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, TypedDict, cast
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "ATTRIBUTE_TYPES",
    "MoEngageSandbox",
    "RejectedRecord",
    "RequestRecord",
    "TriggerRecord",
    "load_config",
    "main",
]

LOGGER_NAME = "moengage_provider.testing.sandbox"
logger = logging.getLogger(LOGGER_NAME)

# --------------------------------------------------------------------------------------------------
# Paths and documented texts
# --------------------------------------------------------------------------------------------------

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

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_MDY_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


# --------------------------------------------------------------------------------------------------
# Record types (plain dicts at runtime)
# --------------------------------------------------------------------------------------------------


class TriggerRecord(TypedDict):
    """An accepted trigger."""

    event_name: str
    event_attributes: dict[str, Any]
    triggered_by: str | None
    workspace_id: str
    received_at: str
    request_id: str


class RejectedRecord(TypedDict):
    """A request the sandbox did not accept (error answer, injected fault, dropped, client gone)."""

    path: str
    status: int | None
    code: str
    message: str
    workspace_id: str | None
    received_at: str
    request_id: str
    event_name: str | None
    details: list[Any]


class RequestRecord(TypedDict):
    """Every API request received (control-API requests excluded)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None
    received_at: str
    request_id: str


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------

_ID_LOCK = threading.Lock()
_ID_COUNTER = itertools.count(secrets.randbelow(1 << 24))
_ID_PROCESS = secrets.token_bytes(5).hex()


def new_object_id() -> str:
    """A 24-hex-character id shaped like MoEngage's (a MongoDB ObjectId), unique in this process."""
    with _ID_LOCK:
        n = next(_ID_COUNTER) & 0xFFFFFF
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{_ID_PROCESS}{n:06x}"


def _iso_utc(ts: float) -> str:
    return (
        datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    )


def _naive_iso(ts: float) -> str:
    """The documented search timestamp style: '2023-05-29T18:36:52.390000' (UTC, no zone)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj).encode("utf-8")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_email(value: Any) -> bool:
    return isinstance(value, str) and bool(_EMAIL_RE.match(value))


def is_valid_date(value: Any) -> bool:
    """A date attribute value: ISO 8601 date or date-time, or MM/DD/YYYY (the documented example)."""
    if not isinstance(value, str) or not value:
        return False
    match = _MDY_RE.match(value)
    if match:
        month, day, year = (int(g) for g in match.groups())
        try:
            date(year, month, day)
        except ValueError:
            return False
        return True
    try:
        date.fromisoformat(value)
        return True
    except ValueError:
        pass
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _json_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(declared: str, value: Any) -> bool:
    if declared == "string":
        return isinstance(value, str)
    if declared == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if declared == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if declared == "array":
        return isinstance(value, list)
    if declared == "date":
        return is_valid_date(value)
    return False


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _detail(code: str, target: Any, message: Any) -> dict[str, Any]:
    return {"code": code, "target": target, "message": message}


def _normalize_attributes(attributes: Any, event_name: str) -> dict[str, str]:
    """Attributes as {name: type} or as the create API's [{attribute_name, attribute_data_type}]."""
    if attributes is None:
        return {}
    result: dict[str, str] = {}
    if isinstance(attributes, Mapping):
        items: Iterable[tuple[Any, Any]] = attributes.items()
    elif isinstance(attributes, list):
        pairs = []
        for item in attributes:
            if not isinstance(item, Mapping) or "attribute_name" not in item:
                raise ValueError(
                    f"event {event_name!r}: attribute entries need attribute_name/attribute_data_type"
                )
            pairs.append((item["attribute_name"], item.get("attribute_data_type")))
        items = pairs
    else:
        raise ValueError(f"event {event_name!r}: attributes must be a mapping name -> type")
    for name, type_ in items:
        if not isinstance(name, str) or not name:
            raise ValueError(f"event {event_name!r}: attribute names must be non-empty strings")
        if type_ not in ATTRIBUTE_TYPES:
            raise ValueError(
                f"event {event_name!r}: attribute {name!r} has type {type_!r}; expected one of {ATTRIBUTE_TYPES}"
            )
        result[name] = type_
    return result


# --------------------------------------------------------------------------------------------------
# Internal state
# --------------------------------------------------------------------------------------------------


@dataclass
class _Event:
    name: str
    attributes: dict[str, str]
    active_campaign: bool
    event_id: str
    object_id: str
    created_at: str
    created_by: str
    total_trigger: int = 0
    last_received_time: str | None = None

    def as_search_result(self, db_name: str) -> dict[str, Any]:
        return {
            "db_name": db_name,
            "event_id": self.event_id,
            "event_name": self.name,
            "event_attributes": [
                {"attribute_name": n, "attribute_data_type": t} for n, t in self.attributes.items()
            ],
            "created_at": self.created_at,
            "total_trigger": self.total_trigger,
            "users_in_segment": 0,
            "usage_count": 0,
            "created_by": self.created_by,
            "last_received_time": self.last_received_time,
            "_id": self.object_id,
        }


@dataclass
class _Workspace:
    workspace_id: str
    api_key: str
    events: dict[str, _Event]
    hour_window: int = -1
    hour_count: int = 0
    day_window: int = -1
    day_count: int = 0
    minute_window: int = -1
    minute_count: int = 0


@dataclass
class _Fault:
    kind: str  # "fail" | "stall" | "drop"
    remaining: int
    path: str | None
    status: int = 0
    body: Any = None
    content_type: str | None = None
    headers: dict[str, str] | None = None
    seconds: float = 0.0
    after_body: bool = True
    accept: bool = False


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] | None = None


class _Reject(Exception):
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
        self.details = details or []
        self.headers = headers
        self.workspace_id = workspace_id


def _error(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]],
    request_id: str,
    headers: dict[str, str] | None = None,
) -> _Reject:
    body = {"error": {"code": code, "message": message, "details": details, "request_id": request_id}}
    return _Reject(status, body, code=code, message=message, details=details, headers=headers)


def _bad_request(message: str, details: list[dict[str, Any]], request_id: str) -> _Reject:
    return _error(400, CODE_400, message, details, request_id)


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _default_fault_response(status: int, path: str, request_id: str) -> tuple[bytes, str]:
    if status == 500:
        return _json_bytes(INTERNAL_ERROR_BODY), JSON_TYPE
    if status == 503:
        return _json_bytes(SERVICE_UNAVAILABLE_BODY), JSON_TYPE
    if status == 429:
        return _json_bytes(RATE_LIMIT_BODY), JSON_TYPE
    if status in (502, 504):
        line = _status_line(status)
        page = (
            f"<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n"
            f"<center><h1>{line}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        )
        return page.encode("utf-8"), HTML_TYPE
    if status in (204, 304):
        return b"", TEXT_TYPE
    phrase = _status_line(status).partition(" ")[2] or "Error"
    detail = _detail("InjectedFault", path, f"Fault injected by the MoEngage sandbox: {_status_line(status)}")
    body = {
        "error": {
            "code": _status_line(status),
            "message": phrase,
            "details": [detail],
            "request_id": request_id,
        }
    }
    return _json_bytes(body), JSON_TYPE


def _render_fault_body(body: Any, content_type: str | None) -> tuple[bytes, str]:
    if isinstance(body, (dict, list)):
        return _json_bytes(body), content_type or JSON_TYPE
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if content_type is None:
        content_type = HTML_TYPE if raw.lstrip().startswith(b"<") else TEXT_TYPE
    return raw, content_type


# --------------------------------------------------------------------------------------------------
# HTTP server and handler
# --------------------------------------------------------------------------------------------------


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _ClientGone(Exception):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: MoEngageSandbox, family: socket.AddressFamily):
        self.address_family = family
        self.sandbox = sandbox
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (socket.getfqdn); skip it, it can be slow.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Never print tracebacks on stderr; connection errors are normal with fault injection.
        logger.debug("connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MoEngageSandbox/0.1"
    sys_version = ""
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return self.server_version

    # -- silence BaseHTTPRequestHandler's stderr logging ------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        return

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    @property
    def sandbox(self) -> MoEngageSandbox:
        return cast(_Server, self.server).sandbox

    def setup(self) -> None:
        super().setup()
        self.sandbox._track_connection(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.sandbox._track_connection(self.connection, add=False)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_GET
    do_PUT = do_GET
    do_PATCH = do_GET
    do_DELETE = do_GET
    do_HEAD = do_GET
    do_OPTIONS = do_GET

    # -- transport helpers ------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        limit = self.sandbox.max_body_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        try:
            length = int(length_header.strip())
        except ValueError:
            raise _BodyError(400, "Content-Length header is not a number") from None
        if length < 0:
            raise _BodyError(400, "Content-Length header is negative")
        if length > limit:
            raise _BodyError(413, f"{MSG_TOO_LARGE}: the sandbox accepts at most {limit} bytes")
        data = self.rfile.read(length)
        if len(data) < length:
            raise _ClientGone()
        return data

    def _read_chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise _ClientGone()
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BodyError(400, "Malformed chunked request body") from None
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > limit:
                raise _BodyError(413, f"{MSG_TOO_LARGE}: the sandbox accepts at most {limit} bytes")
            data = self.rfile.read(size)
            if len(data) < size:
                raise _ClientGone()
            chunks.append(data)
            self.rfile.readline(65537)

    def _send(self, response: _Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in (response.headers or {}).items():
            if name.lower() not in ("content-length", "content-type"):
                self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(response.body)))
        # Status line, headers and body in one write (no Nagle / delayed-ACK stalls on keep-alive).
        buffer: list[bytes] = self.__dict__.setdefault("_headers_buffer", [])
        head = b"".join(buffer) + b"\r\n"
        buffer.clear()
        self.wfile.write(head + (response.body if self.command != "HEAD" else b""))
        self.wfile.flush()

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _stall(self, seconds: float) -> str:
        """Wait; return "ok", "gone" (client closed meanwhile) or "stopped" (sandbox stopping)."""
        if self.sandbox._stopping.wait(seconds):
            return "stopped"
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.connection, selectors.EVENT_READ)
                readable = bool(selector.select(timeout=0))
            if readable and self.connection.recv(1, socket.MSG_PEEK) == b"":
                return "gone"
        except (OSError, ValueError):
            return "gone"
        return "ok"

    def _header_dict(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return headers

    # -- dispatch ---------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        path = urlsplit(self.path).path or "/"
        try:
            if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
                self._control(path)
            else:
                self._api(path)
        except (_ClientGone, ConnectionError, TimeoutError):
            self.close_connection = True
        except OSError:
            self.close_connection = True
            logger.debug("socket error", exc_info=True)
        except Exception:  # a sandbox bug: answer like MoEngage's documented 500, keep serving
            logger.exception("MoEngage sandbox failed on %s %s", self.command, path)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send(_Response(500, _json_bytes(INTERNAL_ERROR_BODY)))

    def _api(self, path: str) -> None:
        sb = self.sandbox
        method = self.command
        request_id = new_object_id()
        received_at = _iso_utc(sb._now())
        headers = self._header_dict()
        fault = sb._take_fault(path)
        body = b""
        status: int | None = None
        event_name: str | None = None

        def finish(outcome: str) -> None:
            sb._record_request(method, self.path, headers, body, status, request_id, received_at)
            sb._log(method, path, outcome, event_name, request_id)

        def lost(code: str, message: str) -> None:
            sb._record_rejected(path, None, code, message, None, received_at, request_id, event_name, [])
            finish(code)

        if fault is not None and not fault.after_body and fault.kind in ("drop", "stall"):
            if fault.kind == "drop":
                lost("dropped", "connection dropped by an injected fault before the body was read")
                self._drop()
                return
            outcome = self._stall(fault.seconds)
            if outcome != "ok":
                lost(_STALL_OUTCOME_CODES[outcome], f"stalled for {fault.seconds}s, then: {outcome}")
                self._drop()
                return

        try:
            body = self._read_body()
        except _BodyError as exc:
            self.close_connection = True
            reject = _error(exc.status, _status_line(exc.status), exc.message, [], request_id)
            sb._record_rejected(
                path, exc.status, reject.code, exc.message, None, received_at, request_id, None, []
            )
            status = exc.status
            finish(str(status))  # record before answering: a client reading records sees its request
            self._send(_Response(exc.status, _json_bytes(reject.body)))
            return
        except _ClientGone:
            lost("client gone", "client closed the connection before sending the whole body")
            raise

        if fault is not None and fault.kind == "stall" and fault.after_body:
            outcome = self._stall(fault.seconds)
            if outcome != "ok":
                lost(_STALL_OUTCOME_CODES[outcome], f"stalled for {fault.seconds}s, then: {outcome}")
                self._drop()
                return

        if fault is not None and fault.kind == "fail":
            event_name = _peek_event_name(body) if path in (CREATE_PATH, TRIGGER_PATH) else None
            response = sb._fault_response(fault, path, request_id)
            status = response.status
            sb._record_rejected(
                path,
                status,
                f"{status} injected fault",
                f"injected fault: HTTP {status}",
                None,
                received_at,
                request_id,
                event_name,
                [],
            )
            finish(str(status))
            self._send(response)
            return

        if fault is not None and fault.kind == "drop":
            if fault.accept:
                response, event_name = sb._process(method, path, headers, body, request_id, received_at)
            else:
                event_name = _peek_event_name(body)
                sb._record_rejected(
                    path,
                    None,
                    "dropped",
                    "connection dropped by an injected fault after the body was read",
                    None,
                    received_at,
                    request_id,
                    event_name,
                    [],
                )
            finish("dropped")
            self._drop()
            return

        response, event_name = sb._process(method, path, headers, body, request_id, received_at)
        status = response.status
        finish(str(status))
        self._send(response)

    def _control(self, path: str) -> None:
        sb = self.sandbox
        method = self.command
        try:
            body = self._read_body()
        except _BodyError as exc:
            self.close_connection = True
            self._send(_Response(exc.status, _json_bytes({"error": exc.message})))
            return
        response = sb._control(method, path, urlsplit(self.path).query, body)
        sb._log(method, path, str(response.status), None, None)
        self._send(response)


_STALL_OUTCOME_CODES = {"gone": "client gone", "stopped": "sandbox stopped"}


def _peek_event_name(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(payload, dict) and isinstance(payload.get("event_name"), str):
        return cast(str, payload["event_name"])
    return None


# --------------------------------------------------------------------------------------------------
# The sandbox
# --------------------------------------------------------------------------------------------------


class MoEngageSandbox:
    """A local MoEngage Business Events API.

    ``with MoEngageSandbox("W", "K") as sb:`` starts it on a free port of 127.0.0.1; ``sb.url`` is the
    base URL, ``sb.triggers`` the accepted triggers, ``sb.fail_next``/``stall_next``/``drop_next``
    inject faults. See docs/sandbox.md.
    """

    def __init__(
        self,
        workspace_id: str,
        api_key: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        events: Mapping[str, Mapping[str, Any]] | None = None,
        permissive: bool = True,
        hourly_limit: int = 50,
        daily_limit: int = 200,
        hour_seconds: float = 3600.0,
        day_seconds: float = 86400.0,
        retry_after: bool = False,
        record_file: str | os.PathLike[str] | None = None,
        search_limit_per_minute: int = 100,
        minute_seconds: float = 60.0,
        event_limit: int = 50,
        allow_remote: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not isinstance(workspace_id, str) or not workspace_id:
            raise ValueError("workspace_id must be a non-empty string")
        if not isinstance(api_key, str) or not api_key:
            raise ValueError("api_key must be a non-empty string")
        if not allow_remote and not _is_loopback(host):
            raise ValueError(
                f"refusing to bind the sandbox to non-loopback host {host!r}; pass allow_remote=True "
                "(--allow-remote) if you really mean it"
            )
        for name, value in (
            ("hour_seconds", hour_seconds),
            ("day_seconds", day_seconds),
            ("minute_seconds", minute_seconds),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be > 0")
        for name, limit in (
            ("hourly_limit", hourly_limit),
            ("daily_limit", daily_limit),
            ("search_limit_per_minute", search_limit_per_minute),
            ("event_limit", event_limit),
        ):
            if limit < 0:
                raise ValueError(f"{name} must be >= 0")
        self._host = host
        self._requested_port = int(port)
        self.permissive = bool(permissive)
        self.hourly_limit = int(hourly_limit)
        self.daily_limit = int(daily_limit)
        self.hour_seconds = float(hour_seconds)
        self.day_seconds = float(day_seconds)
        self.retry_after = bool(retry_after)
        self.record_file = Path(record_file) if record_file is not None else None
        self.search_limit_per_minute = int(search_limit_per_minute)
        self.minute_seconds = float(minute_seconds)
        self.event_limit = int(event_limit)
        self.max_body_bytes = int(max_body_bytes)
        self._clock: Callable[[], float] = clock or time.time

        self._lock = threading.RLock()
        self._primary = workspace_id
        self._workspaces: dict[str, _Workspace] = {}
        self._triggers: list[TriggerRecord] = []
        self._rejected: list[RejectedRecord] = []
        self._requests: list[RequestRecord] = []
        self._faults: list[_Fault] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._wake_r: socket.socket
        self._wake_w: socket.socket
        self._stopped = False
        self.add_workspace(workspace_id, api_key, events=events)

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> MoEngageSandbox:
        with self._lock:
            if self._stopped:
                raise RuntimeError("this sandbox was stopped; create a new MoEngageSandbox")
            if self._server is not None:
                return self
            family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
            server = _Server((self._host.strip("[]"), self._requested_port), self, family)
            self._server = server
            self._wake_r, self._wake_w = socket.socketpair()
            self._thread = threading.Thread(
                target=self._serve, args=(server,), name=f"moengage-sandbox-{self.port}", daemon=True
            )
            self._thread.start()
        return self

    def _serve(self, server: _Server) -> None:
        # Like serve_forever(), but woken at once by stop() instead of polling every 0.5 s.
        server.timeout = 0.5
        with selectors.DefaultSelector() as selector:
            selector.register(server, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select(timeout=0.5):  # the timeout is only a safety net
                    if key.fileobj is server and not self._stopping.is_set():
                        server.handle_request()

    def stop(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            if server is None or self._stopped:
                self._stopped = True
                return
            self._stopped = True
        self._stopping.set()  # also wakes stalled requests
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if thread is not None:
            thread.join(timeout=5)
        server.server_close()
        self._wake_r.close()
        self._wake_w.close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # wakes handler threads waiting on idle keep-alive connections
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> MoEngageSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server is not None and not self._stopped else "not running"
        return f"<MoEngageSandbox workspace_id={self._primary!r} {where}>"

    @property
    def running(self) -> bool:
        return self._server is not None and not self._stopped

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not started; call start() first")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        if self._server is None:
            return self._host
        return str(self._server.server_address[0])

    @property
    def url(self) -> str:
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def workspace_id(self) -> str:
        return self._primary

    @property
    def api_key(self) -> str:
        """The API key of the primary workspace (for tests that build their own requests)."""
        return self._workspaces[self._primary].api_key

    def airflow_conn_json(self, conn_type: str = "moengage") -> str:
        """The JSON form of an Airflow connection pointing at this sandbox (for AIRFLOW_CONN_...)."""
        return json.dumps(
            {
                "conn_type": conn_type,
                "host": self.host,
                "port": self.port,
                "schema": "http",
                "login": self._primary,
                "password": self.api_key,
            }
        )

    # -- configuration ----------------------------------------------------------------------------
    def add_workspace(
        self,
        workspace_id: str,
        api_key: str,
        *,
        events: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Accept a further workspace ID / API key pair (with its own events and rate limits)."""
        if not workspace_id or not api_key:
            raise ValueError("workspace_id and api_key must be non-empty strings")
        with self._lock:
            if workspace_id not in self._workspaces:
                self._workspaces[workspace_id] = _Workspace(workspace_id, api_key, {})
            else:
                self._workspaces[workspace_id].api_key = api_key
        for name, spec in (events or {}).items():
            if not isinstance(spec, Mapping):
                raise ValueError(
                    f"event {name!r}: expected a mapping with 'attributes' and 'active_campaign'"
                )
            unknown = set(spec) - {"attributes", "active_campaign"}
            if unknown:
                raise ValueError(f"event {name!r}: unknown keys {sorted(unknown)}")
            self.declare_event(
                name,
                spec.get("attributes") or {},
                active_campaign=bool(spec.get("active_campaign", True)),
                workspace_id=workspace_id,
            )

    def declare_event(
        self,
        name: str,
        attributes: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        active_campaign: bool = True,
        *,
        workspace_id: str | None = None,
    ) -> None:
        """Declare (or redeclare) a business event and its typed attributes."""
        if not isinstance(name, str) or not name:
            raise ValueError("event name must be a non-empty string")
        attrs = _normalize_attributes(attributes, name)
        now = self._now()
        with self._lock:
            ws = self._workspace(workspace_id)
            previous = ws.events.get(name)
            ws.events[name] = _Event(
                name=name,
                attributes=attrs,
                active_campaign=bool(active_campaign),
                event_id=previous.event_id if previous else new_object_id(),
                object_id=previous.object_id if previous else new_object_id(),
                created_at=previous.created_at if previous else _naive_iso(now),
                created_by=previous.created_by if previous else "sandbox@example.com",
            )

    def events(self, workspace_id: str | None = None) -> dict[str, dict[str, Any]]:
        """The declared events of a workspace, in the form ``events=`` accepts."""
        with self._lock:
            ws = self._workspace(workspace_id)
            return {
                e.name: {"attributes": dict(e.attributes), "active_campaign": e.active_campaign}
                for e in ws.events.values()
            }

    def _workspace(self, workspace_id: str | None) -> _Workspace:
        key = workspace_id if workspace_id is not None else self._primary
        try:
            return self._workspaces[key]
        except KeyError:
            raise KeyError(f"unknown workspace {key!r}") from None

    # -- records ----------------------------------------------------------------------------------
    @property
    def triggers(self) -> list[TriggerRecord]:
        with self._lock:
            return copy.deepcopy(self._triggers)

    @property
    def rejected(self) -> list[RejectedRecord]:
        with self._lock:
            return copy.deepcopy(self._rejected)

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return copy.deepcopy(self._requests)

    def reset(self) -> None:
        """Forget records, pending faults and rate-limit counters; declared events stay."""
        with self._lock:
            self._triggers.clear()
            self._rejected.clear()
            self._requests.clear()
            self._faults.clear()
            for ws in self._workspaces.values():
                ws.hour_window = ws.day_window = ws.minute_window = -1
                ws.hour_count = ws.day_count = ws.minute_count = 0
                for event in ws.events.values():
                    event.total_trigger = 0
                    event.last_received_time = None

    def rate_limit_state(self, workspace_id: str | None = None) -> dict[str, Any]:
        """Counters of the current windows; ``*_window_ends_at`` are epoch seconds (floats)."""
        now = self._now()
        with self._lock:
            ws = self._workspace(workspace_id)
            self._roll_windows(ws, now)
            return {
                "workspace_id": ws.workspace_id,
                "hour_count": ws.hour_count,
                "day_count": ws.day_count,
                "hour_window_ends_at": (ws.hour_window + 1) * self.hour_seconds,
                "day_window_ends_at": (ws.day_window + 1) * self.day_seconds,
                "hourly_limit": self.hourly_limit,
                "daily_limit": self.daily_limit,
                "search_count": ws.minute_count,
                "search_window_ends_at": (ws.minute_window + 1) * self.minute_seconds,
                "search_limit_per_minute": self.search_limit_per_minute,
            }

    # -- faults -----------------------------------------------------------------------------------
    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        body: str | bytes | Mapping[str, Any] | list[Any] | None = None,
        content_type: str | None = None,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next ``count`` API requests (only those to ``path``, if given) with ``status``."""
        status = int(status)
        if not 200 <= status <= 599:
            raise ValueError("status must be between 200 and 599")
        if body is not None and not isinstance(body, (str, bytes, bytearray, dict, list)):
            raise TypeError("body must be str, bytes, a dict or a list")
        self._add_fault(
            _Fault(
                "fail",
                self._check_count(count),
                path,
                status=status,
                body=dict(body) if isinstance(body, Mapping) else body,
                content_type=content_type,
                headers=dict(headers) if headers else None,
            )
        )

    def stall_next(
        self, seconds: float, *, count: int = 1, path: str | None = None, after_body: bool = True
    ) -> None:
        """Wait ``seconds`` before answering the next ``count`` API requests, then process them
        normally unless the client went away meanwhile."""
        if not float(seconds) >= 0:
            raise ValueError("seconds must be >= 0")
        self._add_fault(
            _Fault("stall", self._check_count(count), path, seconds=float(seconds), after_body=after_body)
        )

    def drop_next(
        self, *, count: int = 1, path: str | None = None, after_body: bool = True, accept: bool = False
    ) -> None:
        """Close the connection of the next ``count`` API requests without answering. With
        ``accept=True`` (needs ``after_body=True``) the request is processed (and recorded) first."""
        if accept and not after_body:
            raise ValueError("accept=True needs after_body=True: the request must be read to be processed")
        self._add_fault(_Fault("drop", self._check_count(count), path, after_body=after_body, accept=accept))

    @staticmethod
    def _check_count(count: int) -> int:
        if int(count) < 1:
            raise ValueError("count must be >= 1")
        return int(count)

    def _add_fault(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path is None or fault.path == path:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return copy.copy(fault)
        return None

    def _fault_response(self, fault: _Fault, path: str, request_id: str) -> _Response:
        if fault.body is None:
            body, content_type = _default_fault_response(fault.status, path, request_id)
            if fault.content_type:
                content_type = fault.content_type
        else:
            body, content_type = _render_fault_body(fault.body, fault.content_type)
        return _Response(fault.status, body, content_type, fault.headers)

    def pending_faults(self) -> int:
        """How many faulted requests are still to come."""
        with self._lock:
            return sum(f.remaining for f in self._faults)

    # -- internals: time, secrets, records, logging -------------------------------------------------
    def _now(self) -> float:
        return float(self._clock())

    def _secret_forms(self) -> list[str]:
        forms: list[str] = []
        for ws in self._workspaces.values():
            pair = f"{ws.workspace_id}:{ws.api_key}"
            forms += [base64.b64encode(pair.encode()).decode(), pair, ws.api_key]
        return forms

    def _scrub(self, text: str) -> str:
        for secret in self._secret_forms():
            if secret and secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def _track_connection(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _record_request(
        self,
        method: str,
        raw_path: str,
        headers: Mapping[str, str],
        body: bytes,
        status: int | None,
        request_id: str,
        received_at: str,
    ) -> None:
        clean: dict[str, str] = {}
        with self._lock:
            for name, value in headers.items():
                if name in ("authorization", "proxy-authorization"):
                    clean[name] = REDACTED
                else:
                    clean[name] = self._scrub(value)
            self._requests.append(
                {
                    "method": method,
                    "path": self._scrub(raw_path),
                    "headers": clean,
                    "body": bytes(body),
                    "status": status,
                    "received_at": received_at,
                    "request_id": request_id,
                }
            )

    def _record_rejected(
        self,
        path: str,
        status: int | None,
        code: str,
        message: str,
        workspace_id: str | None,
        received_at: str,
        request_id: str,
        event_name: str | None,
        details: list[Any],
    ) -> None:
        with self._lock:
            self._rejected.append(
                {
                    "path": path,
                    "status": status,
                    "code": code,
                    "message": message,
                    "workspace_id": workspace_id,
                    "received_at": received_at,
                    "request_id": request_id,
                    "event_name": event_name,
                    "details": copy.deepcopy(details),
                }
            )

    def _log(
        self, method: str, path: str, outcome: str, event_name: str | None, request_id: str | None
    ) -> None:
        logger.info(
            "%s %s -> %s event=%s request_id=%s",
            method,
            self._scrub(path),
            outcome,
            event_name if event_name is not None else "-",
            request_id or "-",
        )

    # -- internals: the API -----------------------------------------------------------------------
    def _process(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        request_id: str,
        received_at: str,
    ) -> tuple[_Response, str | None]:
        """Answer one API request and record its outcome. Returns the response and the event name."""
        event_name = _peek_event_name(body) if path in (CREATE_PATH, TRIGGER_PATH) else None
        workspace_id: str | None = None
        try:
            if path not in API_PATHS:
                raise _error(
                    404,
                    _status_line(404),
                    MSG_NOT_FOUND,
                    [_detail("InvalidValue", "path", f"No API at {path}")],
                    request_id,
                )
            if method != "POST":
                raise _error(
                    405,
                    _status_line(405),
                    MSG_METHOD_NOT_ALLOWED,
                    [_detail("InvalidValue", "method", f"{method} is not allowed on {path}; use POST")],
                    request_id,
                    headers={"Allow": "POST"},
                )
            ws, workspace_id = self._authenticate(headers.get("authorization"), request_id)
            payload = self._parse_json(headers.get("content-type"), body, request_id)
            with self._lock:
                if path == TRIGGER_PATH:
                    result = self._trigger(ws, payload, request_id, received_at)
                elif path == CREATE_PATH:
                    result = self._create(ws, payload, request_id)
                else:
                    result = self._search(ws, payload, request_id)
            return _Response(200, _json_bytes(result)), event_name
        except _Reject as reject:
            self._record_rejected(
                path,
                reject.status,
                reject.code,
                reject.message,
                workspace_id or reject.workspace_id,
                received_at,
                request_id,
                event_name,
                reject.details,
            )
            return _Response(reject.status, _json_bytes(reject.body), headers=reject.headers), event_name

    def _authenticate(self, header: str | None, request_id: str) -> tuple[_Workspace, str | None]:
        def fail(target: str, message: str, listed: bool) -> _Reject:
            inner = _detail("InvalidValue" if listed else "MissingValue", target, message)
            return _error(
                401,
                CODE_401,
                MSG_AUTH_REQUIRED,
                [_detail("InvalidValue", target, [inner] if listed else inner)],
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
        with self._lock:
            ws = self._workspaces.get(user)
        if ws is None:
            raise fail("APP_ID", MSG_INVALID_APP_ID, listed=True)
        if not hmac.compare_digest(password.encode("utf-8"), ws.api_key.encode("utf-8")):
            reject = fail("APP_SECRET_KEY", MSG_INVALID_SECRET, listed=True)
            reject.workspace_id = ws.workspace_id  # the workspace is known; only the key is wrong
            raise reject
        return ws, ws.workspace_id

    def _parse_json(self, content_type: str | None, body: bytes, request_id: str) -> dict[str, Any]:
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        if media_type != JSON_TYPE:
            raise _bad_request(
                MSG_BAD_REQUEST,
                [
                    _detail(
                        "InvalidValue",
                        "Content-Type",
                        f"{MSG_CONTENT_TYPE} (got {content_type!r})" if content_type else MSG_CONTENT_TYPE,
                    )
                ],
                request_id,
            )
        try:
            payload = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _bad_request(
                MSG_BAD_REQUEST, [_detail("InvalidValue", "body", f"{MSG_NOT_JSON}: {exc}")], request_id
            ) from None
        if not isinstance(payload, dict):
            raise _bad_request(
                MSG_BAD_REQUEST,
                [_detail("InvalidValue", "body", f"{MSG_NOT_OBJECT} (got {_json_type_name(payload)})")],
                request_id,
            )
        return payload

    @staticmethod
    def _check_fields(
        payload: dict[str, Any], allowed: Sequence[str], required: Sequence[str], schema: str, request_id: str
    ) -> None:
        for key in payload:
            if key not in allowed:
                message = f"Additional fields are not allowed document schema for class {schema}:{key}"
                raise _bad_request(message, [_detail("InvalidValue", key, message)], request_id)
        missing = [name for name in required if payload.get(name) is None]
        if missing:
            raise _bad_request(
                MSG_BAD_REQUEST,
                [
                    _detail("MissingValue", name, f"{name} - Field is required but value is None : None")
                    for name in missing
                ],
                request_id,
            )

    def _roll_windows(self, ws: _Workspace, now: float) -> None:
        hour = math.floor(now / self.hour_seconds)
        if hour != ws.hour_window:
            ws.hour_window, ws.hour_count = hour, 0
        day = math.floor(now / self.day_seconds)
        if day != ws.day_window:
            ws.day_window, ws.day_count = day, 0
        minute = math.floor(now / self.minute_seconds)
        if minute != ws.minute_window:
            ws.minute_window, ws.minute_count = minute, 0

    def _rate_limited(self, request_id: str, window_end: float, now: float) -> _Reject:
        headers = None
        if self.retry_after:
            headers = {"Retry-After": str(max(1, math.ceil(window_end - now)))}
        return _Reject(
            429,
            copy.deepcopy(RATE_LIMIT_BODY),
            code="429 rate limiter exception",
            message=RATE_LIMIT_BODY["data"]["description"],
            headers=headers,
        )

    def _trigger(
        self, ws: _Workspace, payload: dict[str, Any], request_id: str, received_at: str
    ) -> dict[str, Any]:
        self._check_fields(
            payload,
            ("event_name", "event_attributes", "triggered_by"),
            ("event_name", "event_attributes"),
            "BusinessEventTriggerRequest",
            request_id,
        )
        name = payload["event_name"]
        if not isinstance(name, str) or not name.strip():
            raise _bad_request(
                MSG_BAD_REQUEST,
                [
                    _detail(
                        "InvalidValue", "event_name", f"event_name - Not a valid non-empty string : '{name}'"
                    )
                ],
                request_id,
            )
        attributes = payload["event_attributes"]
        if not isinstance(attributes, dict):
            raise _bad_request(
                MSG_BAD_REQUEST,
                [
                    _detail(
                        "InvalidValue",
                        "event_attributes",
                        f"event_attributes - Not a valid JSON object : '{_json_type_name(attributes)}'",
                    )
                ],
                request_id,
            )
        triggered_by = payload.get("triggered_by")
        if triggered_by is not None and not _is_email(triggered_by):
            # Verbatim from the documented example (its top-level message is the "does not exists" one).
            raise _bad_request(
                MSG_EVENT_NOT_FOUND,
                [
                    _detail(
                        "MissingValue",
                        "triggered_by",
                        f"triggered_by - Invalid email address : '{triggered_by}'",
                    )
                ],
                request_id,
            )
        event = ws.events.get(name)
        if event is None and not self.permissive:
            raise _bad_request(
                MSG_EVENT_NOT_FOUND,
                [_detail("InvalidValue", "event_name", MSG_EVENT_NOT_FOUND_DETAIL)],
                request_id,
            )
        if event is not None:
            undeclared = [a for a in attributes if a not in event.attributes]
            if undeclared:
                raise _bad_request(
                    MSG_WRONG_ATTRIBUTE,
                    [_detail("InvalidValue", a, MSG_WRONG_ATTRIBUTE) for a in undeclared],
                    request_id,
                )
            wrong = [(a, v) for a, v in attributes.items() if not _type_ok(event.attributes[a], v)]
            if wrong:
                details = []
                for attr, value in wrong:
                    declared = event.attributes[attr]
                    message = (
                        f"['{attr}'] - Wrong Attribute data type is passed : '{_json_type_name(value)}'"
                        f" (declared '{declared}')"
                    )
                    if declared == "date":
                        message += ": expected YYYY-MM-DD, an ISO 8601 date-time or MM/DD/YYYY"
                    details.append(_detail("InvalidValue", [attr], message))
                raise _bad_request(MSG_BAD_REQUEST, details, request_id)
            if not event.active_campaign:
                raise _bad_request(
                    MSG_NO_ACTIVE_CAMPAIGN,
                    [_detail("InvalidValue", "event_name", MSG_NO_ACTIVE_CAMPAIGN)],
                    request_id,
                )
        now = self._now()
        self._roll_windows(ws, now)
        hour_end = (ws.hour_window + 1) * self.hour_seconds
        day_end = (ws.day_window + 1) * self.day_seconds
        over_hour = ws.hour_count >= self.hourly_limit
        over_day = ws.day_count >= self.daily_limit
        if over_hour or over_day:
            end = max(hour_end if over_hour else 0.0, day_end if over_day else 0.0)
            raise self._rate_limited(request_id, end, now)
        ws.hour_count += 1
        ws.day_count += 1
        if event is not None:
            event.total_trigger += 1
            event.last_received_time = _naive_iso(now)
        record: TriggerRecord = {
            "event_name": name,
            "event_attributes": copy.deepcopy(attributes),
            "triggered_by": triggered_by,
            "workspace_id": ws.workspace_id,
            "received_at": received_at,
            "request_id": request_id,
        }
        self._triggers.append(record)
        if self.record_file is not None:
            with self.record_file.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        return {"message": MSG_TRIGGERED}

    def _create(self, ws: _Workspace, payload: dict[str, Any], request_id: str) -> dict[str, Any]:
        self._check_fields(
            payload,
            ("event_name", "event_attributes", "created_by"),
            ("event_name", "event_attributes", "created_by"),
            "BusinessEventCreateRequest",
            request_id,
        )
        name = payload["event_name"]
        if not isinstance(name, str) or not name.strip():
            raise _bad_request(
                MSG_BAD_REQUEST,
                [
                    _detail(
                        "InvalidValue", "event_name", f"event_name - Not a valid non-empty string : '{name}'"
                    )
                ],
                request_id,
            )
        created_by = payload["created_by"]
        if not _is_email(created_by):
            raise _bad_request(
                MSG_BAD_REQUEST,
                [
                    _detail(
                        "InvalidValue", "created_by", f"created_by - Invalid email address : '{created_by}'"
                    )
                ],
                request_id,
            )
        items = payload["event_attributes"]
        if not isinstance(items, list):
            raise _bad_request(
                MSG_BAD_REQUEST,
                [
                    _detail(
                        "InvalidValue",
                        "event_attributes",
                        f"event_attributes - Not a valid list : '{_json_type_name(items)}'",
                    )
                ],
                request_id,
            )
        attributes: dict[str, str] = {}
        details: list[dict[str, Any]] = []
        for item in items:
            if not isinstance(item, dict):
                details.append(
                    _detail(
                        "InvalidValue", "event_attributes", "event_attributes - Each item must be an object"
                    )
                )
                continue
            for key in item:
                if key not in ("attribute_name", "attribute_data_type"):
                    message = (
                        f"Additional fields are not allowed document schema for class EventAttribute:{key}"
                    )
                    raise _bad_request(message, [_detail("InvalidValue", key, message)], request_id)
            attr_name = item.get("attribute_name")
            attr_type = item.get("attribute_data_type")
            if not isinstance(attr_name, str) or not attr_name:
                details.append(
                    _detail(
                        "MissingValue",
                        "attribute_name",
                        f"attribute_name - Field is required but value is None : {attr_name}",
                    )
                )
                continue
            if attr_type not in ATTRIBUTE_TYPES:
                details.append(
                    _detail(
                        "MissingValue",
                        [attr_name],
                        f"['{attr_name}'] - Wrong Attribute data type is passed : '{attr_type}'",
                    )
                )
                continue
            if attr_name in attributes:
                details.append(
                    _detail("InvalidValue", [attr_name], f"['{attr_name}'] - Duplicate attribute name")
                )
                continue
            attributes[attr_name] = cast(str, attr_type)
        if details:
            raise _bad_request(MSG_BAD_REQUEST, details, request_id)
        if name in ws.events:
            raise _bad_request(
                MSG_EVENT_EXISTS, [_detail("InvalidValue", "event_name", MSG_EVENT_EXISTS)], request_id
            )
        if len(ws.events) >= self.event_limit:
            message = f"{MSG_EVENT_LIMIT} ({self.event_limit})"
            raise _bad_request(message, [_detail("InvalidValue", "event_name", message)], request_id)
        now = self._now()
        event = _Event(
            name=name,
            attributes=attributes,
            active_campaign=True,
            event_id=new_object_id(),
            object_id=new_object_id(),
            created_at=_naive_iso(now),
            created_by=created_by,
        )
        ws.events[name] = event
        return {"message": MSG_CREATED, "event_id": event.event_id}

    def _search(self, ws: _Workspace, payload: dict[str, Any], request_id: str) -> dict[str, Any]:
        self._check_fields(
            payload, ("event_ids", "event_names"), (), "BusinessEventSearchRequest", request_id
        )
        criteria: dict[str, list[str]] = {}
        for field_name in ("event_ids", "event_names"):
            value = payload.get(field_name)
            if value is None:
                continue
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _bad_request(
                    MSG_BAD_REQUEST,
                    [_detail("InvalidValue", field_name, f"{field_name} - Not a valid list of strings")],
                    request_id,
                )
            criteria[field_name] = value
        if not any(criteria.values()):
            raise _bad_request(
                MSG_BAD_REQUEST,
                [_detail("MissingValue", ["event_ids", "event_names"], MSG_SEARCH_CRITERIA)],
                request_id,
            )
        now = self._now()
        self._roll_windows(ws, now)
        if ws.minute_count >= self.search_limit_per_minute:
            raise self._rate_limited(request_id, (ws.minute_window + 1) * self.minute_seconds, now)
        ws.minute_count += 1
        ids = set(criteria.get("event_ids", []))
        names = set(criteria.get("event_names", []))
        data = [
            e.as_search_result(ws.workspace_id)
            for e in ws.events.values()
            if e.event_id in ids or e.name in names
        ]
        return {"data": data}

    # -- internals: the control API ---------------------------------------------------------------
    def _control(self, method: str, path: str, query: str, body: bytes) -> _Response:
        def ok(obj: Any) -> _Response:
            return _Response(200, _json_bytes(obj))

        def error(status: int, message: str, headers: dict[str, str] | None = None) -> _Response:
            return _Response(status, _json_bytes({"error": message}), headers=headers)

        routes: dict[str, str] = {
            "/_sandbox/health": "GET",
            "/_sandbox/triggers": "GET",
            "/_sandbox/rejected": "GET",
            "/_sandbox/requests": "GET",
            "/_sandbox/rate_limit": "GET",
            "/_sandbox/events": "GET, POST",
            "/_sandbox/reset": "POST",
            "/_sandbox/faults": "POST",
        }
        allowed = routes.get(path.rstrip("/"))
        if allowed is None:
            return error(404, f"no sandbox control endpoint at {path}")
        path = path.rstrip("/")
        if method not in allowed.split(", "):
            return error(405, f"{method} not allowed on {path}", {"Allow": allowed})
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        try:
            if path == "/_sandbox/health":
                return ok({"status": "ok", "url": self.url, "workspace_id": self._primary})
            if path == "/_sandbox/triggers":
                return ok(self.triggers)
            if path == "/_sandbox/rejected":
                return ok(self.rejected)
            if path == "/_sandbox/requests":
                records = self.requests
                return ok([{**r, "body": r["body"].decode("utf-8", errors="replace")} for r in records])
            if path == "/_sandbox/rate_limit":
                return ok(self.rate_limit_state(params.get("workspace_id")))
            if path == "/_sandbox/reset":
                self.reset()
                return ok({"status": "ok"})
            if path == "/_sandbox/events" and method == "GET":
                return ok(self.events(params.get("workspace_id")))
            payload = json.loads(body) if body.strip() else {}
            if not isinstance(payload, dict):
                return error(400, "expected a JSON object")
            if path == "/_sandbox/events":
                return ok(self._control_events(payload))
            return ok(self._control_fault(payload))
        except (ValueError, TypeError, KeyError) as exc:
            return error(400, str(exc))

    def _control_events(self, payload: dict[str, Any]) -> dict[str, Any]:
        workspace_id = payload.get("workspace_id")
        if "events" in payload:
            events = payload["events"]
            if not isinstance(events, dict):
                raise ValueError("'events' must be an object: name -> {attributes, active_campaign}")
            specs = events
        elif "name" in payload:
            specs = {
                payload["name"]: {
                    "attributes": payload.get("attributes") or {},
                    "active_campaign": payload.get("active_campaign", True),
                }
            }
        else:
            raise ValueError("expected {'name', 'attributes', 'active_campaign'} or {'events': {...}}")
        for name, spec in specs.items():
            if not isinstance(spec, dict):
                raise ValueError(f"event {name!r}: expected an object")
            unknown = set(spec) - {"attributes", "active_campaign"}
            if unknown:
                raise ValueError(f"event {name!r}: unknown keys {sorted(unknown)}")
            self.declare_event(
                name,
                spec.get("attributes") or {},
                active_campaign=bool(spec.get("active_campaign", True)),
                workspace_id=workspace_id,
            )
        return {"status": "ok", "declared": sorted(specs)}

    def _control_fault(self, payload: dict[str, Any]) -> dict[str, Any]:
        kwargs = dict(payload)
        kind = kwargs.pop("kind", None)
        if kind == "fail":
            if "status" not in kwargs:
                raise ValueError("a 'fail' fault needs 'status'")
            self.fail_next(kwargs.pop("status"), **kwargs)
        elif kind == "stall":
            if "seconds" not in kwargs:
                raise ValueError("a 'stall' fault needs 'seconds'")
            self.stall_next(kwargs.pop("seconds"), **kwargs)
        elif kind == "drop":
            self.drop_next(**kwargs)
        else:
            raise ValueError("'kind' must be 'fail', 'stall' or 'drop'")
        return {"status": "ok", "pending_faults": self.pending_faults()}


# --------------------------------------------------------------------------------------------------
# Configuration files and the command line
# --------------------------------------------------------------------------------------------------

_CONFIG_KEYS = {
    "events",
    "permissive",
    "hourly_limit",
    "daily_limit",
    "hour_seconds",
    "day_seconds",
    "retry_after",
    "record_file",
    "search_limit_per_minute",
    "minute_seconds",
    "event_limit",
    "workspace_id",
}


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a sandbox config file (JSON; YAML too when PyYAML is installed) into constructor kwargs.

    Format: ``{"events": {"NewSeriesAlert": {"attributes": {"season": "string"}, "active_campaign": true}},
    "permissive": false, "hourly_limit": 50, ...}``. The API key is never read from a file.
    """
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    data: Any
    if file.suffix.lower() in (".yaml", ".yml"):
        data = _load_yaml(text, file)
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            if file.suffix.lower() == ".json":
                raise ValueError(f"{file}: not valid JSON: {exc}") from None
            data = _load_yaml(text, file)
    if not isinstance(data, dict):
        raise ValueError(f"{file}: the config must be a mapping")
    unknown = set(data) - _CONFIG_KEYS
    if unknown:
        raise ValueError(f"{file}: unknown config keys {sorted(unknown)}; known: {sorted(_CONFIG_KEYS)}")
    events = data.get("events")
    if events is not None:
        if not isinstance(events, dict):
            raise ValueError(f"{file}: 'events' must be a mapping of event name -> spec")
        for name, spec in events.items():
            _normalize_attributes((spec or {}).get("attributes") if isinstance(spec, dict) else None, name)
    return dict(data)


def _load_yaml(text: str, file: Path) -> Any:
    try:
        import yaml
    except ImportError:
        raise ValueError(f"{file}: YAML config needs PyYAML (pip install pyyaml); or use JSON") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{file}: not valid YAML: {exc}") from None


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m moengage_provider.testing.sandbox",
        description="A local MoEngage Business Events API for tests and demos.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one; default 8080)")
    parser.add_argument("--workspace-id", help="workspace ID (Basic-auth user name); or in the config file")
    parser.add_argument(
        "--api-key",
        help="API key (Basic-auth password); prefer the MOENGAGE_SANDBOX_API_KEY environment variable",
    )
    parser.add_argument("--config", help="JSON (or YAML) file: events, permissive, limits")
    parser.add_argument("--strict", action="store_true", help="reject triggers of undeclared events")
    parser.add_argument("--hourly-limit", type=int, help="triggers per hourly window (default 50)")
    parser.add_argument("--daily-limit", type=int, help="triggers per daily window (default 200)")
    parser.add_argument("--hour-seconds", type=float, help="length of the 'hour' window in seconds")
    parser.add_argument("--day-seconds", type=float, help="length of the 'day' window in seconds")
    parser.add_argument("--retry-after", action="store_true", help="add a Retry-After header to 429 answers")
    parser.add_argument("--record-file", help="append every accepted trigger to this file as JSON lines")
    parser.add_argument("--allow-remote", action="store_true", help="allow binding to a non-loopback address")
    parser.add_argument("--quiet", action="store_true", help="do not log one line per request")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_arg_parser()
    args = parser.parse_args(argv)
    api_key = args.api_key or os.environ.get("MOENGAGE_SANDBOX_API_KEY")
    if not api_key:
        parser.error("give the API key with --api-key or the MOENGAGE_SANDBOX_API_KEY environment variable")
    kwargs: dict[str, Any] = {}
    if args.config:
        try:
            kwargs.update(load_config(args.config))
        except (OSError, ValueError) as exc:
            parser.error(str(exc))
    workspace_id = args.workspace_id or kwargs.pop("workspace_id", None)
    kwargs.pop("workspace_id", None)
    if not workspace_id:
        parser.error("give the workspace ID with --workspace-id (or 'workspace_id' in the config file)")
    if args.strict:
        kwargs["permissive"] = False
    for option in ("hourly_limit", "daily_limit", "hour_seconds", "day_seconds", "record_file"):
        value = getattr(args, option)
        if value is not None:
            kwargs[option] = value
    if args.retry_after:
        kwargs["retry_after"] = True
    if not args.allow_remote and not _is_loopback(args.host):
        parser.error(f"refusing to bind to non-loopback host {args.host!r} without --allow-remote")

    if not args.quiet:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    try:
        sandbox = MoEngageSandbox(
            workspace_id, api_key, host=args.host, port=args.port, allow_remote=args.allow_remote, **kwargs
        )
        sandbox.start()
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: cannot start the MoEngage sandbox: {exc}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    conn = {
        "conn_type": "moengage",
        "host": sandbox.host,
        "port": sandbox.port,
        "schema": "http",
        "login": workspace_id,
        "password": "<your sandbox api key>",
    }
    mode = "permissive (undeclared events accepted)" if sandbox.permissive else "strict"
    lines = [
        f"Base URL: {sandbox.url}",
        f"Workspace ID: {workspace_id}; API key: as given (not shown); mode: {mode}; "
        f"events declared: {len(sandbox.events())}",
        "Point Airflow at it (put your sandbox API key in place of the placeholder):",
        f"  export AIRFLOW_CONN_MOENGAGE_DEFAULT={shlex.quote(json.dumps(conn))}",
        f"Recorded triggers: {sandbox.url}/_sandbox/triggers   Stop with Ctrl-C.",
        f"MoEngage sandbox listening on {sandbox.url}",
    ]
    print("\n".join(lines), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
    print("MoEngage sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
