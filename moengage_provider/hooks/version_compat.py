"""
Which Airflow this is, and what this provider does without the mechanisms older Airflow lacks.

Imports that moved between Airflow 2 and 3 go through ``airflow.providers.common.compat.sdk``, as the
Apache providers do; this module only answers "is the mechanism there?" (the version constants are
computed here, as Apache's ``version_compat.py`` advises, rather than imported from another provider).
:data:`DEGRADATIONS` is the one table of what changes per version; the README's version table says
the same in prose, and :func:`warn_degraded_once` logs the rows that apply, once per process.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple


def _airflow_version() -> tuple[int, int, int]:
    from airflow import __version__
    from packaging.version import Version

    parsed = Version(__version__)
    return parsed.major, parsed.minor, parsed.micro


AIRFLOW_VERSION = _airflow_version()
AIRFLOW_V_3_0_PLUS = AIRFLOW_VERSION >= (3, 0, 0)
AIRFLOW_V_3_2_PLUS = AIRFLOW_VERSION >= (3, 2, 0)
AIRFLOW_V_3_3_PLUS = AIRFLOW_VERSION >= (3, 3, 0)


class Degradation(NamedTuple):
    feature: str
    since: tuple[int, int]
    #: What this provider does instead on an older Airflow (logged once, in the README's table).
    fallback: str


#: Mechanism -> the Airflow that has it -> what happens before that.
DEGRADATIONS: dict[str, Degradation] = {
    "task_state_store": Degradation(
        "task state store",
        (3, 3),
        "the delivery record lives in an Airflow Variable (moengage_provider.delivery.<hash>) instead; "
        "retries and cleared reruns are still de-duplicated, but a user who can edit Variables can "
        "delete the record, and records are not removed with the DAG run",
    ),
    "retry_policy": Degradation(
        "RetryPolicy",
        (3, 3),
        "a rate-limit wait without deferral retries after the task's retry_delay, not when MoEngage's "
        "window reopens: prefer deferrable=True, or a retry_delay of at least the wait",
    ),
    "conn_fields": Degradation(
        "conn-fields in provider info",
        (3, 2),
        "the connection form's Data center and timeout fields come from the hook's "
        "get_connection_form_widgets / get_ui_field_behaviour (on Airflow 2 a text box checked against "
        "the list; on 3.0/3.1 shown only where Flask-AppBuilder and WTForms are installed)",
    ),
}


def has(mechanism: str) -> bool:
    """True when the running Airflow has the mechanism named in :data:`DEGRADATIONS`."""
    return AIRFLOW_VERSION[:2] >= DEGRADATIONS[mechanism].since


_warned: set[str] = set()


def warn_degraded_once(mechanism: str, log: Any = None) -> None:
    """Log, once per process, what this provider does instead of a mechanism this Airflow lacks."""
    if has(mechanism) or mechanism in _warned:
        return
    _warned.add(mechanism)
    row = DEGRADATIONS[mechanism]
    since = ".".join(map(str, row.since))
    version = ".".join(map(str, AIRFLOW_VERSION))
    (log or logging.getLogger(__name__)).warning(
        "Airflow %s has no %s (added in %s): %s. See the README's Versions table.",
        version,
        row.feature,
        since,
        row.fallback,
    )
