"""V5 trigger over real HTTP: the three triggered_status answers from attached campaigns, flows and
quotas, request ids, validation, the V5 error shapes, records and the access log."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from moengage_provider.testing import MoEngageSandbox
from tests.testing.sandbox_helpers import API_KEY, TRIGGER, WORKSPACE, FakeClock, call

V5_TRIGGER = "/v5/business-events/triggers"
V5_SEARCH = "/v5/business-events/search"
CAMPAIGN_A, CAMPAIGN_B, FLOW = (
    "64a1b2c3d4e5f6a7b8c9d0e1",
    "64a1b2c3d4e5f6a7b8c9d0e2",
    "64a1b2c3d4e5f6a7b8c9d0f1",
)
EVENTS: dict[str, dict[str, Any]] = {
    "PriceDrop": {
        "attributes": {"sku": "string", "price": "number", "on_sale": "boolean", "dropped_at": "datetime"},
        "campaigns": [{"id": CAMPAIGN_A, "quota": 1}, CAMPAIGN_B],
        "flows": [{"id": FLOW, "quota": 2}],
    },
    "Legacy": {"attributes": {"n": "int", "when": "date", "tags": "array"}},
    "Unused": {"attributes": {}, "active_campaign": False},
}
BODY = {"event_name": "PriceDrop", "triggered_by": "ops@example.com", "event_attributes": {"sku": "S-1"}}
RESPONSE_ID = re.compile(r"^resp_[0-9a-f]{32}$")


def v5(sb: MoEngageSandbox, body: Any = None, **kwargs: Any) -> requests.Response:
    return call(sb, V5_TRIGGER, BODY if body is None else body, **kwargs)


@pytest.fixture
def strict(make_sandbox: Callable[..., MoEngageSandbox]) -> MoEngageSandbox:
    return make_sandbox(events=EVENTS, permissive=False, clock=FakeClock(1_000_000.0))


def test_the_answer_says_what_the_trigger_reached(strict: MoEngageSandbox) -> None:
    first = v5(strict)
    assert first.status_code == 200
    assert first.json()["type"] == "business-event"
    assert first.json()["data"] == {
        "triggered_status": "SUCCESS",
        "message": "The business event has been triggered",
        "summary": {"total": 3, "triggered": 3, "failed": 0},
        "triggered_campaign_ids": [CAMPAIGN_A, CAMPAIGN_B],
        "failed_campaign_ids": [],
        "triggered_flow_ids": [FLOW],
        "failed_flow_ids": [],
    }
    second = v5(strict).json()["data"]  # campaign A's quota (1) is spent: skipped
    assert (second["triggered_status"], second["summary"]) == (
        "PARTIAL_SUCCESS",
        {"total": 3, "triggered": 2, "failed": 1},
    )
    assert second["failed_campaign_ids"] == [CAMPAIGN_A] and second["triggered_flow_ids"] == [FLOW]
    strict.declare_event(
        "PriceDrop", EVENTS["PriceDrop"]["attributes"], campaigns=[{"id": CAMPAIGN_A, "quota": 0}]
    )
    spent = v5(strict)
    assert spent.status_code == 200  # processed: a client that reads only the status calls it a success
    assert spent.json()["data"]["triggered_status"] == "FAILURE"
    assert spent.json()["data"]["summary"] == {"total": 1, "triggered": 0, "failed": 1}
    nothing = v5(strict, {"event_name": "Unused", "triggered_by": "ops@example.com"}).json()["data"]
    assert (nothing["triggered_status"], nothing["summary"]) == (
        "FAILURE",
        {"total": 0, "triggered": 0, "failed": 0},
    )
    assert [t["triggered_status"] for t in strict.triggers] == [
        "SUCCESS",
        "PARTIAL_SUCCESS",
        "FAILURE",
        "FAILURE",
    ]
    strict.reset()  # quotas are spent per trigger; reset gives them back
    assert v5(strict).json()["data"]["triggered_status"] == "FAILURE"  # quota 0 stays 0
    legacy = call(strict, TRIGGER, {"event_name": "Unused", "event_attributes": {}})
    assert legacy.status_code == 400  # the same event, legacy: "No active campaign found"


def test_request_ids_are_echoed_generated_and_checked(strict: MoEngageSandbox) -> None:
    sent = "550E8400-E29B-41D4-A716-446655440000"
    echoed = v5(strict, headers={"X-MOE-Request-Id": sent})
    assert echoed.headers["X-MOE-Request-Id"] == sent.lower()
    assert echoed.json()["response_id"] == "resp_550e8400e29b41d4a716446655440000"
    generated = v5(strict)
    assert uuid.UUID(generated.headers["X-MOE-Request-Id"]).version == 4
    assert generated.json()["response_id"] == "resp_" + generated.headers["X-MOE-Request-Id"].replace("-", "")
    in_body = v5(strict, {**BODY, "moe_request_id": "9f2c1b7a-4d3e-4a08-b5c6-1e7d02f43a91"})
    assert in_body.json()["response_id"] == "resp_9f2c1b7a4d3e4a08b5c61e7d02f43a91"
    refused = v5(strict, {"event_name": "Nope"}, headers={"X-MOE-Request-Id": sent})
    assert refused.json()["response_id"] == echoed.json()["response_id"]  # errors carry it too
    assert refused.headers["X-MOE-Request-Id"] == sent.lower()
    bad = v5(strict, headers={"X-MOE-Request-Id": "not-a-uuid"})
    assert bad.status_code == 400
    assert bad.json()["error"]["details"][0]["field"] == "X-MOE-Request-Id"
    assert RESPONSE_ID.match(bad.json()["response_id"])
    records = strict.triggers
    assert [r["response_id"] for r in records] == [
        echoed.json()["response_id"],
        generated.json()["response_id"],
        in_body.json()["response_id"],
    ]
    assert records[0]["moe_request_id"] == sent.lower() and records[0]["api_version"] == "v5"
    assert strict.rejected[-1]["response_id"] == bad.json()["response_id"]


@pytest.mark.parametrize(
    ("body", "field", "issue"),
    [
        pytest.param(
            {"event_name": "PriceDrop"}, "triggered_by", "MISSING_VALUE", id="triggered_by-required"
        ),
        pytest.param(
            {**BODY, "triggered_by": "abc"}, "triggered_by", "INVALID_FORMAT", id="triggered_by-email"
        ),
        pytest.param({"triggered_by": "a@b.co"}, "event_name", "MISSING_VALUE", id="event_name-required"),
        pytest.param(
            {**BODY, "event_attributes": [1]}, "event_attributes", "INVALID_TYPE", id="attributes-object"
        ),
        pytest.param(
            {**BODY, "moe_request_id": "x"}, "moe_request_id", "INVALID_FORMAT", id="moe_request_id"
        ),
        pytest.param(
            {**BODY, "event_attributes": {"price": "9"}},
            "event_attributes.price",
            "INVALID_TYPE",
            id="number",
        ),
        pytest.param(
            {**BODY, "event_attributes": {"on_sale": 1}},
            "event_attributes.on_sale",
            "INVALID_TYPE",
            id="bool",
        ),
        pytest.param(
            {**BODY, "event_attributes": {"dropped_at": "08/03/2026"}},
            "event_attributes.dropped_at",
            "INVALID_TYPE",
            id="datetime-not-iso",
        ),
        pytest.param(
            {**BODY, "event_attributes": {"colour": "red"}}, "colour", "INVALID_VALUE", id="undeclared"
        ),
    ],
)
def test_validation_failures_name_the_field(
    strict: MoEngageSandbox, body: dict[str, Any], field: str, issue: str
) -> None:
    answer = v5(strict, body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert [(d["field"], d["issue"]) for d in error["details"]] == [(field, issue)]
    assert strict.triggers == [] and strict.rejected[-1]["code"] == "VALIDATION_FAILED"


def test_v5_types_and_the_documented_unknown_event(strict: MoEngageSandbox) -> None:
    typed = {"sku": "S", "price": 3, "on_sale": False, "dropped_at": "2026-08-03T09:12:00Z"}
    assert v5(strict, {**BODY, "event_attributes": typed}).status_code == 200
    assert v5(strict, {**BODY, "event_attributes": {"dropped_at": "2026-08-03"}}).status_code == 200
    legacy_typed = {"n": 1.5, "when": "2026-08-03T09:12:00+02:00", "tags": ["a"]}  # int is a number in V5
    assert v5(strict, {**BODY, "event_name": "Legacy", "event_attributes": legacy_typed}).status_code == 200
    unknown = v5(strict, {**BODY, "event_name": "Nope"})
    assert unknown.status_code == 400
    assert unknown.json()["error"] == {
        "code": "VALIDATION_FAILED",
        "message": "Business event does not exists",
        "target": "event_name",
        "details": [
            {"field": "event_name", "issue": "INVALID_VALUE", "message": "Business event does not exists"}
        ],
    }


def test_permissive_mode_accepts_undeclared_events_with_one_campaign(
    make_sandbox: Callable[..., MoEngageSandbox],
) -> None:
    sb = make_sandbox()
    answers = [v5(sb, {"event_name": "Anything", "triggered_by": "a@b.co"}).json()["data"] for _ in range(2)]
    assert [a["triggered_status"] for a in answers] == ["SUCCESS", "SUCCESS"]
    assert answers[0]["triggered_campaign_ids"] == answers[1]["triggered_campaign_ids"]
    assert re.match(r"^[0-9a-f]{24}$", answers[0]["triggered_campaign_ids"][0])


def test_errors_in_the_v5_shapes(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox(five_minute_limit=1, business_events_scope=False)
    forbidden = v5(sb)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "FORBIDDEN"
    assert (
        call(sb, TRIGGER, {"event_name": "E", "event_attributes": {}}).status_code == 401
    )  # legacy: no scopes
    requests.post(
        sb.url + "/_sandbox/keys", json={"api_key": API_KEY, "business_events_scope": True}, timeout=5
    )
    missing = v5(sb, auth=None)
    assert missing.status_code == 401
    assert missing.json()["error"] == {
        "code": "AUTHENTICATION_REQUIRED",
        "message": "Workspace ID and API key are missing from the Authorization header.",
        "target": "Authorization",
    }
    assert v5(sb).status_code == 200
    limited = v5(sb)
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert int(limited.headers["Retry-After"]) >= 1  # documented on V5's 429: always there
    sb.fail_next(500, path=V5_TRIGGER)
    broken = v5(sb)
    assert broken.status_code == 500 and broken.json()["error"]["code"] == "INTERNAL_ERROR"
    assert RESPONSE_ID.match(broken.json()["response_id"])
    assert (
        v5(sb, data="{", headers={"Content-Type": "application/json"}).json()["error"]["code"]
        == "VALIDATION_FAILED"
    )
    assert call(sb, "/v5/business-events/trigger", BODY).json()["error"]["code"] == "NOT_FOUND"
    assert call(sb, V5_TRIGGER, method="GET").headers["Allow"] == "POST"


def test_triggers_through_both_apis_share_the_windows_and_the_counters(
    make_sandbox: Callable[..., MoEngageSandbox],
) -> None:
    sb = make_sandbox(events=EVENTS, permissive=False, five_minute_limit=3)
    legacy_body = {"event_name": "PriceDrop", "event_attributes": {"sku": "S"}}
    assert call(sb, TRIGGER, legacy_body).status_code == 200
    assert v5(sb).status_code == 200
    assert v5(sb).headers["x-ratelimit-remaining"] == "0"
    assert call(sb, TRIGGER, legacy_body).status_code == 429
    found = call(sb, V5_SEARCH, {"filters": {"names": ["PriceDrop"]}}).json()["data"]
    assert found[0]["trigger_count"] == 3
    assert found[0]["campaign_count"] == 2 + 1 + 1  # A and B, then B alone (A's quota is 1)
    assert [t.get("api_version") for t in sb.triggers] == [None, "v5", "v5"]


def test_the_access_log_says_the_status_and_the_response_id(
    strict: MoEngageSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="moengage_provider.testing.sandbox"):
        answer = v5(strict, headers={"X-MOE-Request-Id": "9f2c1b7a-4d3e-4a08-b5c6-1e7d02f43a91"})
    [line] = [r.getMessage() for r in caplog.records if V5_TRIGGER in r.getMessage()]
    assert f"POST {V5_TRIGGER} -> 200 SUCCESS event=PriceDrop" in line
    assert line.endswith(f"response_id={answer.json()['response_id']}")
    assert WORKSPACE not in line and API_KEY not in line


def test_the_airflow_connection_can_carry_extras(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    from airflow.models.connection import Connection

    sb = make_sandbox()
    plain = Connection.from_json(sb.airflow_conn_json())
    assert plain.extra_dejson == {} and plain.port == sb.port
    conn = sb.airflow_connection(extra={"api_version": "v5"})
    from_json = Connection.from_json(conn.json())
    from_uri = Connection(uri=conn.uri())
    for parsed in (from_json, from_uri):
        assert parsed.extra_dejson == {"api_version": "v5"}
        assert (parsed.host, parsed.port, parsed.login, parsed.password) == (
            "127.0.0.1",
            sb.port,
            WORKSPACE,
            API_KEY,
        )
