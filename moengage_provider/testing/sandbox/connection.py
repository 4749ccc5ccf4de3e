"""The one place that builds the Airflow connection for a sandbox: JSON, URI, environment variables."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlencode


@dataclass(frozen=True)
class SandboxConnection:
    host: str
    port: int
    login: str
    password: str
    conn_type: str = "moengage"
    schema: str = "http"
    #: the connection's extras (e.g. ``{"api_version": "v5"}``); none by default
    extra: Mapping[str, Any] | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "conn_type": self.conn_type,
            "host": self.host,
            "port": self.port,
            "schema": self.schema,
            "login": self.login,
            "password": self.password,
        }
        if self.extra:
            fields["extra"] = dict(self.extra)
        return fields

    def json(self) -> str:
        """For ``AIRFLOW_CONN_<ID>``: Airflow reads a JSON connection from an environment variable."""
        return json.dumps(self.as_dict())

    def uri(self) -> str:
        """For ``airflow connections add --conn-uri``; the schema (``http``) is the URI's path."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        login, password = quote(self.login, safe=""), quote(self.password, safe="")
        query = f"?{urlencode(dict(self.extra))}" if self.extra else ""
        return f"{self.conn_type}://{login}:{password}@{host}:{self.port}/{self.schema}{query}"

    def env(self, conn_id: str = "moengage_default") -> dict[str, str]:
        """``AIRFLOW_CONN_<CONN_ID>`` (the JSON form), and ``NO_PROXY`` / ``no_proxy`` with the sandbox's
        host added (see :func:`no_proxy_env`): to merge into a child's environment, or ours."""
        return {env_var_name(conn_id): self.json(), **no_proxy_env(self.host)}


class _Addressed(Protocol):
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def workspace_id(self) -> str: ...
    @property
    def api_key(self) -> str: ...


class AirflowConnectionOf:
    """The Airflow connection of a sandbox, in-process or spawned: both give a test the same two methods."""

    def airflow_connection(
        self: _Addressed,
        conn_type: str = "moengage",
        *,
        extra: Mapping[str, Any] | None = None,
        api_version: str | None = None,
    ) -> SandboxConnection:
        """The Airflow connection for this sandbox; ``extra`` e.g. ``{"api_version": "v5"}``, or
        ``api_version`` alone (the same extra)."""
        return connection_to(self, conn_type, extra=extra, api_version=api_version)

    def airflow_conn_json(
        self: _Addressed,
        conn_type: str = "moengage",
        *,
        extra: Mapping[str, Any] | None = None,
        api_version: str | None = None,
    ) -> str:
        """The JSON form of an Airflow connection pointing at this sandbox (for AIRFLOW_CONN_...)."""
        return connection_to(self, conn_type, extra=extra, api_version=api_version).json()


def connection_to(
    sandbox: _Addressed,
    conn_type: str = "moengage",
    *,
    extra: Mapping[str, Any] | None = None,
    api_version: str | None = None,
) -> SandboxConnection:
    extra = with_api_version(extra, api_version)
    return SandboxConnection(
        sandbox.host, sandbox.port, sandbox.workspace_id, sandbox.api_key, conn_type, extra=extra
    )


def env_var_name(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def no_proxy_env(host: str, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``NO_PROXY`` and ``no_proxy``: what ``environ`` has in either, plus ``host`` and ``localhost``.

    Corporate shells set ``HTTPS_PROXY`` / ``HTTP_PROXY``, and ``requests`` (so Airflow's HTTP hook)
    sends every request through them unless ``NO_PROXY`` names the host: a proxy cannot reach the
    sandbox on this machine's loopback, so requests to it must bypass it. Both spellings get the same
    value, since ``requests`` reads the lower-case one first.
    """
    entries: list[str] = []
    for raw in (environ.get("no_proxy", ""), environ.get("NO_PROXY", ""), host, "localhost"):
        for entry in raw.split(","):
            if entry.strip() and entry.strip() not in entries:
                entries.append(entry.strip())
    value = ",".join(entries)
    return {"NO_PROXY": value, "no_proxy": value}


def with_api_version(extra: Mapping[str, Any] | None, api_version: str | None) -> Mapping[str, Any] | None:
    """``extra`` with ``api_version`` set when one is given (the provider's connection extra)."""
    if api_version is None:
        return extra
    return {**(extra or {}), "api_version": api_version}
