"""
The whole outcomes matrix, generated from the one table (moengage_provider/api/outcomes.py): one
representative of every status class of every row and every failure kind that real HTTP can produce,
x the three ``if_outcome_unknown`` settings x ``deduplicate``; each through real task tries (real
Airflow on SQLite, ``dag.test()``) against the sandbox behind a front that misbehaves on the first try
and heals before the next. Asserted: the task's final state and tries, and how many events the
sandbox accepted.

The invariant: a task never ends in success with nothing delivered unless the user chose at most once
(``skip``) and the outcome really was unknown; a not-delivered outcome is always sent again.
"""

from __future__ import annotations

import json
import socket
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from moengage_provider.api.outcomes import FAILS_NOW, RULES, WAITS, Rule, for_status
from moengage_provider.exceptions import Failure, Outcome
from tests.conftest import requires_airflow_3_3
from tests.dagrun import run_dag
from tests.faultfront import Fault, FaultFront
from tests.ports import closed_port

MODES = ("resend", "skip", "fail")
#: Seconds a request may take (the read timeout; the connect timeout is the same): short enough for a
#: stalled server to cost little, long enough for a loaded 2-core machine.
TIMEOUT = 2
RETRIES = 1

# Failure kinds produced by a changed connection for the first try (base URL, proxy) instead of the front.
_BY_CONNECTION = {Failure.TLS, Failure.DNS, Failure.PROXY}
_FRONT_FAULTS = {
    Failure.REFUSED: "refused",
    Failure.CONNECT_TIMEOUT: "blackhole",
    Failure.READ_TIMEOUT: "stall",
    Failure.RESET_BEFORE_ANSWER: "drop",
    Failure.TRUNCATED_ANSWER: "truncate",
    Failure.NOT_MOENGAGE_JSON: "not_json",
}
#: Only an exception no server can cause (a bug in a library); tests/hooks covers it by patching.
NOT_OVER_HTTP = {Failure.UNEXPECTED}
#: Faults after which the server may really have processed the request: run both ways.
_ANSWER_FAULTS = {"status", "not_json", "stall", "drop", "truncate"}


@dataclass(frozen=True)
class Case:
    id: str
    rule: Rule
    fault: Fault | None
    failure: Failure | None = None

    @property
    def accepted(self) -> bool:
        return self.fault is not None and self.fault.accepted


