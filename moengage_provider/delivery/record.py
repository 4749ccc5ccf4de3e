"""
The delivery record and its state machine: what this task instance already sent to MoEngage, and
what the next try does about it, so that retries and cleared-and-rerun tasks never fire the same
event twice by accident.

One record per task instance. Its ``status`` is:

- ``sending``: written just before the request goes out (a worker killed mid-request leaves this);
- ``unknown``: the request went out but no clear answer came back, so MoEngage may or may not have
  taken the event (see :mod:`moengage_provider.api.outcomes`);
- ``waiting``: refused for the rate limit (nothing delivered); the task waits (``rate_limit_wait.py``),
  and the record remembers since when, and its latest wait for a window;
- ``delivered``: MoEngage answered 2xx (or ``if_outcome_unknown='skip'`` settled a doubt); ``result``
  is what the task returned.

Everything here is pure: :func:`plan_try` decides from (record, fingerprint, settings) and
:func:`after_attempt` computes the next record from an :class:`~moengage_provider.exceptions.Outcome`.
Where the record lives is ``stores.py``; what a try does with these decisions is ``attempt.py``. A
new ``if_outcome_unknown`` mode is one more row in :data:`UNKNOWN_POLICIES` plus its action there.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from moengage_provider.api.rate_limits import EarlierWait
from moengage_provider.exceptions import Outcome

_STATUSES = ("sending", "unknown", "waiting", "delivered")

Status = Literal["sending", "unknown", "waiting", "delivered"]


def payload_fingerprint(data: bytes, *, workspace_id: str, base_url: str) -> str:
    """Same bytes sent, same workspace and endpoint -> same fingerprint."""
    digest = hashlib.sha256(f"{workspace_id}\n{base_url}\n".encode())
    digest.update(data)
    return digest.hexdigest()


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
    #: Its latest wait decided by the published windows (no header): which window (its index in
    #: ``api.rate_limits.PUBLISHED_WINDOWS``) and when the wait ended. A refusal right after it
    #: waits for a longer window; across tries and deferrals, so kept here.
    rate_limit_level: int | None = None
    rate_limit_until: str | None = None

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

    @property
    def waiting_since(self) -> dt.datetime | None:
        """When this payload was first refused for the rate limit, if the record says so readably."""
        return _moment(self.rate_limited_since)

    @property
    def earlier_wait(self) -> EarlierWait | None:
        """This payload's latest wait for a published window, if the record has a readable one."""
        level, until = self.rate_limit_level, _moment(self.rate_limit_until)
        if not isinstance(level, int) or isinstance(level, bool) or until is None:
            return None
        return EarlierWait(level, until)


