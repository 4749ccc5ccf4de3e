"""
A ``moengage`` Airflow connection, checked and resolved: base URL (data center or host override),
credentials, timeout and the transport extras handed to ``HttpHook``, with errors naming the field.

Kept apart from the hook so the rules for a connection's fields are read in one place; the hook
re-exports these names (``from moengage_provider.hooks.moengage import resolve_connection`` works).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from moengage_provider.api.data_centers import (
    InvalidDataCenterError,
    api_base_url,
    normalize_data_center,
    valid_data_centers_text,
)
from moengage_provider.api.versions import LEGACY, ApiVersion, InvalidApiVersionError, api_version
from moengage_provider.exceptions import MoEngageConfigurationError

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Connection

#: The Airflow connection type this provider registers.
CONN_TYPE = "moengage"
DEFAULT_TIMEOUT_SECONDS = 30.0
#: Connecting never needs long; a dead host should fail fast even with a generous read timeout.
MAX_CONNECT_TIMEOUT_SECONDS = 10.0

# Connection extras the HTTP provider understands as transport settings; everything else in the extra
# is ours (data_center, timeout, api_version) and must not become an HTTP header.
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
    #: The Business Events API the connection chose (extra ``api_version``; v1.0 when unset).
    api: ApiVersion = LEGACY

    @cached_property
    def host(self) -> str:
        """The host (and port) requests go to, for log lines."""
        return urlsplit(self.base_url).netloc


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
    raw_dc = extra.get("data_center", extra.get(f"extra__{CONN_TYPE}__data_center"))
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
    try:
        api = api_version(extra.get("api_version", extra.get(f"extra__{CONN_TYPE}__api_version")))
    except InvalidApiVersionError as err:
        raise MoEngageConfigurationError(f"{where}: {err}") from None
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
        api=api,
    )


def _connection_extra(conn: Connection, where: str) -> dict[str, Any]:
    raw = conn.extra
    if not raw:
        return {}
    try:
        extra = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except ValueError:
        raise MoEngageConfigurationError(
            f'{where}: the Extra field is not valid JSON; use e.g. {{"data_center": "DC-01"}}.'
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


def mask_credentials(workspace_id: str, api_key: str) -> None:
    """Register the key and both forms of the Authorization value with Airflow's secret masker."""
    from airflow.providers.common.compat.sdk import mask_secret

    pair = f"{workspace_id}:{api_key}"
    mask_secret(api_key)
    mask_secret(pair)
    mask_secret(base64.b64encode(pair.encode("utf-8")).decode("ascii"))


def missing_connection_message(conn_id: str) -> str:
    """What an on-call engineer needs when the connection does not exist: its ID and three ways to add it."""
    env = f"AIRFLOW_CONN_{conn_id.upper()}"
    return (
        f"The MoEngage connection {conn_id!r} does not exist. Create it (retrying cannot): in the UI under "
        f"Admin > Connections, type 'MoEngage', ID {conn_id!r}; or as an environment variable, JSON form: "
        f'{env}=\'{{"conn_type": "moengage", "login": "YOUR_WORKSPACE_ID", "password": '
        f'"YOUR_API_KEY", "extra": {{"data_center": "DC-01"}}}}\'; or URI form: '
        f"{env}='moengage://YOUR_WORKSPACE_ID:YOUR_API_KEY@?data_center=DC-01'. Or set moengage_conn_id to "
        "an existing connection."
    )
