"""8 threads, 400 triggers: none lost, each counted once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import requests

from moengage_provider.testing import MoEngageSandbox
from tests.testing.sandbox_helpers import API_KEY, TRIGGER, WORKSPACE

THREADS = 8
PER_THREAD = 50


def test_400_concurrent_triggers_are_each_recorded_once(
    make_sandbox: Callable[..., MoEngageSandbox], tmp_path: Path
) -> None:
    record_file = tmp_path / "triggers.jsonl"
    sb = make_sandbox(
        hourly_limit=10_000,
        daily_limit=10_000,
        record_file=record_file,
        permissive=False,
        events={"Load": {"attributes": {"thread": "int", "seq": "int"}}},
    )
    statuses: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def worker(thread_no: int) -> None:
        session = requests.Session()  # keep-alive, like the hook
        session.auth = (WORKSPACE, API_KEY)
        barrier.wait()
        try:
            for seq in range(PER_THREAD):
                body = {"event_name": "Load", "event_attributes": {"thread": thread_no, "seq": seq}}
                response = session.post(sb.url + TRIGGER, json=body, timeout=10)
                with lock:
                    statuses.append(response.status_code)
        except BaseException as exc:  # pragma: no cover - reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    total = THREADS * PER_THREAD
    assert errors == []
    assert statuses == [200] * total
    triggers = sb.triggers
    assert len(triggers) == total
    assert len({t["request_id"] for t in triggers}) == total
    pairs = {(t["event_attributes"]["thread"], t["event_attributes"]["seq"]) for t in triggers}
    assert pairs == {(n, s) for n in range(THREADS) for s in range(PER_THREAD)}
    assert len(sb.requests) == total
    assert sb.rate_limit_state()["hour_count"] == total
    assert sb.rate_limit_state()["day_count"] == total
    lines = record_file.read_text().splitlines()
    assert [json.loads(line)["request_id"] for line in lines] == [t["request_id"] for t in triggers]
