"""
The delivery record and its state machine: what this task instance already sent to MoEngage, and
what the next try does about it, so that retries and cleared-and-rerun tasks never fire the same
event twice by accident.

One record per task instance. Its ``status`` is:

- ``sending``: written just before the request goes out (a worker killed mid-request leaves this);
- ``unknown``: the request went out but no clear answer came back, so MoEngage may or may not have
  taken the event (see :mod:`moengage_provider.api.outcomes`);
- ``waiting``: refused for the rate limit (nothing delivered); the task waits for the next window;
- ``delivered``: MoEngage answered 2xx (or ``if_outcome_unknown='skip'`` settled a doubt); ``result``
  is what the task returned.

Everything here is pure: :func:`plan_try` decides from (record, fingerprint, settings) and
:func:`after_attempt` computes the next record from an :class:`~moengage_provider.api.outcomes.Outcome`.
Where the record lives is a :class:`RecordStore` (``load``/``save``): Airflow 3.3's task state store
today (:class:`DeliveryStore`); another store (one that outlives the task instance, or one for Airflow
before 3.3) plugs in without changing the decisions. A new ``if_outcome_unknown`` mode is one more
row in :data:`UNKNOWN_POLICIES` plus its action in the operator.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, Protocol

from moengage_provider.api.outcomes import Outcome

STORE_KEY = "moengage_business_event_delivery"
_STATUSES = ("sending", "unknown", "waiting", "delivered")

Status = Literal["sending", "unknown", "waiting", "delivered"]


def payload_fingerprint(body: bytes | Mapping[str, Any], *, workspace_id: str, base_url: str) -> str:
    """Same bytes (or body), same workspace and endpoint -> same fingerprint."""
    if isinstance(body, (bytes, bytearray)):
        digest = hashlib.sha256(f"{workspace_id}\n{base_url}\n".encode())
        digest.update(body)
        return digest.hexdigest()
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

    @property
    def in_doubt(self) -> bool:
        """An earlier request for this record may have reached MoEngage."""
        return self.status in ("sending", "unknown")


# -- where the record lives ------------------------------------------------------------------------


class RecordStore(Protocol):
    """Where the delivery record of one task instance lives."""

    @property
    def available(self) -> bool: ...

    def load(self) -> DeliveryRecord | None: ...

    def save(self, record: DeliveryRecord | None) -> None:
        """Store ``record``; ``None`` removes it."""


class DeliveryStore:
    """The record in Airflow 3.3's ``task_state_store``; remembers nothing where there is none."""

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

    def save(self, record: DeliveryRecord | None) -> None:
        if self._accessor is None:
            return
        if record is None:
            self._accessor.delete(STORE_KEY)
        else:
            self._accessor.set(STORE_KEY, record.to_json())

    def restore(self, previous: DeliveryRecord | None) -> None:
        """Put back the record from before an attempt that certainly delivered nothing."""
        self.save(previous)


# -- the decisions ---------------------------------------------------------------------------------


class Action(str, enum.Enum):
    """What a try does before sending anything."""

    SEND = "send"
    #: Deduplicated: this exact payload was delivered by this task instance; return its result.
    ALREADY_DELIVERED = "already_delivered"
    #: An earlier try may have delivered it; at most once: succeed without sending.
    SKIP = "skip"
    #: An earlier try may have delivered it; stop for a human.
    FAIL = "fail"
    #: An earlier try may have delivered it; read MoEngage's counters and decide (delivery/counters.py).
    CHECK = "check"


@dataclass(frozen=True)
class UnknownPolicy:
    action: Action
    #: Finishes "The next try ..." (log and error messages of the try that met the doubt).
    next_try: str


#: ``if_outcome_unknown`` -> what the next try does when an earlier request may have been accepted.
UNKNOWN_POLICIES: dict[str, UnknownPolicy] = {
    "resend": UnknownPolicy(
        Action.SEND, "sends it again (at least once; set if_outcome_unknown='skip' for at most once)"
    ),
    "skip": UnknownPolicy(Action.SKIP, "succeeds without sending it again (at most once)"),
    "fail": UnknownPolicy(
        Action.FAIL, "fails for a human to check MoEngage's campaign analytics (if_outcome_unknown='fail')"
    ),
    "check": UnknownPolicy(
        Action.CHECK,
        "reads MoEngage's counters for the event and sends only if they show it was not delivered "
        "(if_outcome_unknown='check'; an inconclusive check follows if_check_inconclusive)",
    ),
}


