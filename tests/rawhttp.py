"""
A tiny socket-level HTTP server for the few cases the sandbox must not smooth over: the exact bytes
a client sent (Authorization header included, which the sandbox never records), canned answers
that are not MoEngage's (HTML, empty, truncated), and proxies.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class CannedAnswer:
    status: int = 200
    body: bytes = b'{"message": "The business event has been triggered"}'
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    #: Close the socket without answering (after reading the request).
    drop: bool = False
    #: Declare this many more bytes than sent, then close (a truncated body).
    truncate_by: int = 0


class RawHttpServer:
    """Records every raw request (bytes as received) and answers from a queue of canned answers."""

    def __init__(self, answers: list[CannedAnswer] | None = None) -> None:
        self.answers = list(answers or [])
        self.default = CannedAnswer()
        self.requests: list[bytes] = []
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RawHttpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._sock.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        # A client that keeps its connection open and sends nothing more for 10 s is done with it.
        with conn, contextlib.suppress(TimeoutError):
            self._answer_each_request(conn)

    def _answer_each_request(self, conn: socket.socket) -> None:
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            head, _, rest = buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            while len(rest) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                rest += chunk
            self.requests.append(head + b"\r\n\r\n" + rest[:length])
            buffer = rest[length:]
            answer = self.answers.pop(0) if self.answers else self.default
            if answer.drop:
                return
            headers = {
                "Content-Type": answer.content_type,
                "Content-Length": str(len(answer.body) + answer.truncate_by),
                **answer.headers,
            }
            lines = [f"HTTP/1.1 {answer.status} X"] + [f"{k}: {v}" for k, v in headers.items()]
            conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + answer.body)
            if answer.truncate_by:
                return
