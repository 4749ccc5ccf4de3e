"""Records (Python, control API, JSON lines), the control API, logging, and secrecy of the key."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from moengage_provider.testing import MoEngageSandbox
from tests.testing.sandbox_helpers import (
    API_KEY,
    CREATE,
    SEARCH,
    TRIGGER,
    WORKSPACE,
    call,
    trigger,
)

SECRET_FORMS = (
    API_KEY,
    f"{WORKSPACE}:{API_KEY}",
    base64.b64encode(f"{WORKSPACE}:{API_KEY}".encode()).decode(),
)


def test_triggers_from_python_control_api_and_jsonl_file(
    make_sandbox: Callable[..., MoEngageSandbox], tmp_path: Path
) -> None:
    record_file = tmp_path / "triggers.jsonl"
    sb = make_sandbox(record_file=record_file)
    assert trigger(sb).status_code == 200
    second = {"event_name": "Other", "event_attributes": {"n": 1}}
    assert trigger(sb, second).status_code == 200
    assert trigger(sb, {"event_name": "Bad", "event_attributes": []}).status_code == 400

    from_python = sb.triggers
    assert [t["event_name"] for t in from_python] == ["NewSeriesAlert", "Other"]
    assert from_python[1]["event_attributes"] == {"n": 1}
    from_http = requests.get(sb.url + "/_sandbox/triggers", timeout=5).json()
    from_file = [json.loads(line) for line in record_file.read_text().splitlines()]
    assert from_http == from_python == from_file
    # The Python view is a copy.
    from_python[0]["event_name"] = "changed"
    assert sb.triggers[0]["event_name"] == "NewSeriesAlert"


def test_rejected_records(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox(permissive=False)
    response = trigger(sb, {"event_name": "Nope", "event_attributes": {}})
    unauthorized = trigger(sb, auth=None)
    [first, second] = sb.rejected
    assert first == {
        "path": TRIGGER,
        "status": 400,
        "code": "400 Bad Request",
        "message": "Business event does not exists",
        "workspace_id": WORKSPACE,
        "received_at": first["received_at"],
        "request_id": response.json()["error"]["request_id"],
        "event_name": "Nope",
        "details": [
            {"code": "InvalidValue", "target": "event_name", "message": "Business event does not exist"}
        ],
    }
    assert second["status"] == 401 and second["workspace_id"] is None
    assert second["request_id"] == unauthorized.json()["error"]["request_id"]
    assert requests.get(sb.url + "/_sandbox/rejected", timeout=5).json() == sb.rejected
    assert sb.triggers == []


def test_request_records_keep_the_raw_body_and_hide_the_authorization(
    make_sandbox: Callable[..., MoEngageSandbox],
) -> None:
    sb = make_sandbox()
    raw = b'{"event_name":"E",  "event_attributes":{"caf\xc3\xa9":1}}'
    call(sb, TRIGGER, data=raw, headers={"Content-Type": "application/json", "X-Trace": "t1"})
    call(sb, TRIGGER, data=raw, auth=None, headers={"Content-Type": "application/json"})
    with_auth, without_auth = sb.requests
    assert with_auth["body"] == raw
    assert with_auth["method"] == "POST" and with_auth["path"] == TRIGGER and with_auth["status"] == 200
    assert with_auth["headers"]["authorization"] == "<redacted>"
    assert with_auth["headers"]["x-trace"] == "t1"
    assert "authorization" not in without_auth["headers"]
    assert without_auth["status"] == 401
    over_http = requests.get(sb.url + "/_sandbox/requests", timeout=5).json()
    assert over_http[0]["body"] == raw.decode("utf-8")
    assert over_http[0]["headers"]["authorization"] == "<redacted>"
    assert len(over_http) == 2  # control-API requests are not recorded


def test_control_api_events_reset_health_rate_limit(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox(permissive=False, hourly_limit=1)
    health = requests.get(sb.url + "/_sandbox/health", timeout=5)
    assert health.json()["status"] == "ok" and health.json()["url"] == sb.url
    declared = requests.post(
        sb.url + "/_sandbox/events",
        json={
            "name": "PriceDrop",
            "attributes": {"sku": "string", "price": "float"},
            "active_campaign": True,
        },
        timeout=5,
    )
    assert declared.status_code == 200, declared.text
    bulk = requests.post(
        sb.url + "/_sandbox/events", json={"events": {"Off": {"active_campaign": False}}}, timeout=5
    )
    assert bulk.status_code == 200
    listed = requests.get(sb.url + "/_sandbox/events", timeout=5).json()
    assert listed["PriceDrop"]["attributes"] == {"sku": "string", "price": "float"}
    assert listed["Off"]["active_campaign"] is False
    bad = requests.post(
        sb.url + "/_sandbox/events", json={"name": "X", "attributes": {"a": "bool"}}, timeout=5
    )
    assert bad.status_code == 400

    assert trigger(sb, {"event_name": "PriceDrop", "event_attributes": {"price": 9.5}}).status_code == 200
    assert trigger(sb, {"event_name": "PriceDrop", "event_attributes": {}}).status_code == 429
    assert requests.get(sb.url + "/_sandbox/rate_limit", timeout=5).json()["hour_count"] == 1
    sb.fail_next(500)

    assert requests.post(sb.url + "/_sandbox/reset", timeout=5).json() == {"status": "ok"}
    assert sb.triggers == [] and sb.rejected == [] and sb.requests == []
    assert sb.pending_faults() == 0 and sb.rate_limit_state()["hour_count"] == 0
    # Declared events survive a reset.
    assert trigger(sb, {"event_name": "PriceDrop", "event_attributes": {"sku": "A1"}}).status_code == 200

    assert requests.get(sb.url + "/_sandbox/nope", timeout=5).status_code == 404
    assert requests.post(sb.url + "/_sandbox/triggers", timeout=5).status_code == 405


def test_one_log_line_per_request_and_nothing_on_stderr(
    make_sandbox: Callable[..., MoEngageSandbox],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO, logger="moengage_provider.testing.sandbox")
    sb = make_sandbox()
    ok = trigger(sb)
    bad = trigger(sb, auth=None)
    lines = [r.getMessage() for r in caplog.records if r.name == "moengage_provider.testing.sandbox"]
    assert len(lines) == 2
    assert lines[0].startswith(f"POST {TRIGGER} -> 200 event=NewSeriesAlert request_id=")
    assert lines[0].endswith(sb.requests[0]["request_id"])
    assert lines[1].startswith(f"POST {TRIGGER} -> 401")
    assert bad.json()["error"]["request_id"] in lines[1]
    assert ok.status_code == 200
    out, err = capfd.readouterr()
    # BaseHTTPRequestHandler's own access log ('127.0.0.1 - - [date] "POST ... HTTP/1.1" 200 -') is
    # silenced. (Other libraries' handlers, e.g. Airflow's when an earlier test configured it, may
    # write to stderr in the same process: look for the handler's lines, not for an empty stream.)
    for stream in (out, err):
        assert f'"POST {TRIGGER} HTTP/1.1"' not in stream
        assert "127.0.0.1 - -" not in stream


def test_the_api_key_never_appears_in_any_output(
    make_sandbox: Callable[..., MoEngageSandbox],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG, logger="moengage_provider.testing.sandbox")
    record_file = tmp_path / "triggers.jsonl"
    sb = make_sandbox(
        record_file=record_file, permissive=False, events={"NewSeriesAlert": {"attributes": {}}}
    )
    session = requests.Session()
    session.auth = (WORKSPACE, API_KEY)
    # Every kind of outcome, with the key also in the query string and in a custom header.
    trigger(sb, {"event_name": "NewSeriesAlert", "event_attributes": {}}, session=session)
    call(
        sb,
        TRIGGER + f"?key={API_KEY}",
        {"event_name": "NewSeriesAlert", "event_attributes": {}},
        headers={"X-Api-Key": API_KEY},
        session=session,
    )
    trigger(sb, session=session)
    trigger(sb, auth=(WORKSPACE, "wrong"))
    trigger(sb, auth=(API_KEY, WORKSPACE))  # swapped credentials
    trigger(sb, auth=None, headers={"Authorization": "Basic " + SECRET_FORMS[2]})
    call(
        sb,
        CREATE,
        {"event_name": "E", "event_attributes": [], "created_by": "a@example.com"},
        session=session,
    )
    call(sb, SEARCH, {"event_names": ["E"]}, session=session)
    call(sb, "/v1.0/else", {}, session=session)
    sb.fail_next(502)
    trigger(sb, session=session)
    sb.drop_next()
    with pytest.raises(requests.exceptions.ConnectionError):
        trigger(sb, session=session)

    control = {
        name: requests.get(sb.url + f"/_sandbox/{name}", timeout=5).text
        for name in ("triggers", "rejected", "requests", "health", "rate_limit", "events")
    }
    texts = {
        "logs": caplog.text,
        "stdout+stderr": "".join(capfd.readouterr()),
        "record file": record_file.read_text(),
        "triggers": repr(sb.triggers),
        "rejected": repr(sb.rejected),
        "requests": repr(sb.requests),
        "repr": repr(sb),
        **control,
    }
    assert len(sb.requests) == 11 and len(sb.triggers) == 2
    assert sb.requests[1]["path"] == TRIGGER + "?key=<redacted>"
    assert sb.requests[1]["headers"]["x-api-key"] == "<redacted>"
    for name, text in texts.items():
        for secret in SECRET_FORMS:
            assert secret not in text, f"{secret!r} found in {name}"
    # The grep itself works: the key is where it must be.
    assert API_KEY in sb.airflow_conn_json()