@dataclass(frozen=True)
class DeliverySettings:
    if_outcome_unknown: str = "resend"
    deduplicate: bool = True

    def __post_init__(self) -> None:
        if self.if_outcome_unknown not in UNKNOWN_POLICIES:
            modes = ", ".join(repr(m) for m in UNKNOWN_POLICIES)
            raise ValueError(f"if_outcome_unknown must be one of {modes}, got {self.if_outcome_unknown!r}.")

    @property
    def unknown_policy(self) -> UnknownPolicy:
        return UNKNOWN_POLICIES[self.if_outcome_unknown]


@dataclass(frozen=True)
class Plan:
    action: Action
    #: The stored record, whatever payload it is for.
    previous: DeliveryRecord | None
    #: The stored record is for this exact payload.
    same: bool

    @property
    def payload_changed_since_delivery(self) -> bool:
        return self.previous is not None and not self.same and self.previous.status == "delivered"


def plan_try(record: DeliveryRecord | None, fingerprint: str, settings: DeliverySettings) -> Plan:
    """What this try does before sending: a pure function of the record, the payload and the settings."""
    same = record is not None and record.fingerprint == fingerprint
    if record is None or not same:
        return Plan(Action.SEND, record, same)
    if record.status == "delivered":
        return Plan(Action.ALREADY_DELIVERED if settings.deduplicate else Action.SEND, record, same)
    if record.in_doubt:
        return Plan(settings.unknown_policy.action, record, same)
    return Plan(Action.SEND, record, same)  # waiting: nothing was delivered


def before_send(plan: Plan, fingerprint: str, event_name: str, now: str) -> DeliveryRecord:
    """The record written just before the request goes out."""
    previous = plan.previous if plan.same else None
    return DeliveryRecord(
        fingerprint=fingerprint,
        status="sending",
        event_name=event_name,
        attempted_at=now,
        rate_limited_since=previous.rate_limited_since if previous is not None else None,
    )


def after_attempt(
    plan: Plan,
    attempt: DeliveryRecord,
    outcome: Outcome,
    *,
    now: str,
    reason: str | None = None,
    result: dict[str, Any] | None = None,
    rate_limited: bool = False,
) -> DeliveryRecord | None:
    """
    The record once the attempt's outcome is known (``None``: no record).

    - delivered: ``delivered``, with the task's result;
    - unknown: ``unknown``, with why;
    - not delivered: what was there before, so an earlier doubt (or delivery) is not forgotten;
      a rate-limit refusal also remembers since when it waits (``waiting``, or still ``unknown``).
    """
    if outcome is Outcome.DELIVERED:
        return replace(
            attempt, status="delivered", delivered_at=now, result=result, reason=None, rate_limited_since=None
        )
    if outcome is Outcome.UNKNOWN:
        return replace(attempt, status="unknown", reason=reason)
    earlier = plan.previous if plan.same else None
    if not rate_limited:
        return plan.previous
    since = attempt.rate_limited_since or now
    if earlier is not None and earlier.in_doubt:
        return replace(earlier, status="unknown", rate_limited_since=since)
    if earlier is not None and earlier.status == "delivered":  # a resend (deduplicate=False) waits
        return replace(earlier, rate_limited_since=since)
    return replace(attempt, status="waiting", rate_limited_since=since)


def settle_doubt(previous: DeliveryRecord, result: dict[str, Any]) -> DeliveryRecord:
    """``if_outcome_unknown='skip'``: take the doubtful attempt as delivered (at most once)."""
    return replace(previous, status="delivered", delivered_at=previous.attempted_at, result=result)


@dataclass(frozen=True)
class TryResult:
    """
    How one try ended, known in one place (the operator's ``_try_finished``) for logs, metrics, lineage.

    ``outcome`` is that of the last request this try sent (None: it sent none); ``error`` is what
    the try raised, if anything.
    """

    event_name: str
    action: Action
    outcome: Outcome | None
    result: dict[str, Any] | None = None
    error: BaseException | None = None
    #: A request of an earlier try (or of this one) may have reached MoEngage.
    earlier_doubt: bool = False
