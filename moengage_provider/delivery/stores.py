"""
Where a task instance's delivery record lives, per Airflow version: :class:`DeliveryStore`, the one
store of a task instance, holds its delivery record and the counters the outcome check read before
its latest send.

Airflow 3.3+ gives each task instance a task state store (``context["task_state_store"]``): kept
across retries and clears, removed with the task instance. Before 3.3 there is none, and the record
needs a place that

- survives a retry and a clear of the same task instance: XCom does not (Airflow deletes a task
  instance's XComs when a try starts and when it is cleared), nor does anything in the worker;
- a task can write on every version: on Airflow 3 workers have no database access, only the task
  SDK's Execution API, so a table of our own (or the ORM) is out. What the API offers a task is
  XCom, Variables, connections and asset events; of those only Variables are durable and writable.

So before 3.3 the record is an Airflow Variable, ``moengage_provider.delivery.<hash>``, the hash of
(dag_id, task_id, run_id, map_index, key); its description names the task instance in clear. The
costs, said in the README and logged once: whoever may edit Variables may delete the record (then
the next rerun sends again), a secrets backend is asked first on every read, and the rows outlive
the DAG run (delete them with ``airflow variables delete`` when a run is no longer rerun). The
record holds no secret: a SHA-256 fingerprint, the event name, timestamps and MoEngage's answer.

:class:`VariableStateStore` has the accessor interface of ``task_state_store`` (``get``/``set``/
``delete`` of JSON values, scoped to one task instance), so :class:`DeliveryStore` takes either;
:func:`state_store_for` picks one for the running Airflow.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from moengage_provider.delivery.record import DeliveryRecord
from moengage_provider.hooks.version_compat import has, warn_degraded_once

#: The store keys of one task instance: its delivery record, and the counters read before its latest send.
STORE_KEY = "moengage_business_event_delivery"
COUNTERS_KEY = "moengage_business_event_counters"
#: Before Airflow 3.3 each key is an Airflow Variable named this prefix and a hash (users see the name).
VARIABLE_PREFIX = "moengage_provider.delivery."


class VariableStateStore:
    """A task instance's keys, each in one Airflow Variable (JSON), for Airflow before 3.3."""

    def __init__(self, dag_id: str, task_id: str, run_id: str, map_index: int = -1) -> None:
        self.identity: tuple[str, str, str, int] = (dag_id, task_id, run_id, int(map_index))

    @classmethod
    def for_task_instance(cls, ti: Any) -> VariableStateStore:
        return cls(ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1))

    def variable_key(self, key: str) -> str:
        digest = hashlib.sha256(json.dumps([*self.identity, key]).encode("utf-8")).hexdigest()
        return VARIABLE_PREFIX + digest[:40]

    def _describe(self, key: str) -> str:
        dag_id, task_id, run_id, map_index = self.identity
        where = f"{dag_id}.{task_id}" + (f"[{map_index}]" if map_index >= 0 else "")
        return f"airflow-provider-moengage {key} of {where}, run {run_id}: what it already sent to MoEngage."

    def get(self, key: str, default: Any = None) -> Any:
        from airflow.providers.common.compat.sdk import Variable

        # Positional default: Airflow 2 calls it default_var, the task SDK default.
        raw = Variable.get(self.variable_key(key), None)
        if raw is None:
            return default
        try:
            return json.loads(raw)
        except (TypeError, ValueError):
            return default

    def set(self, key: str, value: Any) -> None:
        from airflow.providers.common.compat.sdk import Variable

        Variable.set(self.variable_key(key), json.dumps(value), description=self._describe(key))

    def delete(self, key: str) -> None:
        from airflow.providers.common.compat.sdk import Variable

        Variable.delete(self.variable_key(key))


class DeliveryStore:
    """
    The store of one task instance (Airflow 3.3's ``task_state_store``, or Variables before 3.3):
    its delivery record, and the counters read before its latest send. Remembers nothing where
    there is no store.
    """

    def __init__(self, accessor: Any | None) -> None:
        self._accessor = accessor

    @property
    def available(self) -> bool:
        return self._accessor is not None

    def load(self) -> DeliveryRecord | None:
        if self._accessor is None:
            return None
        return DeliveryRecord.from_json(self._accessor.get(STORE_KEY))

    def save(self, record: DeliveryRecord | None) -> None:
        """Store ``record``; ``None`` removes it."""
        if self._accessor is None:
            return
        if record is None:
            self._accessor.delete(STORE_KEY)
        else:
            self._accessor.set(STORE_KEY, record.to_json())

    def save_counters(self, fingerprint: str, counters: Mapping[str, Any] | None) -> None:
        """The counters read before sending this payload (``None``: they could not be read)."""
        if self._accessor is not None:
            self._accessor.set(COUNTERS_KEY, {"fingerprint": fingerprint, "before": counters})

    def load_counters(self, fingerprint: str) -> Any:
        """The counters read before the latest send of this payload, as stored; None if none."""
        stored = self._accessor.get(COUNTERS_KEY) if self._accessor is not None else None
        if isinstance(stored, Mapping) and stored.get("fingerprint") == fingerprint:
            return stored.get("before")
        return None


def state_store_for(context: Mapping[str, Any], log: Any = None) -> Any:
    """The running task instance's state store: Airflow's own from 3.3, a Variable-backed one before."""
    store = context.get("task_state_store")
    if store is not None:
        return store
    if has("task_state_store"):  # 3.3+ outside a task run (no store in this context): keep nothing.
        return None
    warn_degraded_once("task_state_store", log)
    return VariableStateStore.for_task_instance(context["ti"])


_warned_no_store = False


def warn_if_reruns_can_resend(store: DeliveryStore, log: Any) -> None:
    """Once per process: without a task state store (Airflow < 3.3) reruns may send again."""
    global _warned_no_store
    if store.available or _warned_no_store:
        return
    _warned_no_store = True
    log.warning(
        "This Airflow has no task state store (added in 3.3): a retry or a cleared task may send "
        "the same MoEngage business event again. Upgrade to Airflow 3.3+ for at-most-once reruns."
    )
