"""
The MoEngage provider demo: run the sample DAGs against a local MoEngage sandbox, show what arrived.

    .venv/bin/python scripts/demo.py            # or: make demo

What it does, on a fresh clone, with nothing but the project's virtualenv:

1. makes a throw-away Airflow home in ``.demo/airflow-home`` (SQLite metadata DB, ``airflow db migrate``);
2. starts the MoEngage sandbox (``python -m moengage_provider.testing.sandbox``) on a free port of
   127.0.0.1, strict: only the business events declared in ``dags/data/moengage_events.json``, with
   their attribute types, are accepted, as in a real workspace;
3. runs every sample DAG (the first with ``airflow dags test``, the others with ``dag.test()``), the
   catalog database being a SQLite file in the demo home (connection ``catalog_db``) and
   ``moengage_default`` pointing at the sandbox;
4. fires one event through MoEngage's Business Events API V5 (the connection's extra ``api_version``
   set to ``api-v5``) and shows what came back: whether the event's campaigns went out
   (``triggered_status``, ``summary``, their IDs) and the request's ``X-MOE-Request-Id``;
5. stops the sandbox (always, by its PID) and prints every event MoEngage received: its name,
   ``triggered_by``, and each attribute with its value and JSON type; then one line per sample
   saying what it sent.

Airflow's own output goes to ``.demo/airflow-home/demo.log``; its tail is printed when a step fails.
Exits non-zero when a DAG run fails or no event arrives. The sandbox's API key is random, handed to
the processes through their environment, and never printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moengage_provider.testing.sandbox.spawn import SpawnedSandbox

REPO = Path(__file__).resolve().parent.parent
DAGS_FOLDER = REPO / "dags"
EVENTS_FILE = DAGS_FOLDER / "data" / "moengage_events.json"
DEFAULT_HOME = REPO / ".demo" / "airflow-home"
WORKSPACE_ID = "demo-workspace"

#: (DAG id, what it shows), in the order they run.
DAGS: list[tuple[str, str]] = [
    ("moengage_load_then_announce", "load new titles, check the load, one summary event"),
    ("moengage_asset_load_episodes", "data DAG: load new episodes, update an Airflow Asset (no event)"),
    (
        "moengage_asset_announce_episodes",
        "messaging DAG on that Asset: one event (run by hand here; the scheduler would start it)",
    ),
    ("moengage_event_per_item", "load restocked products, one event per product (mapped tasks)"),
    (
        "moengage_notify_price_list",
        "publish a price list; its task's success callback fires one event (a notifier)",
    ),
]

SANDBOX_START_TIMEOUT = 30.0
STEP_TIMEOUT = 300.0
LOG_TAIL_LINES = 40


class DemoError(Exception):
    """A step failed; the message says which, the log says why."""


class Demo:
    def __init__(self, home: Path, dag_ids: list[str]) -> None:
        self.home = home
        self.dag_ids = dag_ids
        self.log_path = home / "demo.log"
        self.record_file = home / "moengage-received.jsonl"
        self.catalog_db = home / "catalog.db"
        self.api_key = "demo-" + secrets.token_urlsafe(24)
        self.sandbox: SpawnedSandbox | None = None
        self.runner: subprocess.Popen[bytes] | None = None
        self.sandbox_url: str | None = None
        self._log: IO[str] | None = None
        self._log_lock = threading.Lock()

    # -- steps ------------------------------------------------------------------------------------

    def run(self) -> int:
        started = time.monotonic()
        print("MoEngage provider demo: sample DAGs -> local MoEngage sandbox")
        print(f"  Airflow home: {_shown(self.home)}  (fresh for every demo run)")
        print(f"  Airflow's own output: {_shown(self.log_path)}")
        total = len(self.dag_ids) + 4
        if importlib.util.find_spec("airflow.providers.sqlite") is None:
            print(
                "\n  FAILED: the sample DAGs reach their catalog database through Airflow's SQLite provider,"
                "\n  which is not installed in this environment. Install the project's dependencies"
                " (make install, or uv sync) and run the demo again."
            )
            return 1
        failed: list[str] = []
        per_dag: list[tuple[str, str, list[dict[str, Any]]]] = []
        try:
            self._fresh_home()
            self._step(1, total, "Preparing Airflow's metadata database (airflow db migrate)")
            self._airflow("db", "migrate")
            self._done()

            self._step(2, total, "Starting the MoEngage sandbox")
            self._start_sandbox()
            print(f" listening on {self.sandbox_url}", flush=True)
            declared = ", ".join(json.loads(EVENTS_FILE.read_text())["events"])
            print(f"      strict, like a real workspace: accepts only {declared}")
            print(f"      (declared with their attribute types in {_shown(EVENTS_FILE)})")

            # The first DAG runs with the command you will use yourself; the others share one
            # Python process (dag.test() each, as `airflow dags test` does) to keep the demo short:
            # every `airflow dags test` spends ~10 s starting Airflow before the DAG runs.
            first, others = self.dag_ids[0], self.dag_ids[1:]
            self._step(3, total, f"airflow dags test {first}")
            self._describe(first)
            before = len(self._received())
            ok = self._airflow("dags", "test", first, check=False)
            self._report(first, ok, self._received()[before:], failed, per_dag)
            if others:
                self._run_in_one_process(others, 4, total, failed, per_dag)
            if not failed:
                self._show_v5_trigger(total - 1, total, per_dag)
        except DemoError as err:
            print(f"\n  FAILED: {err}")
            self._print_log_tail()
            return 1
        except KeyboardInterrupt:
            print("\n  Interrupted.")
            return 130
        finally:
            self._stop_runner()
            self._stop_sandbox(total)
            self._close_log()

        received = self._received()
        print(f"\nWhat MoEngage received ({_count(len(received))}, workspace {WORKSPACE_ID}):")
        number = 0
        for dag_id, state, events in per_dag:
            print(f"\n  from {dag_id} ({state}):")
            if not events:
                print("    (nothing)")
            for event in events:
                number += 1
                print(textwrap.indent(describe_event(event, number), "    "))
        print("\nIn short, what each sample sent:")
        print(summary(per_dag))
        print(f"\nEvery accepted trigger, as JSON lines: {_shown(self.record_file)}")
        print(f"Demo finished in {time.monotonic() - started:.0f} s.")
        if failed:
            print(f"FAILED: {', '.join(failed)} did not succeed; see {_shown(self.log_path)}")
            return 1
        if not any(events for dag_id, _, events in per_dag if dag_id != V5_STEP):
            print("FAILED: no business event reached the sandbox.")
            return 1
        return 0

    def _show_v5_trigger(
        self, number: int, total: int, per_dag: list[tuple[str, str, list[dict[str, Any]]]]
    ) -> None:
        """One trigger through API V5, and what MoEngage answered about the event's campaigns."""
        self._step(
            number, total, "One trigger through MoEngage's Business Events API V5 (extra api_version=api-v5)"
        )
        before = len(self._received())
        answer = self._v5_trigger_answer()
        data = answer.get("data") or {}
        summary = data.get("summary") or {}
        print(f" {data.get('triggered_status')}", flush=True)
        print(
            f"      MoEngage answered: {data.get('message')!r}, triggered_status {data.get('triggered_status')}:"
        )
        print(
            f"      {summary.get('triggered')} of {summary.get('total')} campaigns and flows triggered, "
            f"{summary.get('failed')} skipped by quota; campaigns {data.get('triggered_campaign_ids')}, "
            f"flows {data.get('triggered_flow_ids')}"
        )
        print(
            f"      response_id {answer.get('response_id')} (X-MOE-Request-Id {answer.get('x_moe_request_id')})"
        )
        per_dag.append((V5_STEP, "success", self._received()[before:]))

    def _v5_trigger_answer(self) -> dict[str, Any]:
        """MoEngage's answer to the V5 trigger, made by the hook in a child process (Airflow stays out of
        this one)."""
        env = self._env()
        assert self.sandbox is not None
        env.update({"AIRFLOW_CONN_MOENGAGE_DEFAULT": self.sandbox.airflow_conn_json(api_version="api-v5")})
        self._write_log("\n===== $ python scripts/demo.py --v5-trigger\n")
        result = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--v5-trigger"],
            env=env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        self._write_log(result.stdout + result.stderr)
        if result.returncode != 0:
            raise DemoError(f"the V5 trigger failed (exit code {result.returncode})")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def _describe(self, dag_id: str) -> None:
        what = dict(DAGS).get(dag_id, "")
        if what:
            print(f"\n      {what}", end="", flush=True)

    def _report(
        self,
        dag_id: str,
        ok: bool,
        events: list[dict[str, Any]],
        failed: list[str],
        per_dag: list[tuple[str, str, list[dict[str, Any]]]],
    ) -> None:
        elapsed = time.monotonic() - self._step_started
        received = f"MoEngage received {_count(len(events))}"
        if ok:
            print(f"\n      success in {elapsed:.1f} s; {received}", flush=True)
        else:
            failed.append(dag_id)
            print(f"\n      FAILED after {elapsed:.1f} s; {received}", flush=True)
            self._print_log_tail()
        per_dag.append((dag_id, "success" if ok else "failed", events))

    def _run_in_one_process(
        self,
        dag_ids: list[str],
        first_step: int,
        total: int,
        failed: list[str],
        per_dag: list[tuple[str, str, list[dict[str, Any]]]],
    ) -> None:
        """Run DAGs one after the other with dag.test() in one child process, reporting each."""
        results = self.home / "in-process-results.jsonl"
        results.touch()
        command = self._runner_command(dag_ids, results)
        self._write_log(f"\n===== $ python scripts/demo.py --in-process {' '.join(dag_ids)}\n")
        assert self._log is not None
        self._log.flush()
        self.runner = subprocess.Popen(
            command,
            env=self._env(),
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        seen = 0
        started = {}
        deadline = time.monotonic() + STEP_TIMEOUT * len(dag_ids)
        while True:
            done = self.runner.poll() is not None
            lines = results.read_text(encoding="utf-8").splitlines()
            for line in lines[seen:]:
                note = json.loads(line)
                dag_id = note["dag_id"]
                if note["phase"] == "start":
                    started[dag_id] = note["received"]
                    number = first_step + dag_ids.index(dag_id)
                    if number == first_step:
                        print(
                            "\n      The other samples run one after the other in a single Python process,"
                            "\n      with dag.test() as `airflow dags test` does, to keep the demo short.\n",
                            end="",
                        )
                    self._step(number, total, f"dag.test() {dag_id}")
                    self._describe(dag_id)
                else:
                    events = self._received()[started.get(dag_id, 0) : note["received"]]
                    self._report(dag_id, note["state"] == "success", events, failed, per_dag)
            seen = len(lines)
            if done:
                break
            if time.monotonic() > deadline:
                raise DemoError(
                    f"{', '.join(dag_ids)} did not finish within {STEP_TIMEOUT * len(dag_ids):.0f} s"
                )
            time.sleep(0.2)
        self._write_log(f"===== exit code {self.runner.returncode}\n")
        reported = {dag_id for dag_id, _, _ in per_dag}
        for dag_id in dag_ids:
            if dag_id not in reported:  # the process died before reporting this DAG
                failed.append(dag_id)
                per_dag.append((dag_id, "not run", []))
        if self.runner.returncode != 0 and not failed:
            raise DemoError(
                f"the process running {', '.join(dag_ids)} exited with code {self.runner.returncode}"
            )
        self.runner = None

    def _runner_command(self, dag_ids: list[str], results: Path) -> list[str]:
        return [
            sys.executable,
            str(Path(__file__).resolve()),
            "--in-process",
            "--results",
            str(results),
            "--record-file",
            str(self.record_file),
            *dag_ids,
        ]

    def _stop_runner(self) -> None:
        proc, self.runner = self.runner, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def _fresh_home(self) -> None:
        if self.home.exists():
            if any(self.home.iterdir()) and not (self.home / "demo.log").exists():
                raise DemoError(f"{self.home} is not empty and not a demo home; not wiping it")
            shutil.rmtree(self.home)
        self.home.mkdir(parents=True)
        self._log = self.log_path.open("w", encoding="utf-8")

    def _env(self) -> dict[str, str]:
        # Nothing of the caller's own Airflow set-up (its metadata DB, its connections) may leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            env.pop(name, None)
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONUNBUFFERED"] = "1"
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "AIRFLOW_CONN_CATALOG_DB": json.dumps({"conn_type": "sqlite", "host": str(self.catalog_db)}),
            }
        )
        if self.sandbox is not None and self.sandbox_url is not None:
            env.update(self.sandbox.airflow_connection().env("moengage_default"))
        return env

    def _airflow(self, *args: str, check: bool = True) -> bool:
        """Run ``airflow ARGS`` with its output in the log; True when it exited 0."""
        command = [sys.executable, "-m", "airflow", *args]
        self._write_log(f"\n===== $ airflow {' '.join(args)}\n")
        assert self._log is not None
        self._log.flush()
        try:
            result = subprocess.run(
                command,
                env=self._env(),
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                timeout=STEP_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DemoError(
                f"'airflow {' '.join(args)}' did not finish within {STEP_TIMEOUT:.0f} s"
            ) from None
        self._write_log(f"===== exit code {result.returncode}\n")
        if check and result.returncode != 0:
            raise DemoError(f"'airflow {' '.join(args)}' exited with code {result.returncode}")
        return result.returncode == 0

    def _start_sandbox(self) -> None:
        from moengage_provider.testing.sandbox.spawn import SandboxStartError, SpawnedSandbox

        sandbox = SpawnedSandbox(
            WORKSPACE_ID,
            self.api_key,  # handed over in the environment, not on the command line: ps shows that
            config=EVENTS_FILE,
            record_file=self.record_file,
            quiet=False,
            env=self._env(),
            cwd=self.home,
            stderr=self._log,
            on_output=lambda line: self._write_log(f"[sandbox] {line}"),
            start_timeout=SANDBOX_START_TIMEOUT,
        )
        self._write_log(f"\n===== $ python {' '.join(sandbox.args[1:])}\n")
        assert self._log is not None
        self._log.flush()
        try:
            self.sandbox = sandbox.start()
        except SandboxStartError as err:
            raise DemoError(str(err).splitlines()[0]) from None
        self.sandbox_url = sandbox.url

    def _stop_sandbox(self, total: int) -> None:
        sandbox = self.sandbox
        if sandbox is None:
            return
        self.sandbox = None
        if sandbox.proc is not None and sandbox.proc.poll() is None:
            self._step(total, total, f"Stopping the MoEngage sandbox (pid {sandbox.pid})")
            sandbox.stop()
            self._done()
        else:
            print(f"\n  The MoEngage sandbox had already exited (code {sandbox.stop()}).")

    # -- output -----------------------------------------------------------------------------------

    def _received(self) -> list[dict[str, Any]]:
        if not self.record_file.exists():
            return []
        lines = self.record_file.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def _step(self, number: int, total: int, text: str) -> None:
        self._step_started = time.monotonic()
        print(f"\n[{number}/{total}] {text} ...", end="", flush=True)

    def _done(self) -> None:
        print(f" done in {time.monotonic() - self._step_started:.1f} s", flush=True)

    def _write_log(self, text: str) -> None:
        with self._log_lock:
            if self._log is not None and not self._log.closed:
                self._log.write(text.replace(self.api_key, "***"))

    def _close_log(self) -> None:
        with self._log_lock:
            if self._log is not None:
                self._log.close()
        # Airflow masks connection passwords in its logs; make sure no copy of the key stays anyway.
        if self.log_path.exists():
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
            if self.api_key in text:
                self.log_path.write_text(text.replace(self.api_key, "***"), encoding="utf-8")

    def _print_log_tail(self) -> None:
        if self._log is not None and not self._log.closed:
            self._log.flush()
        if not self.log_path.exists():
            return
        with self.log_path.open(encoding="utf-8", errors="replace") as fh:
            tail = deque(fh, maxlen=LOG_TAIL_LINES)
        print(f"  Last {len(tail)} lines of {_shown(self.log_path)}:")
        for line in tail:
            print("  | " + line.rstrip("\n").replace(self.api_key, "***"))


def json_type(value: Any) -> str:
    """The JSON type MoEngage sees, with a hint for text that MoEngage takes as a date."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string, an ISO date" if _looks_like_date(value) else "string"
    if isinstance(value, list):
        kinds = sorted({json_type(item).split(",")[0] for item in value})
        of = f" of {len(value)} {kinds[0]}s" if len(kinds) == 1 else f" of {len(value)} items"
        return "array" + (of if value else ", empty")
    return "object"


def describe_event(event: dict[str, Any], number: int) -> str:
    """One received trigger: ``name``, ``triggered_by``, then ``attribute = value (type)`` lines."""
    lines = [f"{number}. {event['event_name']}   triggered_by: {event.get('triggered_by') or '(not set)'}"]
    attributes = event.get("event_attributes") or {}
    width = max((len(name) for name in attributes), default=0)
    for name, value in attributes.items():
        shown = json.dumps(value, ensure_ascii=False)
        head = f"   {name:<{width}} = "
        if len(head) + len(shown) > 100 and isinstance(value, list):
            wrapped = textwrap.wrap(
                shown, width=100 - len(head), break_long_words=False, break_on_hyphens=False
            )
            shown = ("\n" + " " * len(head)).join(wrapped)
        lines.append(f"{head}{shown} ({json_type(value)})")
    return "\n".join(lines)


def summary(per_dag: list[tuple[str, str, list[dict[str, Any]]]]) -> str:
    """One line per sample: its state and the events it sent (name x count), or that it sent none."""
    width = max((len(dag_id) for dag_id, _, _ in per_dag), default=0)
    lines = []
    for dag_id, state, events in per_dag:
        counts: dict[str, int] = {}
        for event in events:
            counts[event["event_name"]] = counts.get(event["event_name"], 0) + 1
        sent = ", ".join(f"{n} x {name}" if n > 1 else name for name, n in counts.items()) or "no event"
        lines.append(f"  {dag_id:<{width}}  {state:<7}  {sent}")
    return "\n".join(lines)


def _looks_like_date(text: str) -> bool:
    import datetime as dt

    try:
        dt.date.fromisoformat(text)
    except ValueError:
        try:
            dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return False
        return "T" in text
    return True


def _count(n: int) -> str:
    return f"{n} event" if n == 1 else f"{n} events"


def _shown(path: Path) -> str:
    """A path relative to the current directory when it is under it, for shorter lines."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run_in_process(dag_ids: list[str], results: Path, record_file: Path) -> int:
    """
    ``--in-process``: run each DAG with ``dag.test()`` here, as ``airflow dags test`` does.

    Writes a JSON line to ``results`` when a DAG starts and when it ends, with how many events the
    sandbox had recorded by then, so the demo can report each DAG as it finishes.
    """
    import traceback

    from airflow.utils.cli import get_bagged_dag

    def received() -> int:
        if not record_file.exists():
            return 0
        return sum(1 for line in record_file.read_text(encoding="utf-8").splitlines() if line.strip())

    def note(**fields: Any) -> None:
        with results.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(fields) + "\n")

    all_ok = True
    for dag_id in dag_ids:
        note(phase="start", dag_id=dag_id, received=received())
        try:
            state = str(get_bagged_dag(None, dag_id).test().state)
        except Exception:
            traceback.print_exc()
            state = "failed"
        sys.stdout.flush()
        sys.stderr.flush()
        all_ok = all_ok and state == "success"
        note(phase="end", dag_id=dag_id, state=state, received=received())
    return 0 if all_ok else 1


