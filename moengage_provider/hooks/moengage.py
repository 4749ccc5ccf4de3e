"""
MoEngageHook: an Airflow connection in, MoEngage Business Events API calls out.

The hook knows HTTP and MoEngage's wire format: the base URL (data center or host override), Basic
auth, one reused ``requests`` session built by the HTTP provider's ``HttpHook``, timeouts, the retry
that is safe to do here (nothing was sent), and MoEngage's error bodies turned into our exceptions.
Reading the connection's fields is ``hooks/connection.py``; what each answer means is
``hooks/responses.py`` (by the table in ``api/outcomes.py``).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import requests
from airflow.providers.common.compat.sdk import BaseHook, Connection
from airflow.providers.http.hooks.http import HttpHook

from moengage_provider import __version__
from moengage_provider.api.payload import (
    PreparedTrigger,
    encode_body,
    prepare_trigger,
)
from moengage_provider.exceptions import (
    MoEngageApiError,
    MoEngageClientError,
    MoEngageConfigurationError,
    MoEngageConnectionError,
    MoEngageError,
    invalid_event_fails_the_task,
)
from moengage_provider.hooks.connection import (
    CONN_TYPE,
    MAX_CONNECT_TIMEOUT_SECONDS,
    MoEngageConnectionSettings,
    mask_credentials,
    missing_connection_message,
    resolve_connection,
)
from moengage_provider.hooks.responses import (
    error_for_failure,
    hook_may_resend,
    parse_response,
    rate_limit_headers,
)

if TYPE_CHECKING:
    from requests import Session

    from moengage_provider.api.rate_limits import RateLimitHeaders

TRIGGER_ENDPOINT = "/v1.0/business_event/trigger"
CREATE_ENDPOINT = "/v1.0/business_event"
SEARCH_ENDPOINT = "/v1.0/business_event/search"

__all__ = ["CREATE_ENDPOINT", "SEARCH_ENDPOINT", "TRIGGER_ENDPOINT", "MoEngageHook"]


class _PreparedConnectionHttpHook(HttpHook):
    """``HttpHook`` fed a connection we already resolved, instead of looking one up by ID."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(method="POST", http_conn_id=connection.conn_id)
        self._prepared_connection = connection

    def get_connection(self, conn_id: str) -> Connection:  # type: ignore[override]
        return self._prepared_connection


