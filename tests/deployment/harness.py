"""
A real Airflow deployment for tests: api-server, scheduler, dag-processor and triggerer as separate
processes (LocalExecutor, or CeleryExecutor with a local redis-server and ``airflow celery worker``),
on SQLite, in their own AIRFLOW_HOME, reachable only on 127.0.0.1.

Every component runs in its own process group and is stopped by its PID (SIGTERM, then SIGKILL);
log servers are switched off (``--skip-serve-logs``: the logs are files on this machine), so the only
listeners are the api-server and redis, on free ports, and ``stop()`` checks they are gone. Every
wait is bounded and says which component did not come up, with the tail of its log.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")

#: Run states after which nothing more happens to a run.
FINISHED = ("success", "failed")

#: SQLite under four writing processes: wait for a lock (up to 90 s on a loaded machine) instead of failing at once.
#: Read by every component through ``[database] sql_alchemy_connect_args`` (an import path).
SQLITE_CONNECT_ARGS = {"timeout": 90}

#: Process groups started by any Deployment in this process and not yet stopped. Each component runs
#: in a session of its own (so that a stop reaches its task processes), which also means a signal to
#: pytest alone never reaches them: _stop_orphans() kills them if pytest exits or is terminated before
#: a fixture's stop() runs.
_LIVE_GROUPS: set[int] = set()
_ORPHAN_GUARD_INSTALLED = False


def _stop_orphans(grace: float = 5.0) -> None:
    """SIGTERM every live component group, SIGKILL what is left after ``grace`` seconds."""
    groups = list(_LIVE_GROUPS)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
        deadline = time.monotonic() + grace
        while sig == signal.SIGTERM and time.monotonic() < deadline and any(_group_alive(g) for g in groups):
            time.sleep(0.1)
    _LIVE_GROUPS.difference_update(groups)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _on_terminate(signum: int, frame: Any) -> None:
    """pytest was told to stop (CI's time limit, a kill): take the deployment down, then stop as asked."""
    # Nothing interrupts the stop: a pytest-xdist worker whose run is gone interrupts itself (SIGINT)
    # a few seconds later, which would skip the SIGKILL of what did not stop on SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _stop_orphans()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_orphan_guard() -> None:
    global _ORPHAN_GUARD_INSTALLED
    if _ORPHAN_GUARD_INSTALLED:
        return
    _ORPHAN_GUARD_INSTALLED = True
    atexit.register(_stop_orphans)
    signals = [signal.SIGTERM, signal.SIGHUP]
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # A pytest-xdist worker whose run is gone (the controller killed) interrupts itself, then
        # exits without cleaning up 10 s later: no time for a graceful stop, so stop as when killed.
        signals.append(signal.SIGINT)
    for signum in signals:
        # Only the main thread may set handlers; keep a handler someone else installed. An ignored
        # SIGINT is taken over too: a worker of a pytest started as a shell's background job (CI with
        # `&`) inherits it ignored, and execnet's interrupt would then never reach the stop.
        replaceable = (signal.SIG_DFL, signal.default_int_handler, None)
        if signum == signal.SIGINT:
            replaceable += (signal.SIG_IGN,)
        with contextlib.suppress(ValueError):
            if signal.getsignal(signum) in replaceable:
                signal.signal(signum, _on_terminate)


class SqliteDeadlock(RuntimeError):
    """The api-server answered 500 "Database error": on SQLite, its write waited out the lock timeout."""


class DeploymentError(AssertionError):
    """A component did not come up, or a wait ran out: the message says which and shows its log."""


def listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    *,
    every: float = 0.3,
    details: Callable[[], str] | None = None,
) -> T:
    """Poll ``probe`` until it returns something truthy; past ``timeout`` fail saying ``what``."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except DeploymentError:
            raise
        except Exception as err:  # a probe that cannot answer yet (connection refused, 404)
            last_error = err
        if time.monotonic() > deadline:
            extra = f" (last error: {last_error!r})" if last_error else ""
            tail = f"\n{details()}" if details else ""
            raise DeploymentError(f"Timed out after {timeout:g} s waiting for {what}{extra}{tail}")
        time.sleep(every)


@dataclass
class Component:
    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"--- {self.name}: no log ---"
        return f"--- last lines of {self.log_path} ---\n{text[-chars:]}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Deployment:
    """One Airflow deployment under ``root``; ``start()`` it, use it, ``stop()`` it."""

    root: Path
    executor: str = "LocalExecutor"
    parallelism: int = 4
    #: Extra environment for every component (connections, settings).
    env: dict[str, str] = field(default_factory=dict)
    #: DAG files (and folders) copied into the dags folder before start.
    dag_sources: list[Path] = field(default_factory=list)
    #: An already migrated SQLite DB to copy instead of running ``airflow db migrate`` again.
    migrated_db: Path | None = None
    startup_timeout: float = 180.0
    components: dict[str, Component] = field(default_factory=dict)
    _write_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    api_port: int = 0
    redis_port: int = 0

    # -- layout and environment -------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return self.root / "airflow-home"

    @property
    def dags_folder(self) -> Path:
        return self.home / "dags"

    @property
    def db_path(self) -> Path:
        return self.home / "airflow.db"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def component_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
        env.update(self._settings)
        env.update(self.env)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        return env

    def _configure(self) -> None:
        self.api_port = self.api_port or free_port()
        secret = secrets.token_hex(16)
        self._settings = {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db_path}",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "tests.deployment.harness.SQLITE_CONNECT_ARGS",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": "tests.deployment.harness.SQLITE_CONNECT_ARGS",
            "AIRFLOW__API_AUTH__JWT_SECRET": secret,
            "AIRFLOW__API__SECRET_KEY": secret,
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # Task supervisors talk to the api-server; on a loaded 2-core machine with SQLite, 5 s is short.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
            # Quick turns: the tests wait for states, they never sleep for them.
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "15",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        if self.executor == "CeleryExecutor":
            self.redis_port = self.redis_port or free_port()
            broker = f"redis://127.0.0.1:{self.redis_port}/0"
            self._settings.update(
                {
                    "AIRFLOW__CELERY__BROKER_URL": broker,
                    "AIRFLOW__CELERY__RESULT_BACKEND": f"redis://127.0.0.1:{self.redis_port}/1",
                    "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.parallelism),
                    "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
                }
            )

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> Deployment:
        _install_orphan_guard()
        self._configure()
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        for source in self.dag_sources:
            target = self.dags_folder / source.name
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, target)
        try:
            self._migrate()
            if self.executor == "CeleryExecutor":
                self._start_redis()
            self._spawn(
                "api-server",
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--workers",
                "1",
            )
            self._spawn("scheduler", "scheduler", "--skip-serve-logs")
            self._spawn("dag-processor", "dag-processor")
            self._spawn("triggerer", "triggerer", "--skip-serve-logs")
            if self.executor == "CeleryExecutor":
                self._spawn(
                    "celery-worker",
                    "celery",
                    "worker",
                    "--skip-serve-logs",
                    "--concurrency",
                    str(self.parallelism),
                    "--without-mingle",
                    "--without-gossip",
                )
            self.wait_until_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _migrate(self) -> None:
        if self.migrated_db is not None and self.migrated_db.exists():
            shutil.copy2(self.migrated_db, self.db_path)
        else:
            self._run_migrate()
        # Readers no longer block the writer (and the setting stays with the file).
        with contextlib.closing(sqlite3.connect(self.db_path)) as db:
            db.execute("PRAGMA journal_mode=WAL")

    def _run_migrate(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=self.component_env(),
            capture_output=True,
            text=True,
            timeout=self.startup_timeout,
            cwd=self.root,
        )
        if result.returncode != 0:
            raise DeploymentError(f"airflow db migrate exited {result.returncode}:\n{result.stderr[-3000:]}")

    def _start_redis(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise DeploymentError(
                "redis-server is not installed: run scripts/install-redis.sh (Debian's package)"
            )
        data = self.root / "redis"
        data.mkdir(exist_ok=True)
        self._popen(
            "redis",
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(data),
                "--protected-mode",
                "yes",
            ],
        )
        component = self.components["redis"]
        wait_for(
            f"redis-server to listen on 127.0.0.1:{self.redis_port}",
            lambda: self._check_alive(component) and listening(self.redis_port),
            30,
            details=component.log_tail,
        )

    def _spawn(self, name: str, *args: str) -> Component:
        return self._popen(name, [sys.executable, "-m", "airflow", *args])

    def _popen(self, name: str, argv: list[str]) -> Component:
        log_path = self.root / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        component = Component(name, argv, log_path)
        with log_path.open("ab") as log:
            component.process = subprocess.Popen(
                argv,
                env=self.component_env(),
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _LIVE_GROUPS.add(component.process.pid)
        self.components[name] = component
        return component

    def _check_alive(self, component: Component) -> bool:
        if not component.alive():
            code = component.process.returncode if component.process else None
            raise DeploymentError(
                f"{component.name} exited with {code} while starting:\n{component.log_tail()}"
            )
        return True

    def wait_until_healthy(self, timeout: float | None = None) -> None:
        """The api-server answers and reports scheduler, triggerer and dag-processor healthy."""
        timeout = timeout or self.startup_timeout
        api = self.components["api-server"]

        def healthy() -> bool:
            for component in self.components.values():
                self._check_alive(component)
            health = self.api("GET", "/api/v2/monitor/health")
            return all(
                health.get(part, {}).get("status") == "healthy"
                for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            )

        wait_for(
            "the api-server's health to show scheduler, triggerer and dag-processor healthy",
            healthy,
            timeout,
            every=0.5,
            details=lambda: self._tails(api.name, "scheduler"),
        )
        if "celery-worker" in self.components:
            worker = self.components["celery-worker"]
            wait_for(
                "the celery worker to be ready",
                lambda: self._check_alive(worker) and "ready." in worker.log_path.read_text(errors="replace"),
                timeout,
                details=worker.log_tail,
            )

    def _tails(self, *names: str) -> str:
        return "\n".join(self.components[n].log_tail() for n in names if n in self.components)

    def stop_component(self, name: str) -> None:
        """Stop one component (and everything in its process group) by its PID."""
        self._stop_all([name])

    def _stop_all(self, names: list[str]) -> None:
        """SIGTERM every named process group at once, then wait; SIGKILL what is left."""
        processes = [
            c.process for n in names if (c := self.components.get(n)) is not None and c.process is not None
        ]
        for sig, wait in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
            for process in processes:
                if process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, sig)
            deadline = time.monotonic() + wait
            for process in processes:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        # Children (task processes, uvicorn and celery workers) share the group: none may outlive it.
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            _LIVE_GROUPS.discard(process.pid)

    def restart_component(self, name: str) -> Component:
        component = self.components[name]
        self.stop_component(name)
        with component.log_path.open("ab") as log:
            log.write(b"\n===== restarted by the test =====\n")
        return self._popen(name, component.argv)

    def stop(self) -> None:
        # Workers first (their tasks report to the api-server), then the rest together, redis last.
        self._stop_all(["celery-worker", "scheduler", "triggerer"])
        self._stop_all([n for n in self.components if n != "redis"])
        self._stop_all(["redis"])
        left = [port for port in (self.api_port, self.redis_port) if port and listening(port)]
        if left:
            raise DeploymentError(f"Something still listens on 127.0.0.1 port(s) {left} after stop()")

    # -- the REST API (what the UI does) ----------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None, *, timeout: float = 150) -> Any:
        """One REST call. Writes go one at a time: SQLite takes one writer, and the api-server's
        request and audit-log sessions then wait on each other (seen as a minute-long lock).
        The client waits longer than the server's own SQLite lock timeout (90 s): a call that the
        server is still allowed to finish must not be abandoned (a REST trigger timed out at 60 s)."""
        if method == "GET":
            return self._api(method, path, body, timeout)
        with self._write_lock:
            try:
                return self._api(method, path, body, timeout)
            except SqliteDeadlock:
                # Two write transactions in the api-server (this request's audit-log row, written
                # before the endpoint runs, and a running task's heartbeat) each waited for the other
                # until SQLite's lock timeout. The endpoint never ran, so sending the request again is
                # what a user clicking again would do. A server database (PostgreSQL) has no such wait.
                return self._api(method, path, body, timeout)

    def _api(self, method: str, path: str, body: Any, timeout: float) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.api_url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:2000]
            error = SqliteDeadlock if err.code == 500 and '"Database error"' in detail else RuntimeError
            raise error(f"{method} {path} -> HTTP {err.code}: {detail}") from None
        return json.loads(raw) if raw else None

    def add_connection(self, conn_id: str, conn: dict[str, Any]) -> None:
        body = {"connection_id": conn_id, **conn}
        if isinstance(body.get("extra"), dict):
            body["extra"] = json.dumps(body["extra"])
        self.api("POST", "/api/v2/connections", body)

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 180) -> None:
        missing = set(dag_ids)

        def parsed() -> bool:
            for dag_id in list(missing):
                with contextlib.suppress(RuntimeError):
                    self.api("GET", f"/api/v2/dags/{dag_id}")
                    missing.discard(dag_id)
            return not missing

        wait_for(
            f"the dag-processor to parse {sorted(missing)}",
            parsed,
            timeout,
            every=1,
            details=lambda: self._tails("dag-processor") + self._import_errors(),
        )

    def _import_errors(self) -> str:
        with contextlib.suppress(Exception):
            errors = self.api("GET", "/api/v2/importErrors")["import_errors"]
            return "\nimport errors: " + json.dumps(errors)[:3000]
        return ""

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Trigger a run through the REST API as the UI's Trigger button does (no logical date)."""
        run = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return str(run["dag_run_id"])

    def trigger_cli(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """``airflow dags trigger`` as a user types it; returns the run id it created."""
        before = {r["dag_run_id"] for r in self.runs(dag_id)}
        args = ["dags", "trigger", dag_id, "--output", "json"]
        if conf:
            args += ["--conf", json.dumps(conf)]
        output = self.cli(*args)
        with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
            start = output.index("[")
            return str(json.loads(output[start : output.rindex("]") + 1])[0]["dag_run_id"])
        new = [r["dag_run_id"] for r in self.runs(dag_id) if r["dag_run_id"] not in before]
        if len(new) != 1:
            raise DeploymentError(f"airflow dags trigger {dag_id}: cannot tell its run id:\n{output[-2000:]}")
        return str(new[0])

    def cli(self, *args: str, timeout: float = 180) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.component_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )
        output = result.stdout + result.stderr
        if result.returncode != 0:
            raise DeploymentError(f"airflow {' '.join(args)} exited {result.returncode}:\n{output[-3000:]}")
        return output

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id)}"))

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        """task_id (or task_id[map_index]) -> the REST API's task instance."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances?limit=100"
        result = {}
        for ti in self.api("GET", path)["task_instances"]:
            key = ti["task_id"] if ti["map_index"] < 0 else f"{ti['task_id']}[{ti['map_index']}]"
            result[key] = ti
        return result

    def wait_for_run(
        self, dag_id: str, run_id: str, timeout: float = 240, states: tuple[str, ...] = FINISHED
    ) -> dict[str, Any]:
        return wait_for(
            f"run {dag_id}/{run_id} to be {' or '.join(states)}",
            lambda: (run := self.run(dag_id, run_id))["state"] in states and run,
            timeout,
            every=0.5,
            details=lambda: self.describe_run(dag_id, run_id),
        )

    def wait_for_task(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        predicate: Callable[[dict[str, Any]], bool],
        what: str,
        timeout: float = 180,
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            ti = self.task_instances(dag_id, run_id).get(task_id)
            return ti if ti is not None and predicate(ti) else None

        return wait_for(
            f"{dag_id}/{run_id}/{task_id} to be {what}",
            probe,
            timeout,
            every=0.3,
            details=lambda: self.describe_run(dag_id, run_id),
        )

    def clear(self, dag_id: str, run_id: str, task_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Clear through the REST API, as the UI's Clear button does (downstream off, not only failed)."""
        body: dict[str, Any] = {
            "dry_run": False,
            "dag_run_id": run_id,
            "only_failed": False,
            "reset_dag_runs": True,
            "include_downstream": False,
        }
        if task_ids is not None:
            body["task_ids"] = task_ids
        answer = self.api("POST", f"/api/v2/dags/{dag_id}/clearTaskInstances", body)
        return list(answer.get("task_instances", []))

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        """The task's log file as the worker wrote it (same machine: no log server needed)."""
        base = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            base = base / f"map_index={map_index}"
        path = base / f"attempt={try_number}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def describe_run(self, dag_id: str, run_id: str) -> str:
        lines = []
        with contextlib.suppress(Exception):
            run = self.run(dag_id, run_id)
            lines.append(f"run {run_id}: {run['state']}")
            for key, ti in self.task_instances(dag_id, run_id).items():
                lines.append(f"  {key}: {ti['state']} (try {ti['try_number']})")
                if ti["state"] in ("failed", "up_for_retry"):
                    log = self.task_log(dag_id, run_id, ti["task_id"], ti["try_number"], ti["map_index"])
                    lines.append("    " + log[-1500:].replace("\n", "\n    "))
        return "\n".join(lines) + "\n" + self._tails("scheduler")
