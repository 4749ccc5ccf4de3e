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
from moengage_provider.api.payload import PreparedTrigger, encode_body, prepare_trigger
from moengage_provider.api.versions import (
    LEGACY,
    ApiVersion,
    DeclaredEvent,
    TriggerAnswer,
    api_of_path,
    api_version,
    new_request_id,
)
from moengage_provider.exceptions import (
    MoEngageConfigurationError,
    MoEngageError,
    MoEngageNoActiveCampaignError,
    MoEngageQuotaExhaustedError,
    invalid_event_fails_the_task,
    mention_request_id,
)
from moengage_provider.hooks.connection import (
    CONN_TYPE,
    MAX_CONNECT_TIMEOUT_SECONDS,
    MoEngageConnectionSettings,
    mask_credentials,
    missing_connection_message,
    resolve_connection,
)
from moengage_provider.hooks.lookups import look_up
from moengage_provider.hooks.responses import (
    error_for_failure,
    hook_may_resend,
    parse_response,
    rate_limit_headers,
    refuse_undelivered,
)

if TYPE_CHECKING:
    from requests import Session

    from moengage_provider.api.rate_limits import RateLimitHeaders

#: The legacy API's paths (``api/versions.py`` has every version's).
TRIGGER_ENDPOINT = LEGACY.trigger_path
CREATE_ENDPOINT = LEGACY.create_path
SEARCH_ENDPOINT = LEGACY.search_path

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

    @property
    def api(self) -> ApiVersion:
        """The Business Events API the connection chose (extra ``api_version``: v1.0 or v5)."""
        return self.settings.api

    def prepare_trigger(
        self, event_name: object, event_attributes: object, triggered_by: object = None
    ) -> PreparedTrigger:
        """Validate and encode a trigger for the connection's API (raises ``InvalidBusinessEventError``)."""
        return prepare_trigger(event_name, event_attributes, triggered_by, rules=self.api.payload)

    def trigger_business_event(
        self,
        event_name: str,
        event_attributes: Mapping[str, Any],
        triggered_by: str | None = None,
    ) -> dict[str, Any]:
        """
        Fire a business event; campaigns set to it then message the matching users.

        Validates first (nothing is sent for a bad event) and returns MoEngage's parsed answer,
        e.g. ``{"message": "The business event has been triggered"}`` (V5: its envelope, whose
        ``data.triggered_status`` says whether the campaigns went out).
        """
        with invalid_event_fails_the_task():
            prepared = self.prepare_trigger(event_name, event_attributes, triggered_by)
        return self.send_prepared_trigger(prepared)

    def send_prepared_trigger(
        self, prepared: PreparedTrigger, *, request_id: str | None = None
    ) -> dict[str, Any]:
        """
        Send a trigger already validated and encoded by :meth:`prepare_trigger`.

        The operator and the notifier validate once and send the same bytes through here; direct
        callers use :meth:`trigger_business_event`, which validates. ``request_id``: under V5, the
        ``X-MOE-Request-Id`` of this delivery (the operator passes the same one on every try); a new
        one when not given.
        """
        api = self.api
        request_id = (request_id or new_request_id()) if api.sends_request_id else None
        started = time.monotonic()
        try:
            answer = self._request("POST", api.trigger_path, data=prepared.data, request_id=request_id)
            read = api.read_trigger(answer)
            self._count_campaigns(prepared.event_name, read)
            refuse_undelivered(read, api.trigger_path)
        except MoEngageError as err:
            mention_request_id(err, request_id)
            if isinstance(err, MoEngageQuotaExhaustedError):  # the wait that follows speaks of rate limits
                self.log.warning("%s", err)
            if isinstance(err, MoEngageNoActiveCampaignError) and self.dashboard_url():
                err.add_context(f"The workspace's campaigns: {self.dashboard_url()}")
            raise
        capacity = self.last_rate_limit.capacity_text() if self.last_rate_limit else None
        self.log.info(
            "MoEngage business event %r triggered on %s (attributes: %s) in %.0f ms%s%s",
            prepared.event_name,
            self.settings.host,
            ", ".join(prepared.body["event_attributes"]) or "none",
            (time.monotonic() - started) * 1000,
            _campaigns_said(read, request_id) if api.sends_request_id else "",
            f"; {capacity}" if capacity else "",
        )
        if read.triggered_status == "PARTIAL_SUCCESS":
            self.log.warning(
                "MoEngage business event %r reached only some of its campaigns and flows (%s); skipped by "
                "quota: %s. The event was delivered and will not be sent again (that would message the "
                "audiences it reached twice).",
                prepared.event_name,
                read.counts(),
                read.skipped(),
            )
        elif api.sends_request_id and read.answer is None:
            self.log.warning(
                "MoEngage answered %s without a triggered_status this provider knows (%r); taken as "
                "delivered. Check the event's campaigns in MoEngage.",
                api.trigger_path,
                read.triggered_status,
            )
        return answer

    def _count_campaigns(self, event_name: str, read: TriggerAnswer) -> None:
        """V5's ``summary``: campaigns and flows triggered and skipped by quota, as metrics."""
        if read.summary:
            from moengage_provider.observability import metrics

            metrics.campaigns(event_name, self.settings.data_center, read.summary)

    def create_business_event(
        self, event_name: str, attribute_types: Mapping[str, str], created_by: str
    ) -> dict[str, Any]:
        """Declare a business event and its typed attributes (string, int, float, array, date).

        Always through the legacy API (``POST /v1.0/business_event``), whatever the connection's
        ``api_version``: creating an event has not moved to V5."""
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
        self,
        *,
        event_names: Sequence[str] | None = None,
        event_ids: Sequence[str] | None = None,
        api_version: str | None = None,
    ) -> list[dict[str, Any]]:
        """Look declared events up by name or ID; returns MoEngage's ``data`` list (every page of it).

        Through the connection's API unless ``api_version`` names another; V5 answers in its own
        shape (``name``, ``attributes``, ``trigger_count``...)."""
        names, ids = list(event_names or []), list(event_ids or [])
        if not names and not ids:
            raise ValueError("search_business_events needs event_names or event_ids.")
        return look_up(self._request, self._api_named(api_version), names=names, ids=ids)

    def get_business_event(self, event_name: str, *, api_version: str | None = None) -> dict[str, Any] | None:
        """The declared event with this exact name (attributes included), or None if MoEngage has none."""
        api = self._api_named(api_version)
        for event in look_up(self._request, api, names=[event_name]):
            if api.declared_event(event).name == event_name:
                return event
        return None

    def find_business_event(self, event_name: str) -> DeclaredEvent | None:
        """The event as the connection's API declares it (attribute types, counters), or None."""
        event = self.get_business_event(event_name)
        return None if event is None else self.api.declared_event(event)

    def _api_named(self, name: str | None) -> ApiVersion:
        return self.api if name is None else api_version(name)

    def test_connection(self) -> tuple[bool, str]:
        """
        Check credentials and data center with a read-only look-up through the connection's API;
        nothing is created or triggered. Used by ``airflow connections test`` and the UI's Test button.
        """
        from moengage_provider.hooks.connection_check import check_connection

        return check_connection(self)

    # -- HTTP ------------------------------------------------------------------------------------

    def post(self, endpoint: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST a JSON body and return the parsed JSON answer, or raise one of our exceptions.

        Every error carries its ``outcome`` from :mod:`moengage_provider.api.outcomes`; the hook resends
        within the call only where that table says nothing was delivered and the cause may pass
        (refused, DNS, connect timeout, 503...). Anything else is raised at once so that Airflow
        decides, and the operator can record it. The path says which API version answers.
        """
        return self._request("POST", endpoint, data=encode_body(body))

    def _request(
        self,
        method: str,
        endpoint: str,
        *,
        data: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """One request, resent only where the table allows; V5 requests carry ``X-MOE-Request-Id``
        (``request_id``, else a new one), and every error names it."""
        settings, session, api = self.settings, self.session, api_of_path(endpoint)
        request_id = (request_id or new_request_id()) if api.sends_request_id else None
        headers = api.request_headers(request_id)
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
                    response = session.request(
                        method, url, data=data, params=params, headers=headers, timeout=timeout,
                        allow_redirects=False,
                    )  # fmt: skip
                except Exception as err:  # requests, urllib3 or the OS: classified, never passed on raw
                    raise error_for_failure(
                        err,
                        endpoint=endpoint,
                        host=settings.host,
                        connect_timeout=connect_timeout,
                        read_timeout=settings.timeout,
                        method=method,
                    ) from None
                self.last_rate_limit = rate_limit_headers(response)
                return parse_response(response, endpoint, api, method, self.last_rate_limit)
            except MoEngageError as err:
                if attempt >= attempts or not hook_may_resend(err):
                    mention_request_id(err, request_id)
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


def _campaigns_said(read: TriggerAnswer, request_id: str | None) -> str:
    """The end of V5's log line: what came of the campaigns, and the request's ID."""
    return (
        f": {read.triggered_status or 'no triggered_status'}, {read.counts()} (X-MOE-Request-Id {request_id})"
    )
