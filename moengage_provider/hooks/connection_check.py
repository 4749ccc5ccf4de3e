"""
The connection test (``airflow connections test``, the UI's Test button): one read-only look-up
through the connection's API, and a message that tells a wrong key, an unknown workspace (often: the
wrong data center) and an unreachable host apart where MoEngage's answer allows.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

from moengage_provider.api.versions import LEGACY
from moengage_provider.exceptions import (
    MoEngageApiError,
    MoEngageClientError,
    MoEngageConfigurationError,
    MoEngageConnectionError,
)

if TYPE_CHECKING:
    from moengage_provider.hooks.connection import MoEngageConnectionSettings

#: The name looked up: nothing is created or triggered, and no trigger limit is counted.
PROBE_EVENT = "airflow-connection-test"


class _Hook(Protocol):
    """What the test needs of ``MoEngageHook``."""

    @property
    def settings(self) -> MoEngageConnectionSettings: ...

    def search_business_events(self, *, event_names: list[str]) -> list[dict[str, Any]]: ...


def check_connection(hook: _Hook) -> tuple[bool, str]:
    """``(ok, message)`` for the hook's connection."""
    try:
        settings = hook.settings
        hook.search_business_events(event_names=[PROBE_EVENT])
    except MoEngageConfigurationError as err:
        return False, str(err)
    except MoEngageClientError as err:
        return False, _explain_auth_failure(err, hook.settings)
    except MoEngageConnectionError as err:
        return False, f"{err} Check the data center (or host) of the connection."
    except MoEngageApiError as err:
        return False, str(err)
    where = settings.base_url if settings.host_override else f"data center {settings.data_center}"
    through = "" if settings.api is LEGACY else f" through {settings.api.title}"
    return (
        True,
        f"Connected to MoEngage workspace {settings.workspace_id} at {where}{through}: credentials accepted.",
    )


def _explain_auth_failure(err: MoEngageClientError, settings: MoEngageConnectionSettings) -> str:
    """Tell wrong key, wrong workspace and wrong data center apart where MoEngage's answer allows
    (the legacy API's 401s name which; V5's do not, and its message says what to check)."""
    details = json.dumps(err.details or "", default=str)
    if err.status == 401 and "APP_SECRET_KEY" in details:
        return (
            f"MoEngage rejected the API Key for workspace {settings.workspace_id}{_request_id(err)}. Use the key from the 'Campaign report/Business events/...' tile, "
            "not the Data API key."
        )
    if err.status == 401 and "APP_ID" in details:
        where = settings.host
        if settings.data_center and not settings.host_override:
            from moengage_provider.api.data_centers import DATA_CENTERS

            where = (
                f"data center {settings.data_center} ({DATA_CENTERS[settings.data_center]}, {settings.host})"
            )
        return (
            f"MoEngage does not know workspace {settings.workspace_id!r} in {where}{_request_id(err)}. "
            "Check the Workspace ID and that the data center matches your dashboard URL."
        )
    return str(err)


def _request_id(err: MoEngageApiError) -> str:
    """`` (request_id=...)`` when MoEngage sent one; nothing when it did not."""
    return f" (request_id={err.request_id})" if err.request_id else ""
