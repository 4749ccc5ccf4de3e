"""What each task's last failed try raised, as Airflow reports it to its listeners.

``run_dag`` puts these in ``DagRunFailed``: a test that fails should say *why* the task failed (the
validation error, the missing connection, MoEngage's answer), not leave it in captured stdout.

Airflow hands every failed try's error to the ``on_task_instance_failed`` listener hook, on 2.11 (the
task instance's ``handle_failure``) and 3.x (the task runner's ``finalize``) alike. Recent Airflow 3
releases have two listener managers (the task SDK's, which the task runner calls, and core's), older
ones only core's: the recorder joins every one there is, for the length of a run only. Imported when a DAG is run (it
imports Airflow).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from airflow.listeners import hookimpl

#: Listener managers by module, newest first: a recorder joins each one this Airflow has.
_LISTENER_MANAGERS = ("airflow.sdk.listener", "airflow.listeners.listener")
#: An error longer than this is cut (a traceback in a message, a huge response body).
MAX_ERROR_CHARS = 2000


def task_key(task_id: str, map_index: int | None) -> str:
    """``task_id``, or ``task_id[map_index]`` for a mapped task instance."""
    return task_id if map_index is None or map_index < 0 else f"{task_id}[{map_index}]"


def describe_error(error: BaseException | str | None) -> str:
    """``ExceptionType: message`` (its first cause too, when the message alone does not say it)."""
    if error is None:
        return "no error was reported"
    if isinstance(error, str):
        text = error
    else:
        text = f"{type(error).__name__}: {error}".rstrip(": ")
        cause = error.__cause__
        if cause is not None and str(cause) and str(cause) not in text:
            text += f" (caused by {type(cause).__name__}: {cause})"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


class TaskErrorRecorder:
    """A listener keeping the last error of each task instance (``task_id`` or ``task_id[i]``)."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    @hookimpl
    def on_task_instance_failed(self, task_instance: Any, error: BaseException | str | None) -> None:
        key = task_key(task_instance.task_id, getattr(task_instance, "map_index", None))
        self.errors[key] = describe_error(error)


@contextmanager
def recording_task_errors() -> Iterator[TaskErrorRecorder]:
    """Listen for failed tries while the block runs (a ``dag.test()``); stop listening afterwards."""
    recorder = TaskErrorRecorder()
    with ExitStack() as stack:
        for module_name in _LISTENER_MANAGERS:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            manager = module.get_listener_manager()
            if manager.pm.is_registered(recorder):  # one manager under two names
                continue
            manager.add_listener(recorder)
            stack.callback(manager.pm.unregister, recorder)
        yield recorder
