"""
A socket-level front for the sandbox that misbehaves on demand, then heals: what a real network (or a
proxy in front of MoEngage) does and the sandbox's own fault injection cannot, such as refusing
connections or never completing a TCP handshake on the same address that works a moment later.

Healthy, it relays each request to the sandbox with ``http.client`` and relays the answer back, so
the sandbox's records are what the server accepted. Faulty, it answers the next requests (or all of
them until :meth:`heal`) in one of :data:`FAULTS` ways; with ``accepted=True`` the request is relayed
to the sandbox first (the server took it) and only the answer goes wrong.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import struct
import threading
from dataclasses import dataclass

from tests.ports import free_port

#: status: an HTTP status; not_json: 200 with an HTML page; stall: no answer until the client gives up;
#: drop: the connection reset with no answer; truncate: 200 whose body is cut short; refused: nothing
#: listens; blackhole: the TCP handshake never completes (connect timeout).
FAULTS = ("status", "not_json", "stall", "drop", "truncate", "refused", "blackhole")


@dataclass
class Fault:
    kind: str
    status: int = 0
    accepted: bool = False
    #: Requests it applies to; None: all, until healed.
    count: int | None = None


class FaultFront:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.fault: Fault | None = None
        self.requests = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._listener = self._listen(free_port())
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._blackhole: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._start_accepting()

    # -- control --------------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.fault = fault
        if fault.kind in ("refused", "blackhole"):
            self._stop_listening()
            if fault.kind == "blackhole":
                hole = self._listen(self.port, backlog=0)
                self._blackhole.append(hole)
                for _ in range(2):  # fill the accept queue: further SYNs are dropped
                    filler = socket.socket()
                    filler.setblocking(False)
                    filler.connect_ex(("127.0.0.1", self.port))
                    self._blackhole.append(filler)

    def heal(self) -> None:
        with self._lock:
            fault, self.fault = self.fault, None
        if fault is not None and fault.kind in ("refused", "blackhole"):
            for sock in self._blackhole:
                sock.close()
            self._blackhole.clear()
            self._listener = self._listen(self.port)
            self._start_accepting()

    def _stop_listening(self) -> None:
        # shutdown() wakes the thread blocked in accept(); close() alone would leave the port listening.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def close(self) -> None:
        self._stopped.set()
        self._stop_listening()
        for sock in self._blackhole:
            sock.close()

    def __enter__(self) -> FaultFront:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving --------------------------------------------------------------------------------

    @staticmethod
    def _listen(port: int, backlog: int = 16) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(backlog)
        return sock

    def _start_accepting(self) -> None:
        listener = self._listener
        thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _take_fault(self) -> Fault | None:
        with self._lock:
            fault = self.fault
            if fault is None:
                return None
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self.fault = None
            return fault

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        buffer = b""
        with conn:
            while True:
                try:
                    while b"\r\n\r\n" not in buffer:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buffer += chunk
                    head, _, rest = buffer.partition(b"\r\n\r\n")
                    lines = head.decode("latin-1").split("\r\n")
                    headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
                    headers = {k.strip(): v.strip() for k, v in headers.items()}
                    length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
                    while len(rest) < length:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        rest += chunk
                    body, buffer = rest[:length], rest[length:]
                    self.requests += 1
                    method, path, _ = lines[0].split(" ", 2)
                    fault = self._take_fault()
                    if fault is None or fault.accepted:
                        answer = self._relay(method, path, headers, body)
                    if fault is None:
                        conn.sendall(answer)
                        continue
                    if not self._misbehave(conn, fault):
                        return
                except OSError:
                    return

    def _relay(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            upstream.request(method, path, body=body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            kept = [
                (k, v) for k, v in response.getheaders() if k.lower() not in ("connection", "content-length")
            ]
        finally:
            upstream.close()
        head = [f"HTTP/1.1 {response.status} {response.reason}"] + [f"{k}: {v}" for k, v in kept]
        head.append(f"Content-Length: {len(payload)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload

    def _misbehave(self, conn: socket.socket, fault: Fault) -> bool:
        """Answer wrongly; False when the connection is done with."""
        if fault.kind == "status":
            if fault.status < 200:
                conn.sendall(f"HTTP/1.1 {fault.status} Interim\r\n\r\n".encode())
                return False
            body = b'{"title": "Injected", "message": "injected by the fault front"}'
            extra = {429: "Retry-After: 1\r\n", 303: "Location: http://127.0.0.1:1/elsewhere\r\n"}.get(
                fault.status, ""
            )
            conn.sendall(
                f"HTTP/1.1 {fault.status} X\r\nContent-Type: application/json\r\n{extra}"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            return True
        if fault.kind == "not_json":
            body = b"<html><head><title>Sign in to the Wi-Fi</title></head></html>"
            conn.sendall(
                f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            return True
        if fault.kind == "stall":
            conn.settimeout(15)
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
            return False
        if fault.kind == "truncate":
            conn.sendall(
                b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"mess'
            )
            return False
        # drop: reset the connection, no answer
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False
