"""
A pass-through HTTP proxy in front of the sandbox that can *hold* an answer: the request reaches the
sandbox and is processed (MoEngage took the event), but the answer is kept back until the client goes
away. That is the one case the sandbox's own faults cannot make (a stalled request whose client is
killed is not processed there): the worker killed after MoEngage accepted its request.
"""

from __future__ import annotations

import http.client
import selectors
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Longest an answer is held; past it the proxy closes the connection without answering.
MAX_HOLD_SECONDS = 300.0


class HoldingProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.held = threading.Event()  # set when an answer is being held
        self._holds = 0
        self._hold_path = ""
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def hold_next(self, path: str) -> None:
        """Hold the answer to the next request to ``path`` (other requests pass through)."""
        with self._lock:
            self._holds += 1
            self._hold_path = path

    def start(self) -> HoldingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def _take_hold(self, path: str) -> bool:
        with self._lock:
            if self._holds > 0 and path == self._hold_path:
                self._holds -= 1
                return True
            return False

    def _wait_until_client_gone(self, connection: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(connection, selectors.EVENT_READ)
            waited = 0.0
            while waited < MAX_HOLD_SECONDS and not self._stopping.is_set():
                if selector.select(timeout=0.2):
                    try:
                        if connection.recv(1, socket.MSG_PEEK) == b"":
                            return
                    except OSError:
                        return
                waited += 0.2

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream.request("POST", self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                payload = answer.read()
                upstream.close()
                if proxy._take_hold(self.path):
                    proxy.held.set()
                    proxy._wait_until_client_gone(self.connection)
                    self.close_connection = True
                    return
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler
