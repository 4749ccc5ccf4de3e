"""Reading a request body off the wire (``Content-Length`` or chunked), bounded in size.

A body that cannot be read is a ``BodyError`` (answered 400 or 413) or ``ClientGone`` (nothing to
answer: the client closed the connection first).
"""

from __future__ import annotations

import re
from email.message import Message
from io import BufferedIOBase

from moengage_provider.testing.sandbox.protocol import MSG_TOO_LARGE

_DIGITS = re.compile(rb"[0-9]{1,18}")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")


class BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ClientGone(Exception):
    pass


def read_body(rfile: BufferedIOBase, headers: Message, limit: int) -> bytes:
    """The body of a request whose head was read from ``rfile``; at most ``limit`` bytes."""
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return _read_chunked(rfile, limit)
    length_header = headers.get("Content-Length")
    if length_header is None:
        return b""
    text = length_header.strip().encode("latin-1", errors="replace")
    if not _DIGITS.fullmatch(text):
        raise BodyError(400, "Content-Length header is not a non-negative number")
    length = int(text)
    if length > limit:
        raise BodyError(413, f"{MSG_TOO_LARGE}: the sandbox accepts at most {limit} bytes")
    data = rfile.read(length)
    if len(data) < length:
        raise ClientGone()
    return data


def _read_chunked(rfile: BufferedIOBase, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        line = rfile.readline(65537)
        if not line:
            raise ClientGone()
        size_text = line.split(b";", 1)[0].strip()
        if not _HEX.fullmatch(size_text):
            raise BodyError(400, "Malformed chunked request body")
        size = int(size_text, 16)
        if size == 0:
            while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        total += size
        if total > limit:
            raise BodyError(413, f"{MSG_TOO_LARGE}: the sandbox accepts at most {limit} bytes")
        data = rfile.read(size)
        if len(data) < size:
            raise ClientGone()
        chunks.append(data)
        rfile.readline(65537)
