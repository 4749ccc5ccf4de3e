"""
The scenarios, written once and run on each executor: each gets its own sandbox (and connection)
so that several run side by side on one deployment, and returns what a user would look at: the
run's state, the task's tries and log, and what the sandbox received.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from moengage_provider.testing import MoEngageSandbox
from tests.deployment.dags.moengage_deployment_scenarios import EVENT, KILL_MODES, KILL_WHERE, conn_id
from tests.deployment.harness import Deployment, wait_for
from tests.deployment.holding_proxy import HoldingProxy

TRIGGER_PATH = "/v1.0/business_event/trigger"
#: Longer than any scenario takes to kill its worker: the request stays in flight until then.
STALL_SECONDS = 150.0

#: What each if_outcome_unknown promises when the worker dies mid-request, by where the request was:
#: (events MoEngage ends up with, the run's final state).
KILL_EXPECTED: dict[tuple[str, str], tuple[int, str]] = {
    ("resend", "stalled"): (1, "success"),  # not taken; the retry sends it: at least once
    ("resend", "held"): (2, "success"),  # taken, and sent again: the duplicate "resend" accepts
    ("skip", "stalled"): (0, "success"),  # not taken, not resent: at most once means possibly never
    ("skip", "held"): (1, "success"),  # taken, not resent: exactly once
    ("fail", "stalled"): (0, "failed"),  # stops for a human either way
    ("fail", "held"): (1, "failed"),
    ("check", "stalled"): (1, "success"),  # counters unchanged: not delivered, so sent: exactly once
    ("check", "held"): (1, "success"),  # counters one more: delivered, recorded, not resent
}


@dataclass
class ScenarioSandbox:
    """A sandbox for one scenario DAG, its connection registered through the REST API."""

    dag_id: str
    sandbox: MoEngageSandbox
    proxy: HoldingProxy | None = None
    closers: list[Any] = field(default_factory=list)

    @classmethod
    def create(cls, deployment: Deployment, dag_id: str, *, proxy: bool = False) -> ScenarioSandbox:
        sandbox = MoEngageSandbox(
            "ws-" + dag_id,
            "sbx-" + secrets.token_urlsafe(16),
            events={EVENT: {"attributes": {"run": "string", "scenario": "string"}}},
            permissive=False,
        ).start()
        made = cls(dag_id, sandbox)
        made.closers.append(sandbox.stop)
        port = sandbox.port
        if proxy:
            made.proxy = HoldingProxy(sandbox.port).start()
            made.closers.append(made.proxy.stop)
            port = made.proxy.port
        conn = json.loads(sandbox.airflow_conn_json())
        conn["port"] = port
        # Longer than the stall: the hook must still be waiting when the worker is killed.
        conn["extra"] = {"timeout": STALL_SECONDS + 30}
        deployment.add_connection(conn_id(dag_id), conn)
        return made

    def triggers(self) -> list[dict[str, Any]]:
        return [t for t in self.sandbox.triggers if t["event_name"] == EVENT]

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer()


@dataclass
class Outcome:
    dag_id: str
    run_id: str
    state: str
    tries: int
    delivered: int
    logs: dict[int, str]
    notes: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        logs = "\n".join(f"--- try {n} ---\n{text[-2500:]}" for n, text in self.logs.items())
        return (
            f"{self.dag_id}/{self.run_id}: run {self.state}, {self.tries} tries, "
            f"{self.delivered} event(s) at MoEngage, {self.notes}\n{logs}"
        )


def outcome(deployment: Deployment, scenario: ScenarioSandbox, run_id: str, **notes: Any) -> Outcome:
    run = deployment.run(scenario.dag_id, run_id)
    ti = deployment.task_instances(scenario.dag_id, run_id)["announce"]
    logs = {
        n: deployment.task_log(scenario.dag_id, run_id, "announce", n) for n in range(1, ti["try_number"] + 1)
    }
    return Outcome(
        scenario.dag_id, run_id, run["state"], ti["try_number"], len(scenario.triggers()), logs, notes
    )


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# -- the worker killed while its request is in flight ------------------------------------------------


def kill_mid_request(deployment: Deployment, mode: str, where: str) -> Outcome:
    dag_id = f"deploy_kill_{mode}_{where}"
    scenario = ScenarioSandbox.create(deployment, dag_id, proxy=where == "held")
    try:
        if scenario.proxy is not None:
            scenario.proxy.hold_next(TRIGGER_PATH)
            in_flight = scenario.proxy.held.is_set
        else:
            scenario.sandbox.stall_next(STALL_SECONDS, path=TRIGGER_PATH)
            in_flight = lambda: scenario.sandbox.pending_faults() == 0  # noqa: E731
        run_id = deployment.trigger(dag_id)
        wait_for(
            f"{dag_id}: the trigger request to be in flight ({where})",
            in_flight,
            180,
            details=lambda: deployment.describe_run(dag_id, run_id),
        )
        ti = deployment.wait_for_task(
            dag_id, run_id, "announce", lambda t: t["state"] == "running" and t["pid"], "running with a pid"
        )
        os.kill(int(ti["pid"]), signal.SIGKILL)
        deployment.wait_for_run(dag_id, run_id, timeout=240)
        return outcome(deployment, scenario, run_id, killed_pid=int(ti["pid"]), killed_try=ti["try_number"])
    finally:
        scenario.close()


def kill_matrix(
    deployment: Deployment, modes: tuple[str, ...] = KILL_MODES
) -> dict[tuple[str, str], Outcome]:
    """Every (if_outcome_unknown, where) pair at once, each with its own sandbox."""
    pairs = [(mode, where) for mode in modes for where in KILL_WHERE]
    with ThreadPoolExecutor(max_workers=len(pairs)) as pool:
        futures = {pair: pool.submit(kill_mid_request, deployment, *pair) for pair in pairs}
        return {pair: future.result() for pair, future in futures.items()}


# -- a 429 deferred through the real triggerer, the triggerer restarted mid-wait ---------------------


def defer_through_restart(deployment: Deployment, retry_after: int = 40) -> Outcome:
    dag_id = "deploy_defer"
    scenario = ScenarioSandbox.create(deployment, dag_id)
    try:
        scenario.sandbox.fail_next(429, path=TRIGGER_PATH, headers={"Retry-After": str(retry_after)})
        run_id = deployment.trigger(dag_id)
        ti = deployment.wait_for_task(
            dag_id, run_id, "announce", lambda t: t["state"] == "deferred", "deferred", timeout=180
        )
        refused_at = dt.datetime.fromisoformat(
            scenario.sandbox.rejected[0]["received_at"].replace("Z", "+00:00")
        )
        moment = refused_at + dt.timedelta(seconds=retry_after)
        worker_pid = int(ti["pid"]) if ti["pid"] else None
        # Deferred means the worker slot is free: the task's process has exited.
        if worker_pid is not None:
            wait_for(f"the deferred task's process {worker_pid} to exit", lambda: pid_gone(worker_pid), 60)
        trigger = ti.get("trigger") or {}
        deployment.stop_component("triggerer")
        stopped_at = dt.datetime.now(dt.timezone.utc)
        deployment.restart_component("triggerer")
        deployment.wait_until_healthy()
        deployment.wait_for_run(dag_id, run_id, timeout=240)
        return outcome(
            deployment,
            scenario,
            run_id,
            trigger_classpath=trigger.get("classpath"),
            stopped_before_moment=stopped_at < moment,
            refused=[r["status"] for r in scenario.sandbox.rejected],
            worker_pid=worker_pid,
        )
    finally:
        scenario.close()


# -- clears through the REST API (the UI's Clear) ---------------------------------------------------


def clear_twice(deployment: Deployment) -> Outcome:
    """Deliver once, then clear the task, then the whole run: nothing is sent again."""
    dag_id = "deploy_clear"
    scenario = ScenarioSandbox.create(deployment, dag_id)
    try:
        run_id = deployment.trigger(dag_id)
        deployment.wait_for_run(dag_id, run_id, timeout=240)
        after_first = len(scenario.triggers())
        for task_ids in (["announce"], None):
            before = deployment.task_instances(dag_id, run_id)["announce"]["try_number"]
            deployment.clear(dag_id, run_id, task_ids)
            deployment.wait_for_task(
                dag_id,
                run_id,
                "announce",
                lambda t, before=before: t["try_number"] > before and t["state"] == "success",
                f"re-run after the clear (try > {before}) and successful",
                timeout=240,
            )
            deployment.wait_for_run(dag_id, run_id, timeout=120)
        return outcome(deployment, scenario, run_id, after_first=after_first)
    finally:
        scenario.close()


# -- all of them at once, and what each promises --------------------------------------------------


def run_core(deployment: Deployment, modes: tuple[str, ...] = KILL_MODES, **extra: Any) -> dict[str, Any]:
    """The kill matrix, the deferral, the clears (and ``extra`` jobs: name -> (function, *args)) side by
    side; name -> its result, or the error it met (raised by the test that reads it)."""
    deployment.wait_for_dags(
        ["deploy_defer", "deploy_clear", *(f"deploy_kill_{m}_{w}" for m in modes for w in KILL_WHERE)]
    )
    jobs: dict[str, Any] = {f"kill:{m}:{w}": (kill_mid_request, m, w) for m in modes for w in KILL_WHERE}
    jobs["defer"] = (defer_through_restart,)
    jobs["clear"] = (clear_twice,)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(jobs) + len(extra)) as pool:
        futures = {name: pool.submit(_capture, job[0], deployment, *job[1:]) for name, job in jobs.items()}
        futures.update({name: pool.submit(_capture, *job) for name, job in extra.items()})
        results = {name: future.result() for name, future in futures.items()}
    results["seconds"] = time.monotonic() - started
    return results


def _capture(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except Exception as err:  # reported by the test that reads this scenario, not by the others
        return err


def _result(core: dict[str, Any], name: str) -> Outcome:
    result = core[name]
    if isinstance(result, BaseException):
        raise result
    return result


def assert_kill_outcome(core: dict[str, Any], mode: str, where: str) -> None:
    result = _result(core, f"kill:{mode}:{where}")
    delivered, state = KILL_EXPECTED[(mode, where)]
    assert (result.delivered, result.state) == (delivered, state), result.describe()
    # The retry knew the killed try might have reached MoEngage, and said what it did about it.
    later = "".join(text for n, text in result.logs.items() if n > result.notes["killed_try"])
    assert "may have delivered" in later, result.describe()
    assert f"if_outcome_unknown={mode!r}" in later, result.describe()
    if mode == "check":  # and which case of the check's table was met
        case = {"stalled": "unchanged", "held": "one more, one send in flight"}[where]
        assert f"case {case!r}" in later, result.describe()


def assert_deferral(core: dict[str, Any]) -> None:
    result = _result(core, "defer")
    assert (result.state, result.delivered) == ("success", 1), result.describe()
    assert result.notes["refused"] == [429], result.describe()
    assert "DateTimeTrigger" in (result.notes["trigger_classpath"] or ""), result.describe()
    assert result.notes["stopped_before_moment"], (
        "the triggerer was not restarted mid-wait:\n" + result.describe()
    )
    # A deferral is not a failed try: the task resumed and delivered in the try that deferred.
    assert "deferring (worker slot released)" in result.logs[result.tries], result.describe()


def assert_clears(core: dict[str, Any]) -> None:
    result = _result(core, "clear")
    assert (result.state, result.notes["after_first"], result.delivered) == ("success", 1, 1), (
        result.describe()
    )
    assert result.tries >= 3, result.describe()
    assert "already delivered by this task instance" in result.logs[result.tries], result.describe()
