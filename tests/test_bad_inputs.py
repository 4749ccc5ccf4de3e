"""
Bad input, tried on purpose: each case gives a clear error naming the field or the cause, and the
sandbox shows nothing was accepted.
"""

from __future__ import annotations

import json

import pytest

from moengage_provider.exceptions import (
    MoEngageApiError,
    MoEngageConfigurationError,
    MoEngageConnectionError,
    MoEngageValidationError,
)
from moengage_provider.hooks.moengage import MoEngageHook
from moengage_provider.operators.business_event import TriggerBusinessEventOperator
from tests.ports import closed_port
from tests.rawhttp import CannedAnswer, RawHttpServer

GOOD = {"event_name": "NewSeriesAlert", "event_attributes": {"season": "Season 1"}, "triggered_by": None}

PAYLOAD_CASES = [
    ("empty name", {"event_name": ""}, r"event_name: is empty"),
    ("name None", {"event_name": None}, r"event_name: must be a string"),
    ("name int", {"event_name": 123}, r"event_name: must be a string .* got int"),
    ("name padded", {"event_name": " NewSeriesAlert "}, r"event_name: .* leading or trailing whitespace"),
    ("attributes list", {"event_attributes": ["a"]}, r"event_attributes: must be an object .* got list"),
    ("attributes None", {"event_attributes": None}, r"event_attributes: must be an object .* got NoneType"),
    ("attribute key int", {"event_attributes": {1: "a"}}, r"event_attributes: key 1 is a int"),
    (
        "attribute key empty",
        {"event_attributes": {" ": "a"}},
        r"event_attributes: has an empty attribute name",
    ),
    (
        "nested object",
        {"event_attributes": {"cast": {"lead": "A"}}},
        r"event_attributes\.cast: is a nested object",
    ),
    ("set", {"event_attributes": {"tags": {"a", "b"}}}, r"event_attributes\.tags: is a set"),
    ("bytes", {"event_attributes": {"raw": b"x"}}, r"event_attributes\.raw: is bytes"),
    ("NaN", {"event_attributes": {"score": float("nan")}}, r"event_attributes\.score: is nan"),
    ("infinity", {"event_attributes": {"score": float("inf")}}, r"event_attributes\.score: is inf"),
    ("None value", {"event_attributes": {"season": None}}, r"event_attributes\.season: is None"),
    ("boolean", {"event_attributes": {"new": True}}, r"event_attributes\.new: is a boolean"),
    ("object value", {"event_attributes": {"when": object()}}, r"event_attributes\.when: has type object"),
    ("nested list", {"event_attributes": {"grid": [[1]]}}, r"event_attributes\.grid\[0\]: is a nested list"),
    (
        "dict in list",
        {"event_attributes": {"cast": [{"a": 1}]}},
        r"event_attributes\.cast\[0\]: is a nested object",
    ),
    ("email no at", {"triggered_by": "abc"}, r"triggered_by: 'abc' is not an email address"),
    ("email no domain dot", {"triggered_by": "a@b"}, r"triggered_by: 'a@b' is not an email address"),
    ("email int", {"triggered_by": 5}, r"triggered_by: must be an email address string"),
    (
        "huge payload",
        {"event_attributes": {"blob": "x" * 300_000}},
        r"event_attributes: makes a 300,\d+-byte request",
    ),
]


@pytest.mark.parametrize(("case", "change", "message"), PAYLOAD_CASES, ids=[c[0] for c in PAYLOAD_CASES])
def test_bad_payload_through_the_hook(moengage_sandbox, case, change, message):
    call = {**GOOD, **change}
    with pytest.raises(MoEngageValidationError, match=message) as info:
        MoEngageHook().trigger_business_event(**call)
    assert "Nothing was sent" in str(info.value)
    assert moengage_sandbox.requests == []


@pytest.mark.parametrize(("case", "change", "message"), PAYLOAD_CASES, ids=[c[0] for c in PAYLOAD_CASES])
def test_bad_payload_through_the_operator(moengage_sandbox, case, change, message):
    fields = {**GOOD, **change}
    try:
        op = TriggerBusinessEventOperator(task_id="fire", **fields)
    except ValueError as err:  # a literal that no template can change: refused at DAG parse
        assert json.dumps(str(err))  # readable text
        import re

        assert re.search(message, str(err)), str(err)
        assert "'fire'" in str(err)
    else:
        with pytest.raises(MoEngageValidationError, match=message):
            op.execute(context={})  # type: ignore[arg-type]
    assert moengage_sandbox.requests == []


CONNECTION_CASES = [
    ("no workspace id", {"login": ""}, MoEngageConfigurationError, r"Workspace ID \(login\) is empty"),
    ("no api key", {"password": ""}, MoEngageConfigurationError, r"API Key \(password\) is empty"),
    (
        "unknown data center",
        {"host": "", "extra": {"data_center": "eu"}},
        MoEngageConfigurationError,
        r"data_center 'eu' is not a MoEngage data center",
    ),
    (
        "data center 07",
        {"host": "", "extra": {"data_center": "07"}},
        MoEngageConfigurationError,
        r"DC-01 \(US\), DC-02 \(EU\), DC-03 \(India\)",
    ),
    ("neither host nor data center", {"host": ""}, MoEngageConfigurationError, r"set the data center"),
    (
        "host with bad scheme",
        {"host": "ftp://127.0.0.1"},
        MoEngageConfigurationError,
        r"not a usable base URL",
    ),
    ("timeout not a number", {"extra": {"timeout": "soon"}}, MoEngageConfigurationError, r"timeout 'soon'"),
    ("timeout negative", {"extra": {"timeout": -1}}, MoEngageConfigurationError, r"timeout -1"),
    (
        "unreachable host",
        {"host": "CLOSED"},
        MoEngageConnectionError,
        r"Connection refused; nothing was sent",
    ),
    ("wrong api key", {"password": "not-the-key"}, MoEngageApiError, r"HTTP 401 .*APP_SECRET_KEY"),
    ("wrong workspace", {"login": "someone-else"}, MoEngageApiError, r"HTTP 401 .*APP_ID"),
]


@pytest.mark.parametrize(
    ("case", "change", "error", "message"), CONNECTION_CASES, ids=[c[0] for c in CONNECTION_CASES]
)
def test_bad_connection(moengage_sandbox, monkeypatch, case, change, error, message):
    fields = json.loads(moengage_sandbox.airflow_conn_json())
    fields["host"] = moengage_sandbox.url
    fields.pop("port", None)
    fields.update(change)
    if fields.get("host") == "CLOSED":
        fields["host"] = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("AIRFLOW_CONN_MOENGAGE_BAD", json.dumps(fields))
    hook = MoEngageHook("moengage_bad")
    hook.retry_backoff_seconds = 0.01
    with pytest.raises(error, match=message):
        hook.trigger_business_event(**GOOD)
    assert moengage_sandbox.triggers == []


ANSWER_CASES = [
    (
        "HTML 502 from a proxy",
        CannedAnswer(502, b"<html><title>502 Bad Gateway</title></html>", "text/html"),
        r"HTTP 502 .*body='502 Bad Gateway'",
    ),
    ("empty 403", CannedAnswer(403, b"", "text/plain"), r"HTTP 403 .*body=<empty>"),
    ("truncated JSON 400", CannedAnswer(400, b'{"error": {"mess', "application/json"), r"HTTP 400 .*body="),
    ("200 that is not JSON", CannedAnswer(200, b"OK", "text/plain"), r"HTTP 200 .*not the JSON object"),
    ("200 JSON list", CannedAnswer(200, b"[]", "application/json"), r"HTTP 200 .*not the JSON object"),
    (
        "body cut short",
        CannedAnswer(200, b'{"message": "The', "application/json", truncate_by=20),
        r"may or may not have been accepted",
    ),
]


@pytest.mark.parametrize(("case", "answer", "message"), ANSWER_CASES, ids=[c[0] for c in ANSWER_CASES])
def test_answers_that_are_not_moengage_json(monkeypatch, case, answer, message):
    with RawHttpServer([answer]) as server:
        monkeypatch.setenv(
            "AIRFLOW_CONN_MOENGAGE_RAW",
            json.dumps({"conn_type": "moengage", "host": server.url, "login": "W", "password": "K"}),
        )
        with pytest.raises((MoEngageApiError, MoEngageConnectionError), match=message):
            MoEngageHook("moengage_raw").trigger_business_event(**GOOD)
    assert len(server.requests) == 1  # asked once, not hammered


def test_timeout_names_the_wait_and_the_doubt(moengage_sandbox):
    moengage_sandbox.stall_next(3)
    with pytest.raises(MoEngageConnectionError, match=r"did not answer .* within 0\.3 s .* may or may not"):
        MoEngageHook(timeout=0.3).trigger_business_event(**GOOD)


@pytest.mark.moengage_sandbox(
    permissive=False, events={"NewSeriesAlert": {"attributes": {"season": "string"}}}
)
def test_attribute_not_declared_in_moengage(moengage_sandbox):
    with pytest.raises(MoEngageApiError, match=r"Wrong business event attribute passed in api request"):
        MoEngageHook().trigger_business_event("NewSeriesAlert", {"season": "S1", "rating": 5})
    assert moengage_sandbox.triggers == []