#: How the demo's V5 trigger is listed beside the samples.
V5_STEP = "one trigger through API V5"


def v5_trigger() -> int:
    """``--v5-trigger``: fire NewTitlesAdded through the hook on ``moengage_default`` (API V5); print
    MoEngage's answer as one JSON line, with the ``X-MOE-Request-Id`` the hook sent."""
    import uuid

    from moengage_provider.hooks.moengage import MoEngageHook

    hook, request_id = MoEngageHook(), str(uuid.uuid4())
    prepared = hook.prepare_trigger(
        "NewTitlesAdded", {"new_titles": 1, "titles": ["The Demo"]}, "data-platform@example.com"
    )
    answer = hook.send_prepared_trigger(prepared, request_id=request_id)
    print(json.dumps({**answer, "x_moe_request_id": request_id}))
    return 0


def main(argv: list[str] | None = None) -> int:
    # Airflow before 3.2 logs alembic's plugin set-up at INFO whenever Airflow is imported (3.2+ sets
    # this logger to WARN itself); keep those lines out of the demo's console.
    import logging

    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument(
        "--home",
        type=Path,
        default=DEFAULT_HOME,
        help=f"Airflow home for the demo; wiped and recreated (default: {_shown(DEFAULT_HOME)})",
    )
    parser.add_argument(
        "--dag",
        dest="dags",
        action="append",
        choices=[dag_id for dag_id, _ in DAGS],
        help="run only this sample DAG (repeatable); default: all, in order",
    )
    # Internal: how the demo runs several DAGs in one child process (see Demo._run_in_one_process).
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--results", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--record-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--v5-trigger", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("in_process_dags", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.v5_trigger:
        return v5_trigger()
    if args.in_process:
        return run_in_process(args.in_process_dags, args.results, args.record_file)
    if args.in_process_dags:
        parser.error(f"unexpected arguments: {' '.join(args.in_process_dags)}")
    home = args.home.resolve()
    if home in (REPO, REPO.parent, Path.home(), Path("/")) or REPO.is_relative_to(home):
        parser.error(f"--home {home} would wipe more than a demo folder")
    return Demo(home, args.dags or [dag_id for dag_id, _ in DAGS]).run()


if __name__ == "__main__":
    sys.exit(main())
