"""Fault injection: a queue of faults (fail with a status, stall, drop) taken by the next API requests.

Faults apply to API requests only, never to the ``/_sandbox`` control endpoints.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moengage_provider.testing.sandbox.protocol import HTML_TYPE, JSON_TYPE, TEXT_TYPE, Response, json_bytes

#: What a stall that did not end normally is recorded as.
STALL_OUTCOME_CODES = {"gone": "client gone", "stopped": "sandbox stopped"}


@dataclass
class Fault:
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

    def response(self, default: tuple[bytes, str]) -> Response:
        """The answer: the fault's own body, else ``default`` (what the API would answer)."""
        if self.body is None:
            body, content_type = default
            content_type = self.content_type or content_type
        else:
            body, content_type = render_fault_body(self.body, self.content_type)
        return Response(self.status, body, content_type, self.headers)


def render_fault_body(body: Any, content_type: str | None) -> tuple[bytes, str]:
    if isinstance(body, (dict, list)):
        return json_bytes(body), content_type or JSON_TYPE
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if content_type is None:
        content_type = HTML_TYPE if raw.lstrip().startswith(b"<") else TEXT_TYPE
    return raw, content_type


def _check_count(count: int) -> int:
    if int(count) < 1:
        raise ValueError("count must be >= 1")
    return int(count)


class FaultQueue:
    """Faults in the order they were asked for; each applies to ``remaining`` matching requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def fail(
        self,
        status: int,
        *,
        count: int = 1,
        body: str | bytes | Mapping[str, Any] | list[Any] | None = None,
        content_type: str | None = None,
        path: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        status = int(status)
        if not 200 <= status <= 599:
            raise ValueError("status must be between 200 and 599")
        if body is not None and not isinstance(body, (str, bytes, bytearray, dict, list)):
            raise TypeError("body must be str, bytes, a dict or a list")
        self._add(
            Fault(
                "fail",
                _check_count(count),
                path,
                status=status,
                body=dict(body) if isinstance(body, Mapping) else body,
                content_type=content_type,
                headers=dict(headers) if headers else None,
            )
        )

    def stall(
        self, seconds: float, *, count: int = 1, path: str | None = None, after_body: bool = True
    ) -> None:
        if not float(seconds) >= 0:
            raise ValueError("seconds must be >= 0")
        self._add(Fault("stall", _check_count(count), path, seconds=float(seconds), after_body=after_body))

    def drop(
        self, *, count: int = 1, path: str | None = None, after_body: bool = True, accept: bool = False
    ) -> None:
        if accept and not after_body:
            raise ValueError("accept=True needs after_body=True: the request must be read to be processed")
        self._add(Fault("drop", _check_count(count), path, after_body=after_body, accept=accept))

    def _add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path is None or fault.path == path:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return copy.copy(fault)
        return None

    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def from_control(self, payload: dict[str, Any]) -> None:
        """A fault described as JSON by ``POST /_sandbox/faults``."""
        kwargs = dict(payload)
        kind = kwargs.pop("kind", None)
        if kind == "fail":
            if "status" not in kwargs:
                raise ValueError("a 'fail' fault needs 'status'")
            self.fail(kwargs.pop("status"), **kwargs)
        elif kind == "stall":
            if "seconds" not in kwargs:
                raise ValueError("a 'stall' fault needs 'seconds'")
            self.stall(kwargs.pop("seconds"), **kwargs)
        elif kind == "drop":
            self.drop(**kwargs)
        else:
            raise ValueError("'kind' must be 'fail', 'stall' or 'drop'")
