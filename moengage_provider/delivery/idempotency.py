"""
Announce once per business fact: deliveries recorded under an ``idempotency_key`` in a store that
outlives the task instance, so that a manual re-trigger, a backfill or an asset-driven DAG woken
twice for the same data does not announce the same news again.

Where: on Airflow 3.3+, the **asset state store** of the Asset that stands for the business event
(:func:`business_event_asset`, ``moengage://business-event/<event name>``). The operator declares
that asset as an outlet, so a delivery also emits an asset event ("the announcement went out") that
downstream DAGs can schedule on. Why that store: it belongs to the event, not to a DAG or a task
instance (any DAG announcing the event sees the same history), it lives in Airflow's metadata DB
with no extra service, and it is not user configuration (as a Variable would be).

What: one store key (:data:`HISTORY_KEY`) holding the latest :data:`MAX_HISTORY` deliveries of the
event, newest last: ``{"key", "fingerprint", "delivered_at", "dag_id", "run_id", "task_id",
"map_index"}``. Older entries fall off; a key older than that is forgotten.

The rule, as one table (:data:`RULES`): no delivery under the key -> send; the same payload
(fingerprint) -> skip, naming the earlier run; a different payload under the same key -> fail for a
human (the key says "this fact was announced", the payload says it changed: use a new key to
announce the change, e.g. add a version to the key).

Concurrency: the store has no compare-and-set. Two task instances with the same key running at
the same time can both find no delivery and both send; two writers of the same event's history can
drop each other's entry. Serialise the senders of an event: ``max_active_runs=1`` on the DAG, a
pool with one slot for the tasks that fire it, ``max_active_tis_per_dag=1`` for a mapped one.

No Airflow import at module level: the operator imports this at DAG parse when a task sets an
``idempotency_key`` (to add the event's asset to its outlets).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from moengage_provider.api.text_fields import InvalidBusinessEventError

if TYPE_CHECKING:
    from moengage_provider.delivery.record import TaskInstanceRef

HISTORY_KEY = "moengage_deliveries"
MAX_HISTORY = 100
#: Longest idempotency key accepted (it is stored as given, in every history entry).
MAX_KEY_LENGTH = 500
ASSET_URI_PREFIX = "moengage://business-event/"

Decision = Literal["send", "skip", "conflict"]
#: What a task instance does, given what the store holds under its key.
RULES: dict[str, tuple[Decision, str]] = {
    "no delivery under this key": ("send", "send, then record the delivery under the key"),
    "same payload under this key": ("skip", "skip the task (AirflowSkipException), naming the earlier run"),
    "another payload under this key": (
        "conflict",
        "fail without retries: use a new key to announce a change",
    ),
}


def business_event_asset(event_name: str) -> Any:
    """The Asset that stands for a MoEngage business event (its state store holds the deliveries)."""
    from airflow.sdk import Asset

    return Asset(
        name=f"moengage_business_event_{event_name}", uri=ASSET_URI_PREFIX + quote(event_name, safe="")
    )


@dataclass(frozen=True)
class Delivery:
    key: str
    fingerprint: str
    delivered_at: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    @classmethod
    def from_json(cls, value: Any) -> Delivery | None:
        if not isinstance(value, Mapping):
            return None
        try:
            return cls(
                key=str(value["key"]),
                fingerprint=str(value["fingerprint"]),
                delivered_at=str(value["delivered_at"]),
                dag_id=str(value["dag_id"]),
                run_id=str(value["run_id"]),
                task_id=str(value["task_id"]),
                map_index=int(value.get("map_index", -1)),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def describe(self) -> str:
        where = f"{self.dag_id}.{self.task_id}" + (f"[{self.map_index}]" if self.map_index >= 0 else "")
        return f"{where} in run {self.run_id} at {self.delivered_at}"


def decide(previous: Delivery | None, fingerprint: str) -> tuple[Decision, str]:
    """(decision, the case of :data:`RULES` that was met)."""
    if previous is None:
        case = "no delivery under this key"
    elif previous.fingerprint == fingerprint:
        case = "same payload under this key"
    else:
        case = "another payload under this key"
    return RULES[case][0], case


def validate_key(value: Any) -> str:
    """The rendered key: a non-empty string of at most MAX_KEY_LENGTH characters."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidBusinessEventError(
            "idempotency_key", f"must render to a non-empty string, got {value!r}."
        )
    if len(value) > MAX_KEY_LENGTH:
        raise InvalidBusinessEventError(
            "idempotency_key",
            f"is {len(value)} characters long; keep it under {MAX_KEY_LENGTH} (it is stored as given).",
        )
    return value