class MoEngageHook(BaseHook):
    """
    Interact with the MoEngage Business Events API.

    The connection holds the workspace ID (login), the API key (password) and the data center
    (extra ``data_center``: ``01``..``06`` or ``101``). A host, when set, replaces the data center's
    API URL: that is how a proxy or the local sandbox is used.

    :param moengage_conn_id: Airflow connection ID of type ``moengage``.
    :param timeout: Seconds one request may take; overrides the connection's ``timeout`` extra.
    """

    conn_name_attr = "moengage_conn_id"
    default_conn_name = "moengage_default"
    conn_type = CONN_TYPE
    hook_name = "MoEngage"

    #: Attempts for a request MoEngage certainly did not get (refused, DNS, connect timeout, 503).
    max_attempts_not_sent: int = 3
    #: First backoff in seconds between those attempts; doubles each time, with jitter.
    retry_backoff_seconds: float = 0.5
    #: What MoEngage's latest answer said about its rate limit (None: no answer yet, or none came).
    last_rate_limit: RateLimitHeaders | None = None

    def __init__(
        self, moengage_conn_id: str = default_conn_name, *, timeout: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.moengage_conn_id = moengage_conn_id
        self._timeout_override = timeout

    # Airflow before 3.2 builds the connection form from these (3.2+ reads provider info instead).
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        from moengage_provider.hooks.connection_form import connection_form_widgets

        return connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        from moengage_provider.hooks.connection_form import ui_field_behaviour

        return ui_field_behaviour()

    # -- connection ------------------------------------------------------------------------------

    @cached_property
    def settings(self) -> MoEngageConnectionSettings:
        """The connection, checked and resolved; secrets are registered with the masker here."""
        settings = resolve_connection(self._get_moengage_connection(), self._timeout_override)
        mask_credentials(settings.workspace_id, settings.api_key)
        return settings

    def _get_moengage_connection(self) -> Connection:
        from airflow.providers.common.compat.sdk import AirflowNotFoundException

        try:
            return self.get_connection(self.moengage_conn_id)
        except AirflowNotFoundException:
            raise MoEngageConfigurationError(missing_connection_message(self.moengage_conn_id)) from None

    @cached_property
    def session(self) -> Session:
        """One ``requests`` session per hook, built by ``HttpHook`` (auth, proxies, TLS, keep-alive)."""
        settings = self.settings
        transport = Connection(
            conn_id=settings.conn_id,
            conn_type="http",
            host=settings.base_url,
            login=settings.workspace_id,
            password=settings.api_key,
            extra=json.dumps(dict(settings.transport_extra)),
        )
        return _PreparedConnectionHttpHook(transport).get_conn(
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": f"airflow-provider-moengage/{__version__} python-requests/{requests.__version__}",
            }
        )

    def dashboard_url(self) -> str | None:
        """The workspace's MoEngage campaigns page, when the connection names a data center."""
        from moengage_provider.api.data_centers import dashboard_campaigns_url

        data_center = self.settings.data_center
        return dashboard_campaigns_url(data_center) if data_center else None

    def get_conn(self) -> Session:
        """The hook's ``requests`` session."""
        return self.session

    # -- API -------------------------------------------------------------------------------------

    def trigger_business_event(
        self,
        event_name: str,
        event_attributes: Mapping[str, Any],
        triggered_by: str | None = None,
    ) -> dict[str, Any]:
        """
        Fire a business event; campaigns set to it then message the matching users.

        Validates first (nothing is sent for a bad event) and returns MoEngage's parsed answer,
        e.g. ``{"message": "The business event has been triggered"}``.
        """
        with invalid_event_fails_the_task():
            prepared = prepare_trigger(event_name, event_attributes, triggered_by)
        return self.send_prepared_trigger(prepared)

    def send_prepared_trigger(self, prepared: PreparedTrigger) -> dict[str, Any]:
        """
        Send a trigger already validated and encoded by :func:`~moengage_provider.api.payload.prepare_trigger`.

        The operator and the notifier validate once and send the same bytes through here; direct
        callers use :meth:`trigger_business_event`, which validates.
        """
        started = time.monotonic()
        result = self._post_bytes(TRIGGER_ENDPOINT, prepared.data)
        elapsed_ms = (time.monotonic() - started) * 1000
        capacity = self.last_rate_limit.capacity_text() if self.last_rate_limit else None
        self.log.info(
            "MoEngage business event %r triggered on %s (attributes: %s) in %.0f ms%s",
            prepared.body["event_name"],
            self.settings.host,
            ", ".join(prepared.body["event_attributes"]) or "none",
            elapsed_ms,
            f"; {capacity}" if capacity else "",
        )
        return result

    def create_business_event(
        self, event_name: str, attribute_types: Mapping[str, str], created_by: str
    ) -> dict[str, Any]:
        """Declare a business event and its typed attributes (string, int, float, array, date)."""
        body = {
            "event_name": event_name,
            "event_attributes": [
                {"attribute_name": name, "attribute_data_type": kind}
                for name, kind in attribute_types.items()
            ],
            "created_by": created_by,
        }
        return self.post(CREATE_ENDPOINT, body)

    def search_business_events(
        self, *, event_names: Sequence[str] | None = None, event_ids: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Look declared events up by name or ID; returns MoEngage's ``data`` list."""
        body: dict[str, Any] = {}
        if event_names:
            body["event_names"] = list(event_names)
        if event_ids:
            body["event_ids"] = list(event_ids)
        if not body:
            raise ValueError("search_business_events needs event_names or event_ids.")
        answer = self.post(SEARCH_ENDPOINT, body)
        data = answer.get("data", [])
        return data if isinstance(data, list) else []

    def get_business_event(self, event_name: str) -> dict[str, Any] | None:
        """The declared event with this exact name (attributes included), or None if MoEngage has none."""
        for event in self.search_business_events(event_names=[event_name]):
            if event.get("event_name") == event_name:
                return event
        return None

    def test_connection(self) -> tuple[bool, str]:
        """
        Check credentials and data center with a read-only search; nothing is created or triggered.

        Used by ``airflow connections test`` and the UI's Test button.
        """
        try:
            settings = self.settings
            self.search_business_events(event_names=["airflow-connection-test"])
        except MoEngageConfigurationError as err:
            return False, str(err)
        except MoEngageClientError as err:
            return False, _explain_auth_failure(err, self.settings)
        except MoEngageConnectionError as err:
            return False, f"{err} Check the data center (or host) of the connection."
        except MoEngageApiError as err:
            return False, str(err)
        where = settings.base_url if settings.host_override else f"data center {settings.data_center}"
        return (
            True,
            f"Connected to MoEngage workspace {settings.workspace_id} at {where}: credentials accepted.",
        )

    # -- HTTP ------------------------------------------------------------------------------------

    def post(self, endpoint: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """
        POST a JSON body and return the parsed JSON answer, or raise one of our exceptions.

        Every error carries its ``outcome`` from :mod:`moengage_provider.api.outcomes`; the hook resends
        within the call only where that table says nothing was delivered and the cause may pass
        (refused, DNS, connect timeout, 503...). Anything else is raised at once so that Airflow
        decides, and the operator can record it.
        """
        return self._post_bytes(endpoint, encode_body(body))

    def _post_bytes(self, endpoint: str, data: bytes) -> dict[str, Any]:
        settings = self.settings
        session = self.session
        url = settings.base_url + endpoint
        connect_timeout = min(settings.timeout, MAX_CONNECT_TIMEOUT_SECONDS)
        timeout = (connect_timeout, settings.timeout)
        attempts = max(1, self.max_attempts_not_sent)
        attempt = 1
        while True:
            self.last_rate_limit = None
            try:
                try:
                    # A redirected POST must not be re-sent elsewhere: redirects are not followed.
                    response = session.post(url, data=data, timeout=timeout, allow_redirects=False)
                except Exception as err:  # requests, urllib3 or the OS: classified, never passed on raw
                    raise error_for_failure(
                        err,
                        endpoint=endpoint,
                        host=settings.host,
                        connect_timeout=connect_timeout,
                        read_timeout=settings.timeout,
                    ) from None
                self.last_rate_limit = rate_limit_headers(response)
                return parse_response(response, endpoint, self.last_rate_limit)
            except MoEngageError as err:
                if attempt >= attempts or not hook_may_resend(err):
                    raise
                self._wait_before_retry(attempt, attempts, str(err))
                attempt += 1

    def _wait_before_retry(self, attempt: int, attempts: int, reason: str) -> None:
        delay = self.retry_backoff_seconds * (2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
        self.log.warning(
            "MoEngage did not take the request (attempt %d of %d, nothing was delivered): %s "
            "Retrying in %.1f s.",
            attempt,
            attempts,
            reason,
            delay,
        )
        time.sleep(delay)


def _explain_auth_failure(err: MoEngageClientError, settings: MoEngageConnectionSettings) -> str:
    """Tell wrong key, wrong workspace and wrong data center apart where MoEngage's answer allows."""
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
