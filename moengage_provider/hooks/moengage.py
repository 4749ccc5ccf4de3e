"""
MoEngageHook: an Airflow connection in, MoEngage Business Events API calls out.

The hook knows HTTP and MoEngage's wire format: the base URL (data center or host override), Basic
auth, one reused ``requests`` session built by the HTTP provider's ``HttpHook``, timeouts, the retry
that is safe to do here (nothing was sent), and MoEngage's error bodies turned into our exceptions.
"""

from __future__ import annotations

import base64
import json
import random
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk import Connection

try:
    from airflow.sdk import BaseHook
except ImportError:  # Airflow 3.0: the task SDK does not export BaseHook yet.
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined]

from moengage_provider import __version__
from moengage_provider.data_centers import (
    InvalidDataCenterError,
    api_base_url,
    normalize_data_center,
    valid_data_centers_text,
)
from moengage_provider.exceptions import (
    MoEngageApiError,
    MoEngageClientError,
    MoEngageConfigurationError,
    MoEngageConnectionError,
    MoEngageError,
    MoEngageValidationError,
)
from moengage_provider.hooks.wire import error_for_failure, hook_may_resend, parse_response
from moengage_provider.payload import InvalidBusinessEventError, PreparedTrigger, encode_body, prepare_trigger

if TYPE_CHECKING:
    from requests import Session

TRIGGER_ENDPOINT = "/v1.0/business_event/trigger"
CREATE_ENDPOINT = "/v1.0/business_event"
SEARCH_ENDPOINT = "/v1.0/business_event/search"

DEFAULT_TIMEOUT_SECONDS = 30.0
#: Connecting never needs long; a dead host should fail fast even with a generous read timeout.
MAX_CONNECT_TIMEOUT_SECONDS = 10.0

# Connection extras the HTTP provider understands as transport settings; everything else in the extra
# is ours (data_center, timeout) and must not become an HTTP header.
_TRANSPORT_EXTRAS = ("proxies", "proxy", "verify", "verify_ssl", "cert", "trust_env", "max_redirects")