def _moment(text: Any) -> dt.datetime | None:
    """A moment the record wrote (ISO 8601, UTC); None when it is missing or unreadable."""
    if not isinstance(text, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


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
    #: An earlier try may have delivered it; read MoEngage's counters and decide (counters.py).
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


def policy_name(action: Action) -> str:
    """The ``if_outcome_unknown`` value whose action this is (what a try did about an earlier doubt)."""
    return next(name for name, policy in UNKNOWN_POLICIES.items() if policy.action is action)


@dataclass(frozen=True)
class DeliverySettings:
    """What the task asks of its deliveries (the operator's arguments, rendered), for one try."""

    if_outcome_unknown: str = "resend"
    deduplicate: bool = True
    #: With ``if_outcome_unknown="check"``: what an inconclusive check does, and the settle delay (s).
    if_check_inconclusive: str = "fail"
    check_settle_seconds: float = 5.0
    #: Announce once per business fact, under this key (rendered; checked by the idempotency gate).
    idempotency_key: Any = None
    #: Look the event up in MoEngage before sending and refuse undeclared attributes.
    check_declared_attributes: bool = False
    #: Waiting out a rate limit: in the triggerer (deferrable), or in the worker, for at most this long.
    deferrable: bool = False
    max_rate_limit_wait: dt.timedelta = dt.timedelta(hours=3)
    #: How long MoEngage's hour lasts for the published windows (they scale with it): one, but in tests.
    rate_limit_window: dt.timedelta = dt.timedelta(hours=1)
    #: The task's retries, the seconds Airflow waits before one, and whether a retry policy may choose
    #: that wait instead (Airflow 3.3+): a long rate-limit wait hands the worker back with a retry.
    retries: int = 0
    retry_delay: float = 0.0
    retry_policy: bool = False

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
    """The record written just before the request goes out; it keeps how this payload waited so far."""
    previous = plan.previous if plan.same else None
    record = DeliveryRecord(
        fingerprint=fingerprint, status="sending", event_name=event_name, attempted_at=now
    )
    return _with_waits_of(record, previous) if previous is not None else record


def _with_waits_of(record: DeliveryRecord, source: DeliveryRecord) -> DeliveryRecord:
    """``record`` carrying ``source``'s rate-limit memory (since when it waits, its latest window wait)."""
    return replace(
        record,
        rate_limited_since=source.rate_limited_since,
        rate_limit_level=source.rate_limit_level,
        rate_limit_until=source.rate_limit_until,
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
            attempt,
            status="delivered",
            delivered_at=now,
            result=result,
            reason=None,
            rate_limited_since=None,
            rate_limit_level=None,
            rate_limit_until=None,
        )
    if outcome is Outcome.UNKNOWN:
        return replace(attempt, status="unknown", reason=reason)
    if not rate_limited:
        return plan.previous
    return after_rate_limit(plan, attempt, now=now)


def after_rate_limit(plan: Plan, attempt: DeliveryRecord, *, now: str) -> DeliveryRecord:
    """The record once the attempt was refused for the rate limit: nothing delivered; since when this
    payload waits is kept, and so is an earlier doubt or delivery (``unknown`` or ``delivered`` stays)."""
    earlier = plan.previous if plan.same else None
    waiting = replace(attempt, rate_limited_since=attempt.rate_limited_since or now)
    if earlier is not None and earlier.in_doubt:
        return _with_waits_of(replace(earlier, status="unknown"), waiting)
    if earlier is not None and earlier.status == "delivered":  # a resend (deduplicate=False) waits
        return _with_waits_of(earlier, waiting)
    return replace(waiting, status="waiting")


def remember_wait(record: DeliveryRecord, level: int | None, until: dt.datetime) -> DeliveryRecord:
    """The record of a payload about to wait: a wait for a window is remembered (a refusal right after
    it waits for a longer one); a wait a header decided starts the windows over."""
    if level is None:
        return replace(record, rate_limit_level=None, rate_limit_until=None)
    return replace(record, rate_limit_level=level, rate_limit_until=until.isoformat())


def nothing_delivered_by_this_try(record: DeliveryRecord | None) -> str:
    """What a try that fails without delivering says: nothing, and whether an earlier try may have."""
    if record is not None and record.status == "unknown":  # keep the history: an earlier try may have
        return (
            f"This try delivered nothing, but an earlier try at {record.attempted_at} may have delivered "
            f"business event {record.event_name!r} ({record.reason or 'it ended while in flight'})."
        )
    return "Nothing was delivered."


def settle_doubt(previous: DeliveryRecord, result: dict[str, Any]) -> DeliveryRecord:
    """``if_outcome_unknown='skip'``: take the doubtful attempt as delivered (at most once)."""
    return replace(previous, status="delivered", delivered_at=previous.attempted_at, result=result)


@dataclass(frozen=True)
class TaskInstanceRef:
    """The task instance running a try: who it is (for the idempotency history) and which try this is."""

    dag_id: str
    task_id: str
    run_id: str
    map_index: int = -1
    #: 0 when Airflow's context has no task instance.
    try_number: int = 0

    def request_id(self, fingerprint: str) -> str:
        """API V5's ``X-MOE-Request-Id`` of this task instance's delivery of the payload ``fingerprint``: a
        UUID v4 derived from both, so that every try sends the same one and MoEngage support can follow
        a retried delivery. For tracing only: MoEngage documents no de-duplication by it, and nothing
        here relies on one."""
        key = f"{self.dag_id}\n{self.task_id}\n{self.run_id}\n{self.map_index}\n{fingerprint}"
        return str(uuid.UUID(bytes=hashlib.sha256(key.encode()).digest()[:16], version=4))

    @classmethod
    def of(cls, ti: Any) -> TaskInstanceRef:
        """From Airflow's task instance (``context["ti"]``; None outside a task run)."""
        if ti is None:
            return cls("", "", "")
        map_index = getattr(ti, "map_index", None)
        return cls(
            dag_id=str(ti.dag_id),
            task_id=str(ti.task_id),
            run_id=str(ti.run_id),
            map_index=-1 if map_index is None else int(map_index),
            try_number=int(getattr(ti, "try_number", 0) or 0),
        )
