"""
The delivery record: what this task instance already sent to MoEngage, kept in Airflow's task state
store so that retries and cleared-and-rerun tasks never fire the same event twice.

One record per task instance under :data:`STORE_KEY`. Its ``status`` is:

- ``sending``: written just before the request goes out (a worker killed mid-request leaves this);
- ``unknown``: the request went out but no clear answer came back (read timeout, dropped connection,
  500/502/504), so MoEngage may or may not have taken the event;
- ``waiting``: refused for the rate limit (nothing delivered); the task waits for the next window;
- ``delivered``: MoEngage answered 2xx; ``result`` is what the task returned.

Airflow before 3.3 has no task state store: :class:`DeliveryStore` then remembers nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

STORE_KEY = "moengage_business_event_delivery"
_STATUSES = ("sending", "unknown", "waiting", "delivered")

Status = Literal["sending", "unknown", "waiting", "delivered"]


def payload_fingerprint(body: Mapping[str, Any], *, workspace_id: str, base_url: str) -> str:
    """Same event, same attributes, same workspace and endpoint -> same fingerprint."""
    canonical = json.dumps(
        {"workspace_id": workspace_id, "base_url": base_url, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def utc_now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class DeliveryRecord:
    fingerprint: str
    status: Status
    event_name: str
    attempted_at: str
    delivered_at: str | None = None
    result: dict[str, Any] | None = None
    #: Why the outcome is unknown, for the next try's log.
    reason: str | None = None
    #: When this payload was first refused for the rate limit (bounds the total wait).
    rate_limited_since: str | None = None

    @classmethod
    def from_json(cls, value: Any) -> DeliveryRecord | None:
        if not isinstance(value, dict):
            return None
        fields: dict[str, Any] = {key: value.get(key) for key in cls.__dataclass_fields__}
        if not isinstance(fields["fingerprint"], str) or fields["status"] not in _STATUSES:
            return None
        return cls(**fields)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class DeliveryStore:
    """The task instance's delivery record, or nothing where Airflow has no task state store."""

    def __init__(self, accessor: Any | None) -> None:
        self._accessor = accessor

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> DeliveryStore:
        return cls(context.get("task_state_store"))

    @property
    def available(self) -> bool:
        return self._accessor is not None

    def load(self) -> DeliveryRecord | None:
        if self._accessor is None:
            return None
        return DeliveryRecord.from_json(self._accessor.get(STORE_KEY))

    def save(self, record: DeliveryRecord) -> None:
        if self._accessor is not None:
            self._accessor.set(STORE_KEY, record.to_json())

    def restore(self, previous: DeliveryRecord | None) -> None:
        """Put back the record from before an attempt that certainly delivered nothing."""
        if self._accessor is None:
            return
        if previous is None:
            self._accessor.delete(STORE_KEY)
        else:
            self.save(previous)