def _representatives(rule: Rule) -> Iterator[int]:
    """The first status of each class (1xx..5xx) in the rule's ranges that the table gives this rule."""
    seen: set[int] = set()
    for low, high in rule.statuses:
        for status in range(low, high + 1):
            # 100 Continue is interim by definition (clients wait on for the final answer): take 101.
            if status != 100 and status // 100 not in seen and for_status(status) is rule:
                seen.add(status // 100)
                yield status


def generate_cases() -> list[Case]:
    cases: list[Case] = []
    for rule in RULES:
        for status in _representatives(rule):
            if rule.outcome is Outcome.DELIVERED:
                cases.append(Case(f"{status}", rule, None))
                continue
            count = 1 if rule.airflow == WAITS else None  # a rate limit is waited out within the try
            variants = (False, True) if rule.outcome is Outcome.UNKNOWN else (False,)
            for accepted in variants:
                fault = Fault("status", status=status, accepted=accepted, count=count)
                cases.append(Case(f"{status}{'-accepted' if accepted else ''}", rule, fault))
        for failure in rule.failures:
            if failure in NOT_OVER_HTTP:
                continue
            if failure in _BY_CONNECTION:
                cases.append(Case(failure.value, rule, None, failure))
                continue
            kind = _FRONT_FAULTS[failure]
            accepted_variants = (
                (False, True) if kind in _ANSWER_FAULTS and rule.outcome is Outcome.UNKNOWN else (False,)
            )
            for accepted in accepted_variants:
                cases.append(
                    Case(
                        f"{failure.value}{'-accepted' if accepted else ''}",
                        rule,
                        Fault(kind, accepted=accepted),
                        failure,
                    )
                )
    return cases


CASES = generate_cases()
SETTINGS = [(mode, dedup) for mode in MODES for dedup in (True, False)]


def generate_cells() -> list[tuple[Case, str, bool]]:
    """
    Every unknown-outcome case under all six (if_outcome_unknown, deduplicate) settings. A case whose
    outcome is known never consults if_outcome_unknown, so it runs under one setting, rotating through
    the six so that each setting meets every kind of outcome (keeps `make test` near two minutes).
    """
    cells: list[tuple[Case, str, bool]] = []
    rotation = 0
    for case in CASES:
        if case.rule.outcome is Outcome.UNKNOWN:
            cells.extend((case, mode, dedup) for mode, dedup in SETTINGS)
        else:
            cells.append((case, *SETTINGS[rotation % len(SETTINGS)]))
            rotation += 1
    return cells


CELLS = generate_cells()


def expected(case: Case, mode: str) -> tuple[str, int, int]:
    """(final state, tries, events the server accepted), from the rules docs/failures.md states."""
    rule = case.rule
    taken = 1 if case.accepted else 0
    if rule.outcome is Outcome.DELIVERED or rule.airflow == WAITS:
        return "success", 1, 1
    if rule.airflow == FAILS_NOW:
        return "failed", 1, taken
    if rule.outcome is Outcome.NOT_DELIVERED:
        return "success", 2, 1  # always sent again
    if mode == "resend":
        return "success", 2, taken + 1
    if mode == "skip":
        return "success", 2, taken
    return "failed", 2, taken


def test_the_matrix_covers_every_row_and_failure_kind():
    covered = {id(case.rule) for case in CASES}
    assert covered == {id(rule) for rule in RULES if rule.statuses or rule.failures}
    kinds = {case.failure for case in CASES if case.failure is not None}
    assert kinds == set(Failure) - NOT_OVER_HTTP


# -- running a cell --------------------------------------------------------------------------------

_between_tries: list[Callable[[], None]] = []


def between_tries(context: Any) -> None:
    """``pre_execute`` of the DAG's task: from the second try on, the network is healthy again."""
    if context["ti"].try_number >= 2:
        while _between_tries:
            _between_tries.pop()()


SOURCE = """
import datetime
from airflow.providers.common.compat.sdk import DAG
from moengage_provider.operators.business_event import TriggerBusinessEventOperator
from tests.operators.test_outcome_matrix import between_tries

with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:
    TriggerBusinessEventOperator(
        task_id="fire",
        event_name="MatrixEvent",
        event_attributes={{"cell": "{dag_id}"}},
        retries={retries},
        retry_delay=datetime.timedelta(seconds=0),
        if_outcome_unknown="{mode}",
        deduplicate={dedup},
        pre_execute=between_tries,
    )
"""


def _conn(sandbox: Any, base: str, **extra: Any) -> str:
    return json.dumps(
        {
            "conn_type": "moengage",
            "host": base,
            "login": sandbox.workspace_id,
            "password": sandbox.api_key,
            "extra": {"timeout": TIMEOUT, **extra},
        }
    )


@pytest.fixture
def fast_hook_retries(monkeypatch):
    from moengage_provider.hooks.moengage import MoEngageHook

    monkeypatch.setattr(MoEngageHook, "retry_backoff_seconds", 0.01)


@requires_airflow_3_3
@pytest.mark.moengage_sandbox(permissive=True, hourly_limit=10**6, daily_limit=10**6)
@pytest.mark.parametrize(
    ("case", "mode", "dedup"),
    CELLS,
    ids=[f"{case.id}-{mode}-{'dedup' if dedup else 'no-dedup'}" for case, mode, dedup in CELLS],
)
def test_outcome_matrix(
    case, mode, dedup, moengage_sandbox, dag_from_source, monkeypatch, capfd, fast_hook_retries
):
    _between_tries.clear()
    with FaultFront(moengage_sandbox.port) as front:
        healthy = _conn(moengage_sandbox, front.url)
        monkeypatch.setenv("AIRFLOW_CONN_MOENGAGE_DEFAULT", healthy)
        if case.failure in _BY_CONNECTION:
            first = {
                Failure.TLS: lambda: _conn(moengage_sandbox, f"https://127.0.0.1:{front.port}"),
                Failure.DNS: lambda: _conn(moengage_sandbox, "http://moengage-matrix.invalid"),
                Failure.PROXY: lambda: _conn(
                    moengage_sandbox, front.url, proxies={"http": f"http://127.0.0.1:{closed_port()}"}
                ),
            }[case.failure]()
            monkeypatch.setenv("AIRFLOW_CONN_MOENGAGE_DEFAULT", first)
            _between_tries.append(lambda: monkeypatch.setenv("AIRFLOW_CONN_MOENGAGE_DEFAULT", healthy))
        if case.failure is Failure.DNS:
            real = socket.getaddrinfo

            def no_such_host(host: Any, *args: Any, **kwargs: Any) -> Any:
                if host == "moengage-matrix.invalid":  # never asks a real resolver
                    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
                return real(host, *args, **kwargs)

            monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
        if case.fault is not None:
            front.inject(Fault(case.fault.kind, case.fault.status, case.fault.accepted, case.fault.count))
            _between_tries.append(front.heal)
        dag_id = f"matrix_{uuid.uuid4().hex[:10]}"
        source = SOURCE.format(dag_id=dag_id, mode=mode, dedup=dedup, retries=RETRIES)
        result = run_dag(dag_from_source(textwrap.dedent(source), dag_id))
    log = "".join(capfd.readouterr())
    state, tries = result.tasks["fire"]
    delivered = len(moengage_sandbox.triggers)

    # The invariant, stated without the oracle below.
    if state == "success" and delivered == 0:
        assert mode == "skip" and case.rule.outcome is Outcome.UNKNOWN, log[-3000:]
    if case.rule.outcome is Outcome.NOT_DELIVERED and case.rule.airflow != FAILS_NOW:
        assert delivered >= 1, f"a not-delivered outcome was not sent again:\n{log[-3000:]}"
    if case.rule.outcome is Outcome.UNKNOWN:
        assert "may or may not have" in log

    assert (state, tries, delivered) == expected(case, mode), log[-4000:]
