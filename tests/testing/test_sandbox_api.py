"""The three documented endpoints over real HTTP: success bodies, auth, validation, declared events."""

from __future__ import annotations

import base64
import http.client
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests

from moengage_provider.testing import MoEngageSandbox
from tests.testing.sandbox_helpers import (
    API_KEY,
    CREATE,
    DOC_TRIGGER,
    SEARCH,
    SERIES_EVENTS,
    TRIGGER,
    WORKSPACE,
    call,
    error_body,
    trigger,
    without_request_id,
)

HEX24 = re.compile(r"^[0-9a-f]{24}$")


# -- success bodies ---------------------------------------------------------------------------------


def test_trigger_success_body_and_record(sandbox: MoEngageSandbox) -> None:
    response = trigger(sandbox)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"message": "The business event has been triggered"}
    [record] = sandbox.triggers
    assert record["event_name"] == "NewSeriesAlert"
    assert record["event_attributes"] == DOC_TRIGGER["event_attributes"]
    assert record["triggered_by"] == "john.doe@example.com"
    assert record["workspace_id"] == WORKSPACE
    assert HEX24.match(record["request_id"])
    assert record["received_at"].endswith("Z") and "T" in record["received_at"]


def test_trigger_without_triggered_by_and_with_a_subset_of_attributes(sandbox: MoEngageSandbox) -> None:
    # FAQ: "it is not required to pass all the attributes while triggering the business event".
    response = trigger(sandbox, {"event_name": "NewSeriesAlert", "event_attributes": {"season": "S2"}})
    assert response.status_code == 200, response.text
    assert sandbox.triggers[0]["triggered_by"] is None
    assert sandbox.triggers[0]["event_attributes"] == {"season": "S2"}


def test_create_then_search_then_trigger_in_strict_mode(sandbox: MoEngageSandbox) -> None:
    create = {
        "event_name": "NameOfOTTSeries",
        "event_attributes": [
            {"attribute_name": "season", "attribute_data_type": "string"},
            {"attribute_name": "episodes", "attribute_data_type": "int"},
            {"attribute_name": "cast", "attribute_data_type": "array"},
            {"attribute_name": "released_on", "attribute_data_type": "date"},
            {"attribute_name": "budget", "attribute_data_type": "float"},
        ],
        "created_by": "john.doe@example.com",
    }
    response = call(sandbox, CREATE, create)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"message", "event_id"}
    assert body["message"] == "The business event has been created"
    assert HEX24.match(body["event_id"])

    found = call(sandbox, SEARCH, {"event_ids": [body["event_id"]]})
    assert found.status_code == 200
    [event] = found.json()["data"]
    # The keys of the documented search example; last_received_time only once triggered (the spec
    # types it as a date-time string, not nullable).
    assert set(event) | {"last_received_time"} == {
        "db_name",
        "event_id",
        "event_name",
        "event_attributes",
        "created_at",
        "total_trigger",
        "users_in_segment",
        "usage_count",
        "created_by",
        "last_received_time",
        "_id",
    }
    assert event["event_name"] == "NameOfOTTSeries"
    assert event["event_attributes"] == create["event_attributes"]
    assert event["created_by"] == "john.doe@example.com"
    assert event["total_trigger"] == 0 and "last_received_time" not in event
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$", event["created_at"])

    # A created event counts as declared with an active campaign, even in strict mode.
    fired = trigger(sandbox, {"event_name": "NameOfOTTSeries", "event_attributes": {"budget": 1.5}})
    assert fired.status_code == 200, fired.text
    again = call(sandbox, SEARCH, {"event_names": ["NameOfOTTSeries"]}).json()["data"][0]
    assert again["total_trigger"] == 1 and again["last_received_time"]


def test_search_by_names_returns_only_known_events(sandbox: MoEngageSandbox) -> None:
    response = call(sandbox, SEARCH, {"event_names": ["NewSeriesAlert", "NoSuchEvent"]})
    assert response.status_code == 200
    data = response.json()["data"]
    assert [e["event_name"] for e in data] == ["NewSeriesAlert"]
    assert {"attribute_name": "episodes", "attribute_data_type": "int"} in data[0]["event_attributes"]


# -- 401 --------------------------------------------------------------------------------------------

MISSING_401 = error_body(
    "401 Authentication error",
    "Authentication required",
    [
        {
            "code": "InvalidValue",
            "target": "Authorization",
            "message": {
                "code": "MissingValue",
                "target": "Authorization",
                "message": "APP_ID and APP_SECRET_KEY is missing in Authorization Header.",
            },
        }
    ],
)
APP_ID_401 = error_body(
    "401 Authentication error",
    "Authentication required",
    [
        {
            "code": "InvalidValue",
            "target": "APP_ID",
            "message": [
                {"code": "InvalidValue", "target": "APP_ID", "message": "Invalid APP_ID is provided."}
            ],
        }
    ],
)
SECRET_401 = error_body(
    "401 Authentication error",
    "Authentication required",
    [
        {
            "code": "InvalidValue",
            "target": "APP_SECRET_KEY",
            "message": [
                {
                    "code": "InvalidValue",
                    "target": "APP_SECRET_KEY",
                    "message": "Invalid APP_SECRET_KEY is provided.",
                }
            ],
        }
    ],
)


@pytest.mark.parametrize("path", [TRIGGER, CREATE, SEARCH])
@pytest.mark.parametrize(
    ("headers", "expected", "recorded_workspace"),
    [
        pytest.param({}, MISSING_401, None, id="missing-header"),
        pytest.param({"Authorization": "Bearer abc"}, MISSING_401, None, id="not-basic"),
        pytest.param({"Authorization": "Basic !!!"}, MISSING_401, None, id="not-base64"),
        pytest.param(
            {"Authorization": "Basic " + base64.b64encode(f"other-ws:{API_KEY}".encode()).decode()},
            APP_ID_401,
            None,
            id="bad-workspace",
        ),
        pytest.param(
            {"Authorization": "Basic " + base64.b64encode(f"{WORKSPACE}:wrong".encode()).decode()},
            SECRET_401,
            WORKSPACE,
            id="bad-key",
        ),
    ],
)
def test_401_bodies(
    sandbox: MoEngageSandbox,
    path: str,
    headers: dict[str, str],
    expected: dict[str, Any],
    recorded_workspace: str | None,
) -> None:
    response = call(sandbox, path, DOC_TRIGGER, auth=None, headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert without_request_id(body) == expected
    assert sandbox.triggers == []
    [rejected] = sandbox.rejected
    assert rejected["status"] == 401
    assert rejected["code"] == "401 Authentication error"
    assert rejected["request_id"] == body["error"]["request_id"]
    assert rejected["workspace_id"] == recorded_workspace


def test_auth_is_checked_before_the_body(sandbox: MoEngageSandbox) -> None:
    response = call(sandbox, TRIGGER, data=b"{not json", auth=None, headers={"Content-Type": "text/plain"})
    assert response.status_code == 401
    assert without_request_id(response.json()) == MISSING_401


# -- 400: request shape -----------------------------------------------------------------------------


def _bad(message: str, target: Any, detail: str, code: str = "InvalidValue") -> dict[str, Any]:
    return error_body("400 Bad Request", message, [{"code": code, "target": target, "message": detail}])


@pytest.mark.parametrize(
    ("kwargs", "target", "code", "detail_start"),
    [
        pytest.param(
            {"data": json.dumps(DOC_TRIGGER), "headers": {"Content-Type": "text/plain"}},
            "Content-Type",
            "InvalidValue",
            "Content-Type must be application/json",
            id="content-type",
        ),
        pytest.param(
            {"data": json.dumps(DOC_TRIGGER), "headers": {}},
            "Content-Type",
            "InvalidValue",
            "Content-Type must be application/json",
            id="no-content-type",
        ),
        pytest.param(
            {"data": b'{"event_name": ', "headers": {"Content-Type": "application/json"}},
            "body",
            "InvalidValue",
            "Request body is not valid JSON",
            id="malformed-json",
        ),
        pytest.param(
            {"data": b'{"event_name": NaN}', "headers": {"Content-Type": "application/json"}},
            "body",
            "InvalidValue",
            "Request body is not valid JSON",
            id="nan-is-not-json",
        ),
        pytest.param(
            {"body": [DOC_TRIGGER]}, "body", "InvalidValue", "Request body must be a JSON object", id="array"
        ),
        pytest.param(
            {"body": {"event_attributes": {}}},
            "event_name",
            "MissingValue",
            "event_name - Field is required but value is None : None",
            id="missing-event-name",
        ),
        pytest.param(
            {"body": {"event_name": "NewSeriesAlert"}},
            "event_attributes",
            "MissingValue",
            "event_attributes - Field is required but value is None : None",
            id="missing-event-attributes",
        ),
        pytest.param(
            {"body": {"event_name": 5, "event_attributes": {}}},
            "event_name",
            "InvalidValue",
            "event_name - Not a valid non-empty string",
            id="event-name-not-string",
        ),
        pytest.param(
            {"body": {"event_name": "", "event_attributes": {}}},
            "event_name",
            "InvalidValue",
            "event_name - Not a valid non-empty string",
            id="event-name-empty",
        ),
        pytest.param(
            {"body": {"event_name": "NewSeriesAlert", "event_attributes": ["season"]}},
            "event_attributes",
            "InvalidValue",
            "event_attributes - Not a valid JSON object",
            id="event-attributes-not-object",
        ),
    ],
)
def test_400_malformed_requests(
    sandbox: MoEngageSandbox, kwargs: dict[str, Any], target: str, code: str, detail_start: str
) -> None:
    response = call(sandbox, TRIGGER, **kwargs)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "400 Bad Request"
    assert error["message"] == "Bad request"
    [detail] = error["details"]
    assert detail["code"] == code
    assert detail["target"] == target
    assert detail["message"].startswith(detail_start)
    assert HEX24.match(error["request_id"])
    assert sandbox.triggers == []
    assert sandbox.rejected[0]["status"] == 400


def test_json_with_a_charset_parameter_is_accepted(sandbox: MoEngageSandbox) -> None:
    response = call(
        sandbox,
        TRIGGER,
        data=json.dumps(DOC_TRIGGER).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200, response.text


def test_invalid_triggered_by_is_the_documented_body(sandbox: MoEngageSandbox) -> None:
    response = trigger(sandbox, {**DOC_TRIGGER, "triggered_by": "abc"})
    assert response.status_code == 400
    # Verbatim the documented "invalidEmail" example, including its top-level message.
    assert without_request_id(response.json()) == _bad(
        "Business event does not exists",
        "triggered_by",
        "triggered_by - Invalid email address : 'abc'",
        code="MissingValue",
    )


def test_additional_top_level_field_is_rejected(sandbox: MoEngageSandbox) -> None:
    response = trigger(sandbox, {**DOC_TRIGGER, "event_attribute": {}})
    assert response.status_code == 400
    message = "Additional fields are not allowed document schema for class BusinessEventTriggerRequest:event_attribute"
    assert without_request_id(response.json()) == _bad(message, "event_attribute", message)


# -- 400: declared events ---------------------------------------------------------------------------


def test_unknown_event_in_strict_mode_is_the_documented_body(sandbox: MoEngageSandbox) -> None:
    response = trigger(sandbox, {"event_name": "Series_Name", "event_attributes": {}})
    assert response.status_code == 400
    assert without_request_id(response.json()) == _bad(
        "Business event does not exists", "event_name", "Business event does not exist"
    )
    assert sandbox.rejected[0]["event_name"] == "Series_Name"
    assert sandbox.rejected[0]["message"] == "Business event does not exists"


def test_undeclared_attribute_is_the_documented_body(sandbox: MoEngageSandbox) -> None:
    response = trigger(sandbox, {"event_name": "NewSeriesAlert", "event_attributes": {"rating1": 5}})
    assert response.status_code == 400
    message = "Wrong business event attribute passed in api request"
    assert without_request_id(response.json()) == _bad(message, "rating1", message)


def test_no_active_campaign_is_the_documented_body(sandbox: MoEngageSandbox) -> None:
    response = trigger(sandbox, {"event_name": "Dormant", "event_attributes": {"x": "y"}})
    assert response.status_code == 400
    message = "No active campaign found for business event name"
    assert without_request_id(response.json()) == _bad(message, "event_name", message)


@pytest.mark.parametrize(
    ("attribute", "value", "ok"),
    [
        ("season", "Season 1", True),
        ("season", 1, False),
        ("season", None, False),
        ("episodes", 12, True),
        ("episodes", True, False),
        ("episodes", 12.5, False),
        ("episodes", "12", False),
        ("rating", 4.5, True),
        ("rating", 4, True),
        ("rating", False, False),
        ("rating", "4.5", False),
        ("cast", ["John Doe"], True),
        ("cast", "John Doe", False),
        ("cast", {"a": 1}, False),
        ("date", "11/11/2023", True),
        ("date", "2023-11-11", True),
        ("date", "2023-11-11T10:30:00Z", True),
        ("date", "2023-11-11T10:30:00+05:30", True),
        ("date", "13/45/2023", False),
        ("date", "2023-02-30", False),
        ("date", "yesterday", False),
        ("date", 20231111, False),
    ],
)
def test_declared_attribute_types(sandbox: MoEngageSandbox, attribute: str, value: Any, ok: bool) -> None:
    response = trigger(sandbox, {"event_name": "NewSeriesAlert", "event_attributes": {attribute: value}})
    if ok:
        assert response.status_code == 200, response.text
        assert sandbox.triggers[0]["event_attributes"] == {attribute: value}
    else:
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["message"] == "Bad request"
        [detail] = error["details"]
        assert detail["target"] == [attribute]
        assert detail["message"].startswith(f"['{attribute}'] - Wrong Attribute data type is passed")
        assert sandbox.triggers == []


def test_permissive_accepts_undeclared_events_but_checks_declared_ones(
    make_sandbox: Callable[..., MoEngageSandbox],
) -> None:
    sb = make_sandbox(events=SERIES_EVENTS, permissive=True)
    anything = {"event_name": "Anything", "event_attributes": {"whatever": {"nested": [1, 2]}}}
    assert trigger(sb, anything).status_code == 200
    wrong = trigger(sb, {"event_name": "NewSeriesAlert", "event_attributes": {"episodes": "twelve"}})
    assert wrong.status_code == 400
    undeclared = trigger(sb, {"event_name": "NewSeriesAlert", "event_attributes": {"nope": 1}})
    assert undeclared.json()["error"]["message"] == "Wrong business event attribute passed in api request"
    dormant = trigger(sb, {"event_name": "Dormant", "event_attributes": {}})
    assert dormant.json()["error"]["message"] == "No active campaign found for business event name"
    assert [t["event_name"] for t in sb.triggers] == ["Anything"]


def test_strict_mode_rejects_undeclared_events(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox(permissive=False)
    assert trigger(sb, {"event_name": "Anything", "event_attributes": {}}).status_code == 400
    sb.declare_event("Anything", {"a": "int"})
    assert trigger(sb, {"event_name": "Anything", "event_attributes": {"a": 1}}).status_code == 200
    sb.declare_event("Anything", {"a": "int"}, active_campaign=False)
    assert trigger(sb, {"event_name": "Anything", "event_attributes": {"a": 1}}).status_code == 400


# -- create / search errors ---------------------------------------------------------------------------


def test_create_errors(sandbox: MoEngageSandbox) -> None:
    good = {
        "event_name": "Fresh",
        "event_attributes": [{"attribute_name": "brand", "attribute_data_type": "string"}],
        "created_by": "a@example.com",
    }
    missing = call(sandbox, CREATE, {k: v for k, v in good.items() if k != "created_by"})
    assert without_request_id(missing.json()) == _bad(
        "Bad request",
        "created_by",
        "created_by - Field is required but value is None : None",
        code="MissingValue",
    )
    wrong_type = {**good, "event_attributes": [{"attribute_name": "brand", "attribute_data_type": "String"}]}
    assert without_request_id(call(sandbox, CREATE, wrong_type).json()) == _bad(
        "Bad request",
        ["brand"],
        "['brand'] - Wrong Attribute data type is passed : 'String'",
        code="MissingValue",
    )
    extra = call(sandbox, CREATE, {**good, "event_attribute": []})
    message = "Additional fields are not allowed document schema for class BusinessEventCreateRequest:event_attribute"
    assert without_request_id(extra.json()) == _bad(message, "event_attribute", message)
    assert call(sandbox, CREATE, {**good, "created_by": "nobody"}).status_code == 400

    assert call(sandbox, CREATE, good).status_code == 200
    duplicate = call(sandbox, CREATE, good)
    assert duplicate.status_code == 400
    assert duplicate.json()["error"]["message"] == "Business event with this name already exists"
    assert [r["status"] for r in sandbox.rejected] == [400] * 5


def test_create_is_limited_to_50_events_per_workspace(sandbox: MoEngageSandbox) -> None:
    for i in range(47):  # two events are declared already: 49 in all
        sandbox.declare_event(f"E{i}", {})
    body = {"event_name": "Fiftieth", "event_attributes": [], "created_by": "a@example.com"}
    assert call(sandbox, CREATE, body).status_code == 200
    over = call(sandbox, CREATE, {**body, "event_name": "FiftyFirst"})
    assert over.status_code == 400
    assert over.json()["error"]["message"].startswith("Maximum number of business events for this workspace")


def test_search_errors(sandbox: MoEngageSandbox) -> None:
    empty = call(sandbox, SEARCH, {})
    assert without_request_id(empty.json()) == _bad(
        "Bad request",
        ["event_ids", "event_names"],
        "At least one of event_ids or event_names should be provided",
        code="MissingValue",
    )
    extra = call(sandbox, SEARCH, {"event_name": "NewSeriesAlert"})
    message = (
        "Additional fields are not allowed document schema for class BusinessEventSearchRequest:event_name"
    )
    assert without_request_id(extra.json()) == _bad(message, "event_name", message)
    assert call(sandbox, SEARCH, {"event_names": "NewSeriesAlert"}).status_code == 400


# -- routing, ids, transport --------------------------------------------------------------------------


def test_unknown_path_is_404_and_wrong_method_is_405(sandbox: MoEngageSandbox) -> None:
    missing = call(sandbox, "/v1.0/business_event/fire", DOC_TRIGGER)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "404 Not Found"
    assert HEX24.match(missing.json()["error"]["request_id"])
    wrong = call(sandbox, TRIGGER, method="GET")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "POST"
    assert wrong.json()["error"]["code"] == "405 Method Not Allowed"
    assert [r["status"] for r in sandbox.rejected] == [404, 405]


def test_request_ids_are_unique_and_match_records(sandbox: MoEngageSandbox) -> None:
    ids = []
    for _ in range(20):
        response = trigger(sandbox, {"event_name": "Unknown", "event_attributes": {}})
        ids.append(response.json()["error"]["request_id"])
    assert len(set(ids)) == 20 and all(HEX24.match(i) for i in ids)
    assert [r["request_id"] for r in sandbox.rejected] == ids
    assert [r["request_id"] for r in sandbox.requests] == ids


def test_keep_alive_serves_several_requests_on_one_connection(sandbox: MoEngageSandbox) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
    auth = "Basic " + base64.b64encode(f"{WORKSPACE}:{API_KEY}".encode()).decode()
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    try:
        conn.request("POST", TRIGGER, body=json.dumps(DOC_TRIGGER), headers=headers)
        first = conn.getresponse()
        assert first.status == 200 and first.getheader("Content-Length")
        first.read()
        sock = conn.sock
        for body in ({"event_name": "Nope", "event_attributes": {}}, DOC_TRIGGER):
            conn.request("POST", TRIGGER, body=json.dumps(body), headers=headers)
            response = conn.getresponse()
            assert response.getheader("Content-Length") == str(len(response.read()))
            assert conn.sock is sock  # no reconnect: the server kept the connection open
    finally:
        conn.close()
    assert len(sandbox.triggers) == 2


def test_chunked_request_body_is_read(sandbox: MoEngageSandbox) -> None:
    payload = json.dumps(DOC_TRIGGER).encode()
    response = requests.post(
        sandbox.url + TRIGGER,
        data=iter([payload[:10], payload[10:]]),
        headers={"Content-Type": "application/json"},
        auth=(WORKSPACE, API_KEY),
        timeout=5,
    )
    assert response.status_code == 200, response.text
    assert sandbox.requests[0]["body"] == payload


def test_oversized_body_is_413(make_sandbox: Callable[..., MoEngageSandbox]) -> None:
    sb = make_sandbox(max_body_bytes=100)
    body = {"event_name": "X", "event_attributes": {"a": "x" * 200}}
    response = trigger(sb, body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "413 Request Entity Too Large"
    assert trigger(sb, {"event_name": "X", "event_attributes": {}}).status_code == 200