@dataclass(frozen=True)
class MoEngageConnectionSettings:
    """What a MoEngage connection resolves to. The API key is kept out of ``repr``."""

    conn_id: str
    base_url: str
    workspace_id: str
    api_key: str = field(repr=False)
    timeout: float
    data_center: str | None
    #: True when the connection's host replaces the data center's API URL (a proxy or the sandbox).
    host_override: bool = False
    transport_extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def host(self) -> str:
        """The host (and port) requests go to, for log lines."""
        return urlsplit(self.base_url).netloc


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
    conn_type = "moengage"
    hook_name = "MoEngage"

    #: Attempts for a request MoEngage certainly did not get (refused, DNS, connect timeout, 503).
    max_attempts_not_sent: int = 3
    #: First backoff in seconds between those attempts; doubles each time, with jitter.
    retry_backoff_seconds: float = 0.5

    def __init__(
        self, moengage_conn_id: str = default_conn_name, *, timeout: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.moengage_conn_id = moengage_conn_id
        self._timeout_override = timeout

    # -- connection ------------------------------------------------------------------------------

    @cached_property
    def settings(self) -> MoEngageConnectionSettings:
        """The connection, checked and resolved; secrets are registered with the masker here."""
        settings = resolve_connection(self._get_moengage_connection(), self._timeout_override)
        _mask_credentials(settings.workspace_id, settings.api_key)
        return settings

    def _get_moengage_connection(self) -> Connection:
        from airflow.exceptions import AirflowNotFoundException

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
        from moengage_provider.data_centers import dashboard_campaigns_url

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
        try:
            prepared = prepare_trigger(event_name, event_attributes, triggered_by)
        except InvalidBusinessEventError as err:
            raise MoEngageValidationError(err.field, err.problem) from None
        return self.send_prepared_trigger(prepared)

    def send_prepared_trigger(self, prepared: PreparedTrigger) -> dict[str, Any]:
        """
        Send a trigger already validated and encoded by :func:`~moengage_provider.payload.prepare_trigger`.

        The operator and the notifier validate once and send the same bytes through here; direct
        callers use :meth:`trigger_business_event`, which validates.
        """
        started = time.monotonic()
        result = self._post_bytes(TRIGGER_ENDPOINT, prepared.data)
        elapsed_ms = (time.monotonic() - started) * 1000
        self.log.info(
            "MoEngage business event %r triggered on %s (attributes: %s) in %.0f ms",
            prepared.body["event_name"],
            self.settings.host,
            ", ".join(prepared.body["event_attributes"]) or "none",
            elapsed_ms,
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

        Every error carries its ``outcome`` from :mod:`moengage_provider.outcomes`; the hook resends
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
            try:
                try:
                    response = session.post(url, data=data, timeout=timeout, allow_redirects=False)
                except Exception as err:  # requests, urllib3 or the OS: classified, never passed on raw
                    raise error_for_failure(
                        err,
                        endpoint=endpoint,
                        host=settings.host,
                        connect_timeout=connect_timeout,
                        read_timeout=settings.timeout,
                    ) from None
                return parse_response(response, endpoint)
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


# -- connection resolution -----------------------------------------------------------------------


def resolve_connection(conn: Connection, timeout_override: float | None = None) -> MoEngageConnectionSettings:
    """Check a ``moengage`` connection and resolve base URL, credentials and timeout, with clear errors."""
    where = f"MoEngage connection {conn.conn_id!r}"
    extra = _connection_extra(conn, where)
    workspace_id = (conn.login or "").strip()
    api_key = (conn.password or "").strip()
    if not workspace_id:
        raise MoEngageConfigurationError(
            f"{where}: the Workspace ID (login) is empty. Set it to the workspace ID shown in MoEngage "
            "under Settings > Account > APIs."
        )
    if not api_key:
        raise MoEngageConfigurationError(
            f"{where}: the API Key (password) is empty. Set it to the key from the 'Campaign report/"
            "Business events/Custom templates/Catalog API/Inform Report' tile (not the Data API key)."
        )
    raw_dc = extra.get("data_center", extra.get(f"extra__{MoEngageHook.conn_type}__data_center"))
    data_center: str | None = None
    if raw_dc not in (None, ""):
        try:
            data_center = normalize_data_center(raw_dc)
        except InvalidDataCenterError as err:
            raise MoEngageConfigurationError(f"{where}: {err}") from None
    if conn.host:
        base_url = _base_url_from_host(conn, where)
    elif data_center:
        base_url = api_base_url(data_center)
    else:
        raise MoEngageConfigurationError(
            f"{where}: set the data center (extra 'data_center', one of {valid_data_centers_text()}) "
            "or a host (for a proxy or the local sandbox)."
        )
    timeout = _timeout(timeout_override if timeout_override is not None else extra.get("timeout"), where)
    transport_extra = {key: extra[key] for key in _TRANSPORT_EXTRAS if key in extra}
    return MoEngageConnectionSettings(
        conn_id=conn.conn_id,
        base_url=base_url,
        workspace_id=workspace_id,
        api_key=api_key,
        timeout=timeout,
        data_center=data_center,
        host_override=bool(conn.host),
        transport_extra=transport_extra,
    )


def _connection_extra(conn: Connection, where: str) -> dict[str, Any]:
    raw = conn.extra
    if not raw:
        return {}
    try:
        extra = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except ValueError:
        raise MoEngageConfigurationError(
            f'{where}: the Extra field is not valid JSON; use e.g. {{"data_center": "01"}}.'
        ) from None
    if not isinstance(extra, dict):
        raise MoEngageConfigurationError(f"{where}: the Extra field must be a JSON object.")
    return extra


def _base_url_from_host(conn: Connection, where: str) -> str:
    host = (conn.host or "").strip()
    if "://" not in host:
        scheme = (conn.schema or "https").strip().lower()
        host = f"{scheme}://{host}"
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in host:
        raise MoEngageConfigurationError(
            f"{where}: host {conn.host!r} is not a usable base URL; use e.g. 'https://proxy.example.com' "
            "or '127.0.0.1' with the schema 'http' (leave the host empty to use the data center)."
        )
    netloc = parts.netloc
    if conn.port and parts.port is None:
        netloc = f"{netloc}:{conn.port}"
    path = re.sub(r"/v1\.0/?$", "", parts.path.rstrip("/"))
    return f"{parts.scheme}://{netloc}{path}"


def _timeout(value: Any, where: str) -> float:
    if value in (None, ""):
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if isinstance(value, bool) or not 0 < seconds <= 600:
        raise MoEngageConfigurationError(
            f"{where}: timeout {value!r} must be a number of seconds between 0 and 600 (default "
            f"{DEFAULT_TIMEOUT_SECONDS:g})."
        )
    return seconds


def _mask_credentials(workspace_id: str, api_key: str) -> None:
    """Register the key and both forms of the Authorization value with Airflow's secret masker."""
    from airflow.sdk.log import mask_secret

    pair = f"{workspace_id}:{api_key}"
    mask_secret(api_key)
    mask_secret(pair)
    mask_secret(base64.b64encode(pair.encode("utf-8")).decode("ascii"))


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
            from moengage_provider.data_centers import DATA_CENTERS

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


def missing_connection_message(conn_id: str) -> str:
    """What an on-call engineer needs when the connection does not exist: its ID and three ways to add it."""
    env = f"AIRFLOW_CONN_{conn_id.upper()}"
    return (
        f"The MoEngage connection {conn_id!r} does not exist. Create it (retrying cannot): in the UI under "
        f"Admin > Connections, type 'MoEngage', ID {conn_id!r}; or as an environment variable, JSON form: "
        f'{env}=\'{{"conn_type": "moengage", "login": "YOUR_WORKSPACE_ID", "password": '
        f'"YOUR_API_KEY", "extra": {{"data_center": "01"}}}}\'; or URI form: '
        f"{env}='moengage://YOUR_WORKSPACE_ID:YOUR_API_KEY@?data_center=01'. Or set moengage_conn_id to "
        "an existing connection."
    )
