"""An Airflow home of the test session's own (a temp folder, a migrated SQLite DB), so DAG runs under
the ``moengage_sandbox`` fixture never touch the user's real Airflow state.

Migrated once per session (``airflow db migrate`` in a subprocess, seconds); each test that uses the
fixture switches to it (environment + Airflow's ORM, if Airflow is already imported) and back.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MIGRATE_TIMEOUT = 600.0


class IsolatedAirflowHome:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._migrated = False
        self._lock = threading.Lock()

    @property
    def environ(self) -> dict[str, str]:
        return {
            "AIRFLOW_HOME": str(self.path),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.path / 'airflow.db'}",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # The user's DAGs stay where they are: only the home and the DB are the session's own.
            "AIRFLOW__CORE__DAGS_FOLDER": users_dags_folder(),
        }

    def migrate(self) -> None:
        with self._lock:
            if self._migrated:
                return
            env = {**os.environ, **self.environ}
            try:
                result = subprocess.run(
                    [sys.executable, "-m", "airflow", "db", "migrate"],
                    env=env,
                    cwd=self.path,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=MIGRATE_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise RuntimeError(
                    f"moengage_sandbox: 'airflow db migrate' of the isolated home {self.path} did not finish "
                    f"within {MIGRATE_TIMEOUT:.0f} s"
                ) from None
            if result.returncode != 0:
                tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
                raise RuntimeError(
                    f"moengage_sandbox: 'airflow db migrate' of the isolated home {self.path} exited "
                    f"{result.returncode}; set moengage_sandbox_airflow_home = keep to use your own.\n{tail}"
                )
            self._migrated = True

    @contextmanager
    def active(self) -> Iterator[Path]:
        """Point this process (and its children) at the home; restore the previous one afterwards."""
        self.migrate()
        saved = {name: os.environ.get(name) for name in self.environ}
        os.environ.update(self.environ)
        _reconfigure_airflow()
        try:
            yield self.path
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            _reconfigure_airflow()


def users_dags_folder() -> str:
    """The dags folder the user's own settings give (env, then airflow.cfg, then Airflow's default
    ``$AIRFLOW_HOME/dags``), read without importing Airflow."""
    if os.environ.get("AIRFLOW__CORE__DAGS_FOLDER"):
        return os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
    home = Path(os.environ.get("AIRFLOW_HOME") or "~/airflow").expanduser()
    cfg = configparser.ConfigParser(interpolation=None)
    try:
        cfg.read(home / "airflow.cfg", encoding="utf-8")
        configured = cfg.get("core", "dags_folder", fallback="")
    except configparser.Error:
        configured = ""
    if configured.strip():
        return str(Path(configured.strip().replace("{AIRFLOW_HOME}", str(home))).expanduser())
    return str(home / "dags")


def _reconfigure_airflow() -> None:
    """Airflow reads the DB URL when its ORM is configured: re-read it, if Airflow is loaded at all."""
    settings = sys.modules.get("airflow.settings")
    if settings is None or getattr(settings, "engine", None) is None:
        return
    settings.configure_vars()
    settings.reconfigure_orm()
