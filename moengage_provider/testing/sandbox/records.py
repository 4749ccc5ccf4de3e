"""What the sandbox remembers and prints: the records of requests and the one access-log line each.

Nothing a client sends can forge or break these: log fields are escaped (no newline, no terminal
escape, no look-alike field) and secrets are scrubbed from everything kept.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NotRequired, TypedDict

from moengage_provider.testing.sandbox.protocol import LOGGER_NAME, REDACTED

logger: logging.Logger = logging.getLogger(LOGGER_NAME)


class TriggerRecord(TypedDict):
    """An accepted trigger (a V5 trigger also says what it reached: see docs/sandbox.md)."""

    event_name: str
    event_attributes: dict[str, Any]
    triggered_by: str | None
    workspace_id: str
    received_at: str
    request_id: str
    api_version: NotRequired[str]
    moe_request_id: NotRequired[str]
    response_id: NotRequired[str]
    triggered_status: NotRequired[str]
    summary: NotRequired[dict[str, int]]
    triggered_campaign_ids: NotRequired[list[str]]
    failed_campaign_ids: NotRequired[list[str]]
    triggered_flow_ids: NotRequired[list[str]]
    failed_flow_ids: NotRequired[list[str]]


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
    response_id: NotRequired[str]


class RequestRecord(TypedDict):
    """Every API request received (control-API requests excluded)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None
    received_at: str
    request_id: str


_PLAIN_FIELD = re.compile(r"[A-Za-z0-9_./:@+-]{1,200}")


def log_field(value: str | None) -> str:
    """A value as one token of a log line: plain as it is, anything else JSON-quoted and ASCII-escaped."""
    if value is None:
        return "-"
    if _PLAIN_FIELD.fullmatch(value):
        return value
    shown = value if len(value) <= 200 else value[:200] + "..."
    return json.dumps(shown, ensure_ascii=True)


class Recorder:
    """The three record lists, under one lock; copies out, never the lists themselves."""

    def __init__(self, secrets: Callable[[], Iterable[str]]) -> None:
        self._secrets = secrets
        self.lock: threading.RLock = threading.RLock()
        self.triggers: list[TriggerRecord] = []
        self.rejected: list[RejectedRecord] = []
        self.requests: list[RequestRecord] = []

    def clear(self) -> None:
        with self.lock:
            self.triggers.clear()
            self.rejected.clear()
            self.requests.clear()

    def copies(self, which: str) -> Any:
        with self.lock:
            return copy.deepcopy(getattr(self, which))

    def scrub(self, text: str) -> str:
        for secret in self._secrets():
            if secret and secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def request(
        self,
        method: str,
        raw_path: str,
        headers: Mapping[str, str],
        body: bytes,
        status: int | None,
        request_id: str,
        received_at: str,
    ) -> None:
        clean = {
            name: REDACTED if name in ("authorization", "proxy-authorization") else self.scrub(value)
            for name, value in headers.items()
        }
        with self.lock:
            self.requests.append(
                {
                    "method": method,
                    "path": self.scrub(raw_path),
                    "headers": clean,
                    "body": bytes(body),
                    "status": status,
                    "received_at": received_at,
                    "request_id": request_id,
                }
            )

    def reject(
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
        *,
        response_id: str | None = None,
    ) -> None:
        record: RejectedRecord = {
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
        if response_id is not None:
            record["response_id"] = response_id
        with self.lock:
            self.rejected.append(record)

    def trigger(self, record: TriggerRecord) -> None:
        with self.lock:
            self.triggers.append(record)

    def log(
        self,
        method: str,
        path: str,
        outcome: str,
        event_name: str | None,
        request_id: str | None,
        response_id: str | None = None,
    ) -> None:
        logger.info(
            "%s %s -> %s event=%s request_id=%s%s",
            log_field(self.scrub(method)),
            log_field(self.scrub(path)),
            outcome,  # the sandbox's own words
            log_field(self.scrub(event_name) if event_name is not None else None),
            request_id or "-",
            f" response_id={response_id}" if response_id else "",  # the sandbox's own: resp_ + hex
        )
