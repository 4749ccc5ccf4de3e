"""HTTP transport: a threading HTTP/1.1 server with keep-alive, body reading, faults on the wire.

Every method reaches the dispatcher (unknown ones get the JSON 405 with ``Allow``), every error the
standard library would answer with an HTML page is answered in MoEngage's JSON error shape, and no
client input reaches a traceback on stderr. A sandbox bug answers the documented 500 and is logged
with its traceback at ERROR (through ``logging``), so a test notices.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import socketserver
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import urlsplit

from moengage_provider.testing.sandbox import api, control
from moengage_provider.testing.sandbox.api.call import Refusals
from moengage_provider.testing.sandbox.body import BodyError, ClientGone, read_body
from moengage_provider.testing.sandbox.faults import STALL_OUTCOME_CODES, Fault
from moengage_provider.testing.sandbox.protocol import (
    CONTROL_PREFIX,
    LOGGER_NAME,
    Response,
    iso_utc,
    json_bytes,
    new_object_id,
    status_line,
)
from moengage_provider.testing.sandbox.state import SandboxState

logger: logging.Logger = logging.getLogger(LOGGER_NAME)


def request_path(target: str) -> str:
    """The path of a request target (origin or absolute form); never raises."""
    if target.startswith("/"):
        return target.split("?", 1)[0].split("#", 1)[0] or "/"
    try:
        return urlsplit(target).path or "/"
    except ValueError:
        return target


class Server(ThreadingHTTPServer):
    """The listening socket and its open connections; ``stopping`` wakes every waiting handler."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: SandboxState, family: socket.AddressFamily):
        self.address_family: socket.AddressFamily = family
        self.state = state
        self.stopping: threading.Event = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (socket.getfqdn); skip it, it can be slow.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name: str = str(host)
        self.server_port: int = int(port)

    @property
    def url(self) -> str:
        host = str(self.server_address[0])
        return f"http://{f'[{host}]' if ':' in host else host}:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Never print tracebacks on stderr; connection errors are normal with fault injection.
        logger.debug("connection error from %s", client_address, exc_info=True)

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def shut_connections(self) -> None:
        """Wake handler threads waiting on idle keep-alive connections."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


@dataclass
class Exchange:
    """One API request as the records see it, filled in while it is handled."""

    state: SandboxState
    method: str
    target: str  # the request target as sent (query string included)
    path: str
    headers: dict[str, str]
    request_id: str
    received_at: str
    body: bytes = b""
    status: int | None = None
    event_name: str | None = None

    response_id: str | None = None

    def finish(self, outcome: str) -> None:
        """Record the request and log its one line (before answering: a client reading records
        right after its answer sees its request)."""
        recorder = self.state.recorder
        recorder.request(
            self.method, self.target, self.headers, self.body, self.status, self.request_id, self.received_at
        )
        recorder.log(self.method, self.path, outcome, self.event_name, self.request_id, self.response_id)

    def refusals(self) -> Refusals:
        return api.refusals_for(self.path, self.request_id, self.headers)

    def refused(self, status: int | None, code: str, message: str) -> None:
        self.state.recorder.reject(
            self.path,
            status,
            code,
            message,
            None,
            self.received_at,
            self.request_id,
            self.event_name,
            [],
            response_id=self.response_id,
        )

    def lost(self, code: str, message: str) -> None:
        """Not answered (dropped, client gone, sandbox stopping)."""
        self.refused(None, code, message)
        self.finish(code)


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
    def _server(self) -> Server:
        return cast(Server, self.server)

    @property
    def state(self) -> SandboxState:
        return self._server.state

    def setup(self) -> None:
        super().setup()
        self._server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._server.track(self.connection, add=False)

    def handle_one_request(self) -> None:
        """The standard library's, minus its ``do_<METHOD>`` lookup: every method is dispatched."""
        try:
            self.raw_requestline: bytes = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection: bool = True
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
        path = request_path(getattr(self, "path", "") or "-")
        refusals = api.refusals_for(path, request_id)
        reject = refusals.unreadable(code, message or status_line(code))
        self.state.recorder.log(self.command or "-", path, str(code), None, request_id, refusals.response_id)
        with contextlib.suppress(OSError):
            self._send(Response(code, json_bytes(reject.body), headers=refusals.answer_headers()))

    # -- transport helpers ------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        return read_body(self.rfile, self.headers, self.state.settings.max_body_bytes)

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
        if self._server.stopping.wait(seconds):
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
            body, content_type = api.refusals_for(path, new_object_id()).fault(500, path)
            with contextlib.suppress(OSError):
                self._send(Response(500, body, content_type))

    def _api(self, path: str) -> None:
        """An API request: faults first (in the order the wire meets them), then the API's answer."""
        state = self.state
        exchange = Exchange(
            state,
            self.command,
            self.path,
            path,
            self._header_dict(),
            new_object_id(),
            iso_utc(state.now()),
        )
        fault = state.faults.take(path)
        if fault is None:
            if self._read_api_body(exchange):
                self._answer(exchange)
            return
        early = not fault.after_body and fault.kind in ("drop", "stall")
        if early and not self._survives(exchange, fault, "before the body was read"):
            return
        if not self._read_api_body(exchange):
            return
        late_stall = fault.kind == "stall" and fault.after_body
        if late_stall and not self._survives(exchange, fault, "after the body was read"):
            return
        if fault.kind == "fail":
            self._answer_fault(exchange, fault)
        elif fault.kind == "drop":
            self._drop_after_body(exchange, fault)
        else:
            self._answer(exchange)

    def _survives(self, exchange: Exchange, fault: Fault, when: str) -> bool:
        """Apply a stall or a drop; False when the request ends here (the connection is closed)."""
        if fault.kind == "drop":
            exchange.lost("dropped", f"connection dropped by an injected fault {when}")
            self._drop()
            return False
        outcome = self._stall(fault.seconds)
        if outcome == "ok":
            return True
        exchange.lost(STALL_OUTCOME_CODES[outcome], f"stalled for {fault.seconds}s, then: {outcome}")
        self._drop()
        return False

    def _read_api_body(self, exchange: Exchange) -> bool:
        """Read the body into ``exchange``; False when it could not be (answered or client gone)."""
        try:
            exchange.body = self._read_body()
        except BodyError as exc:
            self.close_connection = True
            refusals = exchange.refusals()
            reject = refusals.unreadable(exc.status, exc.message)
            exchange.status, exchange.response_id = exc.status, refusals.response_id
            exchange.refused(exc.status, reject.code, exc.message)
            exchange.finish(str(exc.status))
            self._send(Response(exc.status, json_bytes(reject.body), headers=refusals.answer_headers()))
            return False
        except ClientGone:
            exchange.lost("client gone", "client closed the connection before sending the whole body")
            raise
        return True

    def _answer_fault(self, exchange: Exchange, fault: Fault) -> None:
        exchange.event_name = api.peek_event_name(exchange.path, exchange.body)
        response = fault.response(exchange.refusals().fault(fault.status, exchange.path))
        exchange.status = response.status
        exchange.refused(
            response.status, f"{response.status} injected fault", f"injected fault: HTTP {response.status}"
        )
        exchange.finish(str(response.status))
        self._send(response)

    def _drop_after_body(self, exchange: Exchange, fault: Fault) -> None:
        if fault.accept:
            answer = self._process(exchange)
            exchange.event_name, exchange.response_id = answer.event_name, answer.response_id
        else:
            exchange.event_name = api.peek_event_name(exchange.path, exchange.body)
            exchange.refused(
                None, "dropped", "connection dropped by an injected fault after the body was read"
            )
        exchange.finish("dropped")
        self._drop()

    def _answer(self, exchange: Exchange) -> None:
        answer = self._process(exchange)
        exchange.event_name, exchange.response_id = answer.event_name, answer.response_id
        exchange.status = answer.response.status
        exchange.finish(answer.outcome)
        self._send(answer.response)

    def _process(self, exchange: Exchange) -> api.Answer:
        e = exchange
        return api.process(
            e.state, e.method, e.target, e.path, e.headers, e.body, e.request_id, e.received_at
        )

    def _control(self, path: str) -> None:
        state = self.state
        method = self.command
        try:
            body = self._read_body()
        except BodyError as exc:
            self.close_connection = True
            self._send(Response(exc.status, json_bytes({"error": exc.message})))
            return
        query = self.path.partition("?")[2].partition("#")[0]
        response = control.handle(state, self._server.url, method, path, query, body)
        state.recorder.log(method, path, str(response.status), None, None)
        self._send(response)