class DeliveryHistory:
    """The business event's recent deliveries, in its asset's state store (nothing where there is none)."""

    def __init__(self, accessor: Any | None) -> None:
        self._accessor = accessor

    @classmethod
    def of_event(cls, context: Mapping[str, Any], event_name: str) -> DeliveryHistory:
        """The history in the asset state store of the event's asset, from a task's Airflow context."""
        accessors = context.get("asset_state_store")
        if accessors is None:
            return cls(None)
        try:
            return cls(accessors[business_event_asset(event_name)])
        except (KeyError, TypeError):
            return cls(None)

    @property
    def available(self) -> bool:
        return self._accessor is not None

    def entries(self) -> list[Delivery]:
        if self._accessor is None:
            return []
        raw = self._accessor.get(HISTORY_KEY)
        found = [Delivery.from_json(item) for item in raw] if isinstance(raw, list) else []
        return [entry for entry in found if entry is not None]

    def find(self, key: str) -> Delivery | None:
        """The latest delivery recorded under ``key``."""
        matches = [entry for entry in self.entries() if entry.key == key]
        return matches[-1] if matches else None

    def record(self, delivery: Delivery) -> None:
        if self._accessor is None:
            return
        kept = [entry for entry in self.entries() if entry.key != delivery.key]
        kept.append(delivery)
        self._accessor.set(HISTORY_KEY, [asdict(entry) for entry in kept[-MAX_HISTORY:]])


def skip_exception() -> type[Exception]:
    try:
        from airflow.sdk.exceptions import AirflowSkipException
    except ImportError:  # Airflow < 3.2
        from airflow.exceptions import AirflowSkipException  # type: ignore[no-redef]
    return AirflowSkipException


_warned_no_store = False


class IdempotencyGate:
    """
    What a task instance with an ``idempotency_key`` asks before sending, and records after.

    ``check()`` raises AirflowSkipException (same payload already announced under the key, by any
    task instance) or AirflowFailException (another payload under the key), per :data:`RULES`.
    """

    def __init__(
        self,
        history: DeliveryHistory,
        key: Any,
        event_name: str,
        fingerprint: str,
        task: TaskInstanceRef,
        log: Any,
    ) -> None:
        from moengage_provider.exceptions import invalid_event_fails_the_task

        with invalid_event_fails_the_task():
            self.key: str = validate_key(key)
        self.history = history
        self.event_name = event_name
        self.fingerprint = fingerprint
        self.task = task
        self.log = log

    def check(self) -> None:
        global _warned_no_store
        if not self.history.available:
            if not _warned_no_store:
                _warned_no_store = True
                self.log.warning(
                    "idempotency_key is set, but this task has no asset state store for %s (Airflow 3.3+, "
                    "with the event's asset among the task's outlets): another run with the same key may "
                    "announce %r again.",
                    ASSET_URI_PREFIX + self.event_name,
                    self.event_name,
                )
            return
        previous = self.history.find(self.key)
        decision, case = decide(previous, self.fingerprint)
        if decision == "send" or previous is None:
            return
        if decision == "skip":
            raise skip_exception()(
                f"MoEngage business event {self.event_name!r} with this exact payload was already announced "
                f"under idempotency_key {self.key!r} by {previous.describe()}. Nothing was sent ({case})."
            )
        from moengage_provider.exceptions import AirflowFailException

        raise AirflowFailException(
            f"idempotency_key {self.key!r} already announced MoEngage business event {self.event_name!r} "
            f"with another payload ({previous.describe()}); nothing was sent. The key stands for one "
            "announcement: to announce the changed data, use a new key (for example add a version to it)."
        )

    def record(self) -> None:
        if self.history.available:
            task = self.task
            self.history.record(
                Delivery(
                    key=self.key,
                    fingerprint=self.fingerprint,
                    delivered_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    dag_id=task.dag_id,
                    run_id=task.run_id,
                    task_id=task.task_id,
                    map_index=task.map_index,
                )
            )
