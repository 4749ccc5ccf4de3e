"""The operator's extra link: the workspace's MoEngage campaigns page, for the right data center."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.providers.common.compat.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey


class MoEngageDashboardLink(BaseOperatorLink):
    """
    "MoEngage campaigns" button on the task: where to check that the event's campaigns went out.

    Computed in the worker after the task runs (Airflow stores it with the task instance), from the
    connection's data center; empty when the connection only has a host (proxy or sandbox).
    """

    name = "MoEngage campaigns"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        hook = getattr(operator, "hook", None)
        if hook is None:
            return ""
        try:
            return hook.dashboard_url() or ""
        except Exception:  # a broken connection already failed the task with a clear error
            return ""
