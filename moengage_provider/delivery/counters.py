"""
``if_outcome_unknown="check"``: turn "MoEngage may have taken the event" into a fact where the
event's own counters allow it.

MoEngage's look-ups report, per business event, how many triggers it accepted and when the last
came (the legacy search's ``total_trigger`` and ``last_received_time``, V5's ``trigger_count`` and
``last_triggered_at``; the connection's API answers). A try reads them once before sending and keeps them in the task instance's
store, beside the delivery record; when the outcome of a send is unknown (a read timeout, a dropped connection, a 5xx, a worker
killed mid-request) it reads them again after a short settle delay and :func:`judge` decides, by
the one table below (:data:`VERDICTS`).

The check is conclusive only while this task is the event's only sender in that interval: another
DAG, another mapped task instance or a person in MoEngage's dashboard firing the same event between
the two reads moves the counters too. Counters that lag behind the triggers they count would make
"unchanged" look like "not delivered": the settle delay is there for that. The log line names the
case that was met and why.

No Airflow import here: reading goes through anything with ``find_business_event``; keeping
goes through the task instance's :class:`~moengage_provider.delivery.stores.DeliveryStore`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from moengage_provider.api.versions import DeclaredEvent
    from moengage_provider.delivery.stores import DeliveryStore

Verdict = Literal["not_delivered", "delivered", "inconclusive"]

#: Seconds to wait before the second read, so that a trigger MoEngage took shows in its counters.
DEFAULT_SETTLE_SECONDS = 5.0
#: Never wait longer than this, whatever the argument says: the check must not hold a worker long.
MAX_SETTLE_SECONDS = 60.0

#: The decision, as one table: (case, verdict, what the try does next).
VERDICTS: tuple[tuple[str, Verdict, str], ...] = (
    ("unreadable", "inconclusive", "if_check_inconclusive"),  # a read failed, or the event is unknown
    ("unchanged", "not_delivered", "send"),  # same count, same last_received_time
    ("time moved, count did not", "inconclusive", "if_check_inconclusive"),  # lagging or reset counters
    ("one more, one send in flight", "delivered", "record as delivered, send nothing"),
    ("one more, several sends in flight", "inconclusive", "if_check_inconclusive"),
    ("more than one more", "inconclusive", "if_check_inconclusive"),  # another sender
    ("fewer", "inconclusive", "if_check_inconclusive"),  # lagging, or a different event
)
_BY_CASE = {case: (verdict, action) for case, verdict, action in VERDICTS}


class _Searcher(Protocol):
    def find_business_event(self, event_name: str) -> DeclaredEvent | None: ...


@dataclass(frozen=True)
class Counters:
    """An event's counters as MoEngage reported them, and when we read them."""

    total_trigger: int
    last_received_time: str | None
    read_at: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Any) -> Counters | None:
        if not isinstance(value, Mapping) or not isinstance(value.get("total_trigger"), int):
            return None
        last = value.get("last_received_time")
        return cls(value["total_trigger"], last if isinstance(last, str) else None, str(value.get("read_at")))


@dataclass(frozen=True)
class CheckResult:
    verdict: Verdict
    case: str
    action: str
    before: Counters | None
    after: Counters | None

    def explain(self) -> str:
        def show(c: Counters | None) -> str:
            return "unreadable" if c is None else f"total_trigger={c.total_trigger} at {c.read_at}"

        return (
            f"MoEngage's counters before: {show(self.before)}, after: {show(self.after)}; case "
            f"{self.case!r}: {self.verdict.replace('_', ' ')} -> {self.action}"
        )


def read_counters(hook: _Searcher, event_name: str) -> Counters | None:
    """One look-up (every page of it); None when the counters cannot be read (any error, no such event)."""
    try:
        event = hook.find_business_event(event_name)
    except Exception:  # the check then says "unreadable": the fallback decides, nothing is guessed
        return None
    if event is None or event.trigger_count is None:
        return None
    return Counters(
        total_trigger=event.trigger_count,
        last_received_time=event.last_triggered_at,
        read_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )


def judge(before: Counters | None, after: Counters | None, *, sends_in_flight: int = 1) -> CheckResult:
    """What the counters say about sends made after ``before`` was read (``sends_in_flight`` of them)."""
    if before is None or after is None:
        case = "unreadable"
    else:
        delta = after.total_trigger - before.total_trigger
        if delta == 0:
            same_time = after.last_received_time == before.last_received_time
            case = "unchanged" if same_time else "time moved, count did not"
        elif delta == 1:
            case = (
                "one more, one send in flight"
                if sends_in_flight == 1
                else "one more, several sends in flight"
            )
        elif delta > 1:
            case = "more than one more"
        else:
            case = "fewer"
    verdict, action = _BY_CASE[case]
    return CheckResult(verdict, case, action, before, after)


def settle_seconds(value: float) -> float:
    """The settle delay, bounded to [0, MAX_SETTLE_SECONDS]."""
    return min(max(float(value), 0.0), MAX_SETTLE_SECONDS)


class OutcomeCheck:
    """The counters of one task instance's latest send, kept in its store."""

    def __init__(self, store: DeliveryStore, hook: _Searcher, event_name: str, log: Any) -> None:
        self.store = store
        self.hook = hook
        self.event_name = event_name
        self.log = log

    def before_send(self, fingerprint: str) -> None:
        """Read and keep the counters; a read that fails makes a later check inconclusive."""
        before = read_counters(self.hook, self.event_name)
        if before is None:
            self.log.warning(
                "if_outcome_unknown='check': could not read MoEngage's counters for %r before sending (is "
                "the event declared in this workspace?); an unknown outcome will be inconclusive.",
                self.event_name,
            )
        self.store.save_counters(fingerprint, before.to_json() if before else None)

    def resolve(self, fingerprint: str, settle: float) -> CheckResult:
        """Read the counters again after ``settle`` seconds and judge the latest send."""
        before = Counters.from_json(self.store.load_counters(fingerprint))
        if settle > 0:
            time.sleep(settle)
        after = read_counters(self.hook, self.event_name)
        result = judge(before, after, sends_in_flight=1)
        self.log.warning(
            "if_outcome_unknown='check' for %r: %s. (Conclusive only while this task is the event's only "
            "sender between the two reads.)",
            self.event_name,
            result.explain(),
        )
        return result
