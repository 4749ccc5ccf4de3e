"""Fault injection: error statuses, stalls, dropped connections; normal service afterwards."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from moengage_provider.testing import MoEngageSandbox
from tests.testing.sandbox_helpers import (
    SEARCH,
    TRIGGER,
    call,
    trigger,
    wait_for,
)


@pytest.fixture
def sb(make_sandbox: Callable[..., MoEngageSandbox]) -> MoEngageSandbox:
    return make_sandbox()


def test_fail_with_html_502_then_normal_service(sb: MoEngageSandbox) -> None:
    sb.fail_next(502, count=2)
    session = requests.Session()
    for _ in range(2):
        response = trigger(sb, session=session)
        assert response.status_code == 502
        assert response.headers["Content-Type"].startswith("text/html")
        assert "<h1>502 Bad Gateway</h1>" in response.text
    assert sb.triggers == []
    assert [(r["status"], r["code"]) for r in sb.rejected] == [(502, "502 injected fault")] * 2
    assert trigger(sb, session=session).status_code == 200  # faults consumed
    assert len(sb.triggers) == 1
    assert sb.pending_faults() == 0


@pytest.mark.parametrize(
    ("status", "content_type", "check"),
    [
        (
            500,
            "application/json",
            lambda r: (
                r.json()
                == {
                    "title": "Internal Server Error",
                    "message": "An unexpected error was encountered while processing this request. "
                    "Please contact MoEngage Team",
                }
            ),
        ),
        (503, "application/json", lambda r: r.json()["message"] == "Request not processed. Please retry."),
        (504, "text/html", lambda r: "504 Gateway Timeout" in r.text),
        (429, "application/json", lambda r: r.json()["data"]["title"] == "rate limiter exception"),
        (
            403,
            "application/json",
            lambda r: (
                r.json()["error"]["code"] == "403 Forbidden" and len(r.json()["error"]["request_id"]) == 24
            ),
        ),
    ],
)
def test_default_fault_bodies(sb: MoEngageSandbox, status: int, content_type: str, check: Any) -> None:
    sb.fail_next(status)
    response = trigger(sb)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith(content_type)
    assert check(response)


def test_fail_with_custom_body_headers_and_path_filter(sb: MoEngageSandbox) -> None:
    sb.fail_next(503, body="", content_type="text/plain", path=TRIGGER, headers={"Retry-After": "7"})
    assert call(sb, SEARCH, {"event_names": ["X"]}).status_code == 200  # other path: unaffected
    response = trigger(sb)
    assert (response.status_code, response.text, response.headers["Retry-After"]) == (503, "", "7")
    sb.fail_next(500, body={"weird": True})
    assert trigger(sb).json() == {"weird": True}
    assert trigger(sb).status_code == 200


def test_stall_longer_than_the_client_timeout(sb: MoEngageSandbox) -> None:
    sb.stall_next(0.8)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        trigger(sb, timeout=0.3)
    assert time.monotonic() - started < 0.7
    # Meanwhile the sandbox answers other requests.
    assert trigger(sb).status_code == 200
    # The stalled request finds its client gone, and is not processed.
    assert wait_for(lambda: any(r["code"] == "client gone" for r in sb.rejected))
    assert len(sb.triggers) == 1
    assert trigger(sb).status_code == 200


@pytest.mark.parametrize("after_body", [True, False])
def test_stall_shorter_than_the_client_timeout_is_processed(sb: MoEngageSandbox, after_body: bool) -> None:
    sb.stall_next(0.25, after_body=after_body)
    started = time.monotonic()
    response = trigger(sb, timeout=5)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.25
    assert len(sb.triggers) == 1


@pytest.mark.parametrize("after_body", [True, False])
def test_drop_closes_without_answer_and_records_nothing(sb: MoEngageSandbox, after_body: bool) -> None:
    sb.drop_next(after_body=after_body)
    with pytest.raises(requests.exceptions.ConnectionError):
        trigger(sb)
    assert sb.triggers == []
    [rejected] = sb.rejected
    assert (rejected["status"], rejected["code"]) == (None, "dropped")
    assert sb.requests[0]["status"] is None
    assert trigger(sb).status_code == 200


def test_drop_with_accept_records_the_trigger(sb: MoEngageSandbox) -> None:
    sb.drop_next(accept=True)
    session = requests.Session()
    with pytest.raises(requests.exceptions.ConnectionError):
        trigger(sb, session=session)
    assert len(sb.triggers) == 1  # processed, but the client never heard of it
    assert trigger(sb, session=session).status_code == 200
    assert len(sb.triggers) == 2
    with pytest.raises(ValueError):
        sb.drop_next(accept=True, after_body=False)


def test_faults_through_the_control_api_and_not_applied_to_it(sb: MoEngageSandbox) -> None:
    for fault in (
        {"kind": "fail", "status": 504},
        {"kind": "drop"},
        {"kind": "stall", "seconds": 0.05},
    ):
        response = requests.post(sb.url + "/_sandbox/faults", json=fault, timeout=5)
        assert response.status_code == 200, response.text
    assert requests.get(sb.url + "/_sandbox/health", timeout=5).status_code == 200  # not faulted
    assert trigger(sb).status_code == 504
    with pytest.raises(requests.exceptions.ConnectionError):
        trigger(sb)
    assert trigger(sb).status_code == 200
    bad = requests.post(sb.url + "/_sandbox/faults", json={"kind": "explode"}, timeout=5)
    assert bad.status_code == 400
    assert requests.post(sb.url + "/_sandbox/faults", json={"kind": "fail"}, timeout=5).status_code == 400


def test_stop_is_prompt_with_a_stalled_request(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox()
    sb.stall_next(60)
    errors: list[BaseException] = []

    def fire() -> None:
        try:
            trigger(sb, timeout=30)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=fire)
    thread.start()
    assert wait_for(lambda: sb.pending_faults() == 0)
    started = time.monotonic()
    sb.stop()
    sb.stop()  # idempotent
    assert time.monotonic() - started < 1.0
    thread.join(5)
    assert not thread.is_alive()
    assert errors and isinstance(errors[0], requests.exceptions.ConnectionError)
    assert sb.triggers == []


def test_stop_closes_idle_keep_alive_connections(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox()
    session = requests.Session()
    assert trigger(sb, session=session).status_code == 200
    sb.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        trigger(sb, session=session)
