"""Raw HTTP/1.1 requests to the sandbox (bytes exactly as given), for fuzzing and hostile input."""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send_raw(port: int, data: bytes, *, method: str = "POST", timeout: float = 10.0) -> RawAnswer:
    """Send ``data`` on a new connection; parse the one answer (``method`` tells HEAD apart)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        body = response.read()
        return RawAnswer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def build(
    method: str,
    path: str,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    content_length: bool = True,
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode("latin-1"), b"Host: 127.0.0.1", b"Connection: close"]
    for name, value in headers or []:
        lines.append(name + b": " + value)
    if content_length:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
