"""HTTP transport: a threading HTTP/1.1 server with keep-alive, body reading, faults on the wire.

Every method reaches the dispatcher (unknown ones get the JSON 405 with ``Allow``), every error the
standard library would answer with an HTML page is answered in MoEngage's JSON error shape, and no
client input reaches a traceback on stderr. A sandbox bug answers the documented 500 and is logged
with its traceback at ERROR (through ``logging``), so a test notices.
"""

from __future__ import annotations

import contextlib
import logging
import re
import selectors
import socket
import socketserver
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from moengage_provider.testing.sandbox import api
from moengage_provider.testing.sandbox.faults import STALL_OUTCOME_CODES
from moengage_provider.testing.sandbox.protocol import (
    CONTROL_PREFIX,
    CREATE_PATH,
    INTERNAL_ERROR_BODY,
    LOGGER_NAME,
    MSG_TOO_LARGE,
    TRIGGER_PATH,
    Response,
    error,
    iso_utc,
    json_bytes,
    new_object_id,
    status_line,
)

if TYPE_CHECKING:
    from moengage_provider.testing.sandbox.server import MoEngageSandbox

logger = logging.getLogger(LOGGER_NAME)

_DIGITS = re.compile(rb"[0-9]{1,18}")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")


class BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ClientGone(Exception):
    pass


def request_path(target: str) -> str:
    """The path of a request target (origin or absolute form); never raises."""
    if target.startswith("/"):
        return target.split("?", 1)[0].split("#", 1)[0] or "/"
    try:
        return urlsplit(target).path or "/"
    except ValueError:
        return target


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: MoEngageSandbox, family: socket.AddressFamily):
        self.address_family = family
        self.sandbox = sandbox
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (socket.getfqdn); skip it, it can be slow.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Never print tracebacks on stderr; connection errors are normal with fault injection.
        logger.debug("connection error from %s", client_address, exc_info=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MoEngageSandbox/0.1"
    sys_version = ""
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return self.server_version

    # BaseHTTPRequestHandler logs to stderr, unescaped; the sandbox logs one line per request itself.
    def log_message(self, format: str, *args: Any) -> None:
        return

    @property
    def sandbox(self) -> MoEngageSandbox:
        return cast(Server, self.server).sandbox

    def setup(self) -> None:
        super().setup()
        self.sandbox._track_connection(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.sandbox._track_connection(self.connection, add=False)

    def handle_one_request(self) -> None:
        """The standard library's, minus its ``do_<METHOD>`` lookup: every method is dispatched."""
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._dispatch()
            self.wfile.flush()
        except (TimeoutError, ConnectionError, OSError):
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol errors (bad request line, too many or too long headers) in the JSON error shape."""
        self.close_connection = True
        request_id = new_object_id()
        reject = error(code, status_line(code), message or status_line(code), [], request_id)
        path = request_path(getattr(self, "path", "") or "-")
        self.sandbox._recorder.log(self.command or "-", path, str(code), None, request_id)
        with contextlib.suppress(OSError):
            self._send(Response(code, json_bytes(reject.body)))

    # -- transport helpers ------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        limit = self.sandbox.max_body_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            return b""
        text = length_header.strip().encode("latin-1", errors="replace")
        if not _DIGITS.fullmatch(text):
            raise BodyError(400, "Content-Length header is not a non-negative number")
        length = int(text)
        if length > limit:
            raise BodyError(413, f"{MSG_TOO_LARGE}: the sandbox accepts at most {limit} bytes")
        data = self.rfile.read(length)
        if len(data) < length:
            raise ClientGone()
        return data

    def _read_chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise ClientGone()
            size_text = line.split(b";", 1)[0].strip()
            if not _HEX.fullmatch(size_text):
                raise BodyError(400, "Malformed chunked request body")
            size = int(size_text, 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > limit:
                raise BodyError(413, f"{MSG_TOO_LARGE}: the sandbox accepts at most {limit} bytes")
            data = self.rfile.read(size)
            if len(data) < size:
                raise ClientGone()
            chunks.append(data)
            self.rfile.readline(65537)

    def _send(self, response: Response) -> None:
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
        path = request_path(self.path)
        try:
            if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
                self._control(path)
            else:
                self._api(path)
        except (ClientGone, ConnectionError, TimeoutError):
            self.close_connection = True
        except OSError:
            self.close_connection = True
            logger.debug("socket error", exc_info=True)
        except Exception:  # a sandbox bug: answer like MoEngage's documented 500, keep serving
            logger.exception("MoEngage sandbox failed on a %d-byte request line", len(self.raw_requestline))
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send(Response(500, json_bytes(INTERNAL_ERROR_BODY)))

    def _api(self, path: str) -> None:
        sb = self.sandbox
        method = self.command
        request_id = new_object_id()
        received_at = iso_utc(sb._now())
        headers = self._header_dict()
        fault = sb._faults.take(path)
        body = b""
        status: int | None = None
        event_name: str | None = None

        def finish(outcome: str) -> None:
            sb._recorder.request(method, self.path, headers, body, status, request_id, received_at)
            sb._recorder.log(method, path, outcome, event_name, request_id)

        def lost(code: str, message: str) -> None:
            sb._recorder.reject(path, None, code, message, None, received_at, request_id, event_name, [])
            finish(code)

        if fault is not None and not fault.after_body and fault.kind in ("drop", "stall"):
            if fault.kind == "drop":
                lost("dropped", "connection dropped by an injected fault before the body was read")
                self._drop()
                return
            outcome = self._stall(fault.seconds)
            if outcome != "ok":
                lost(STALL_OUTCOME_CODES[outcome], f"stalled for {fault.seconds}s, then: {outcome}")
                self._drop()
                return

        try:
            body = self._read_body()
        except BodyError as exc:
            self.close_connection = True
            reject = error(exc.status, status_line(exc.status), exc.message, [], request_id)
            sb._recorder.reject(
                path, exc.status, reject.code, exc.message, None, received_at, request_id, None, []
            )
            status = exc.status
            finish(str(status))  # record before answering: a client reading records sees its request
            self._send(Response(exc.status, json_bytes(reject.body)))
            return
        except ClientGone:
            lost("client gone", "client closed the connection before sending the whole body")
            raise

        if fault is not None and fault.kind == "stall" and fault.after_body:
            outcome = self._stall(fault.seconds)
            if outcome != "ok":
                lost(STALL_OUTCOME_CODES[outcome], f"stalled for {fault.seconds}s, then: {outcome}")
                self._drop()
                return

        if fault is not None and fault.kind == "fail":
            event_name = api.peek_event_name(body) if path in (CREATE_PATH, TRIGGER_PATH) else None
            response = fault.response(path, request_id)
            status = response.status
            sb._recorder.reject(
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
                response, event_name = api.process(sb, method, path, headers, body, request_id, received_at)
            else:
                event_name = api.peek_event_name(body)
                sb._recorder.reject(
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

        response, event_name = api.process(sb, method, path, headers, body, request_id, received_at)
        status = response.status
        finish(str(status))
        self._send(response)

    def _control(self, path: str) -> None:
        from moengage_provider.testing.sandbox import control

        sb = self.sandbox
        method = self.command
        try:
            body = self._read_body()
        except BodyError as exc:
            self.close_connection = True
            self._send(Response(exc.status, json_bytes({"error": exc.message})))
            return
        response = control.handle(sb, method, path, self.path.partition("?")[2].partition("#")[0], body)
        sb._recorder.log(method, path, str(response.status), None, None)
        self._send(response)
