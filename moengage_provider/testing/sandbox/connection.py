"""The one place that builds the Airflow connection for a sandbox: JSON, URI, environment variable."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote


@dataclass(frozen=True)
class SandboxConnection:
    host: str
    port: int
    login: str
    password: str
    conn_type: str = "moengage"
    schema: str = "http"
    #: The connection's extra ``api_version`` (None: unset, the provider's default, v1.0).
    api_version: str | None = None

    def as_dict(self) -> dict[str, Any]:
        conn: dict[str, Any] = {
            "conn_type": self.conn_type,
            "host": self.host,
            "port": self.port,
            "schema": self.schema,
            "login": self.login,
            "password": self.password,
        }
        if self.api_version is not None:
            conn["extra"] = {"api_version": self.api_version}
        return conn

    def json(self) -> str:
        """For ``AIRFLOW_CONN_<ID>``: Airflow reads a JSON connection from an environment variable."""
        return json.dumps(self.as_dict())

    def uri(self) -> str:
        """For ``airflow connections add --conn-uri``; the schema (``http``) is the URI's path."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        login, password = quote(self.login, safe=""), quote(self.password, safe="")
        query = "" if self.api_version is None else f"?api_version={quote(self.api_version, safe='')}"
        return f"{self.conn_type}://{login}:{password}@{host}:{self.port}/{self.schema}{query}"

    def env(self, conn_id: str = "moengage_default") -> dict[str, str]:
        """``{"AIRFLOW_CONN_<CONN_ID>": json}``, to merge into a child's environment."""
        return {env_var_name(conn_id): self.json()}


def env_var_name(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"
