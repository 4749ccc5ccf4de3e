"""MoEngageHook against real HTTP servers on 127.0.0.1: the sandbox, or a raw socket server."""

from __future__ import annotations

import base64
import datetime
import json

import pytest
import requests
from airflow.providers.common.compat.sdk import Connection

from moengage_provider.exceptions import (
    MoEngageClientError,
    MoEngageConfigurationError,
    MoEngageConnectionError,
    MoEngageRateLimitError,
    MoEngageServerError,
    MoEngageValidationError,
)
from moengage_provider.hooks.connection import resolve_connection
from moengage_provider.hooks.moengage import MoEngageHook
from tests.dagrun import captured_log
from tests.ports import closed_port
from tests.rawhttp import CannedAnswer, RawHttpServer

WORKSPACE = "WS-HOOK-TEST"
API_KEY = "hook-test-secret-key-1234"
AUTH_B64 = base64.b64encode(f"{WORKSPACE}:{API_KEY}".encode()).decode()
SECRET_FORMS = (API_KEY, f"{WORKSPACE}:{API_KEY}", AUTH_B64)


def use_connection(monkeypatch, conn_id: str = "moengage_default", **fields) -> None:
    fields.setdefault("conn_type", "moengage")
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


def fast_hook(conn_id: str = "moengage_default", **kwargs) -> MoEngageHook:
    hook = MoEngageHook(moengage_conn_id=conn_id, **kwargs)
    hook.retry_backoff_seconds = 0.01
    return hook


def assert_no_secret(text: str) -> None:
    for form in SECRET_FORMS:
        assert form not in text


# -- the request MoEngage receives --------------------------------------------------------------


def test_trigger_sends_exactly_the_documented_request(monkeypatch):
    with RawHttpServer() as server:
        use_connection(
            monkeypatch, host="127.0.0.1", port=server.port, schema="http", login=WORKSPACE, password=API_KEY
        )
        answer = fast_hook().trigger_business_event(
            "NewSeriesAlert",
            {"season": "Season 1", "episodes": 12, "cast": ["John Doe", "Jane Doe"], "date": "11/11/2023"},
            triggered_by="john.doe@example.com",
        )
    assert answer == {"message": "The business event has been triggered"}
    (raw,) = server.requests
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1.0/business_event/trigger HTTP/1.1"
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    assert headers["authorization"] == f"Basic {AUTH_B64}"
    assert headers["content-type"] == "application/json"
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert headers["user-agent"].startswith("airflow-provider-moengage/")
    assert body == (
        b'{"event_name":"NewSeriesAlert","event_attributes":{"season":"Season 1","episodes":12,'
        b'"cast":["John Doe","Jane Doe"],"date":"11/11/2023"},"triggered_by":"john.doe@example.com"}'
    )
    assert int(headers["content-length"]) == len(body)


def test_triggered_by_none_is_left_out_and_types_are_kept(moengage_sandbox):
    hook = fast_hook()
    hook.trigger_business_event("PriceDrop", {"sku": "12", "price": 9.5, "stock": 3, "tags": ["a", 1]})
    (request,) = moengage_sandbox.requests
    assert json.loads(request["body"]) == {
        "event_name": "PriceDrop",
        "event_attributes": {"sku": "12", "price": 9.5, "stock": 3, "tags": ["a", 1]},
    }
    (trigger,) = moengage_sandbox.triggers
    assert trigger["triggered_by"] is None
    assert trigger["event_attributes"]["sku"] == "12"
    assert trigger["event_attributes"]["stock"] == 3


def test_non_ascii_attributes_arrive_intact(moengage_sandbox):
    fast_hook().trigger_business_event("Launch", {"title": "Café — 東京"})
    assert moengage_sandbox.triggers[0]["event_attributes"] == {"title": "Café — 東京"}


def test_one_session_and_one_tcp_connection_for_many_calls(monkeypatch):
    with RawHttpServer() as server:
        use_connection(monkeypatch, host=server.url, login=WORKSPACE, password=API_KEY)
        hook = fast_hook()
        for number in range(5):
            hook.trigger_business_event("E", {"n": number})
        assert hook.get_conn() is hook.session
    assert len(server.requests) == 5
    assert server.connections == 1


def test_invalid_event_is_refused_before_anything_is_sent(moengage_sandbox):
    with pytest.raises(MoEngageValidationError, match=r"event_attributes\.nested: is a nested object"):
        fast_hook().trigger_business_event("E", {"nested": {"a": 1}})
    with pytest.raises(MoEngageValidationError, match=r"triggered_by: 'not-an-email'"):
        fast_hook().trigger_business_event("E", {"a": 1}, triggered_by="not-an-email")
    assert moengage_sandbox.requests == []


# -- connection settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("01", "https://api-01.moengage.com"),
        ("1", "https://api-01.moengage.com"),
        ("DC-02", "https://api-02.moengage.com"),
        ("dc03", "https://api-03.moengage.com"),
        ("DC04", "https://api-04.moengage.com"),
        (6, "https://api-06.moengage.com"),
        ("101", "https://api-101.moengage.com"),
        ("https://dashboard-05.moengage.com/v4/#/campaigns", "https://api-05.moengage.com"),
    ],
)
def test_data_center_forms_users_type(typed, expected):
    conn = Connection(
        conn_id="m", conn_type="moengage", login="W", password="K", extra=json.dumps({"data_center": typed})
    )
    assert resolve_connection(conn).base_url == expected


@pytest.mark.parametrize("typed", ["07", "eu", "dc-100", "https://example.com", "", True])
def test_unknown_data_center_lists_the_valid_ones(typed):
    conn = Connection(
        conn_id="m", conn_type="moengage", login="W", password="K", extra=json.dumps({"data_center": typed})
    )
    if typed == "":
        with pytest.raises(MoEngageConfigurationError, match="set the data center"):
            resolve_connection(conn)
        return
    with pytest.raises(MoEngageConfigurationError, match=r"DC-01 \(US\), DC-02 \(EU\).*DC-101"):
        resolve_connection(conn)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"host": "127.0.0.1", "port": 8080, "schema": "http"}, "http://127.0.0.1:8080"),
        ({"host": "http://127.0.0.1:9000"}, "http://127.0.0.1:9000"),
        ({"host": "proxy.example.com"}, "https://proxy.example.com"),
        (
            {"host": "https://proxy.example.com/moengage/", "port": 8443},
            "https://proxy.example.com:8443/moengage",
        ),
        ({"host": "https://api-01.moengage.com/v1.0"}, "https://api-01.moengage.com"),
    ],
)
def test_host_overrides_data_center(fields, expected):
    conn = Connection(
        conn_id="m", conn_type="moengage", login="W", password="K", extra='{"data_center": "02"}', **fields
    )
    assert resolve_connection(conn).base_url == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"password": "K", "extra": '{"data_center": "01"}'}, r"Workspace ID \(login\) is empty"),
        ({"login": "W", "extra": '{"data_center": "01"}'}, r"API Key \(password\) is empty"),
        ({"login": "W", "password": "K"}, r"set the data center .* or a host"),
        ({"login": "W", "password": "K", "extra": "{not json"}, "Extra field is not valid JSON"),
        ({"login": "W", "password": "K", "host": "ftp://x"}, "not a usable base URL"),
        (
            {"login": "W", "password": "K", "extra": '{"data_center": "01", "timeout": "soon"}'},
            r"timeout 'soon' must be a number of seconds",
        ),
    ],
)
def test_misconfigured_connection_is_a_clear_error(fields, message):
    conn = Connection(conn_id="broken", conn_type="moengage", **fields)
    with pytest.raises(MoEngageConfigurationError, match=message) as info:
        resolve_connection(conn)
    assert "'broken'" in str(info.value)


def test_settings_repr_hides_the_key():
    conn = Connection(
        conn_id="m", conn_type="moengage", login="W", password=API_KEY, extra='{"data_center": "1"}'
    )
    assert API_KEY not in repr(resolve_connection(conn))


def test_our_extras_do_not_become_http_headers(monkeypatch):
    with RawHttpServer() as server:
        use_connection(
            monkeypatch,
            host=server.url,
            login=WORKSPACE,
            password=API_KEY,
            extra={"data_center": "01", "timeout": 5, "x_custom": "1"},
        )
        fast_hook().trigger_business_event("E", {"a": 1})
    head = server.requests[0].split(b"\r\n\r\n")[0].lower()
    assert b"data_center" not in head
    assert b"x_custom" not in head
    assert b"timeout" not in head


def test_timeout_from_the_connection_extra_is_applied(monkeypatch, moengage_sandbox):
    use_connection(
        monkeypatch,
        host=moengage_sandbox.url,
        login=moengage_sandbox.workspace_id,
        password=moengage_sandbox.api_key,
        extra={"timeout": 0.3},
    )
    moengage_sandbox.stall_next(3)
    with pytest.raises(MoEngageConnectionError, match=r"did not answer .* within 0\.3 s") as info:
        fast_hook().trigger_business_event("E", {"a": 1})
    assert info.value.outcome_unknown is True


def test_timeout_argument_overrides_the_connection(moengage_sandbox):
    moengage_sandbox.stall_next(3)
    with pytest.raises(MoEngageConnectionError, match=r"within 0\.2 s"):
        fast_hook(timeout=0.2).trigger_business_event("E", {"a": 1})


def test_proxy_from_environment_is_honoured(monkeypatch):
    with RawHttpServer() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "")
        monkeypatch.setenv("no_proxy", "")
        use_connection(monkeypatch, host="http://moengage.invalid", login=WORKSPACE, password=API_KEY)
        fast_hook().trigger_business_event("E", {"a": 1})
    request_line = proxy.requests[0].split(b"\r\n")[0]
    assert request_line == b"POST http://moengage.invalid/v1.0/business_event/trigger HTTP/1.1"


# -- MoEngage's answers ------------------------------------------------------------------------


@pytest.mark.moengage_sandbox(permissive=False)
def test_unknown_event_gives_moengage_error_fields_in_one_line(moengage_sandbox):
    with pytest.raises(MoEngageClientError) as info:
        fast_hook().trigger_business_event("NoSuchEvent", {"a": 1})
    err = info.value
    assert err.status == 400
    assert err.code == "400 Bad Request"
    assert err.message == "Business event does not exists"
    assert err.details and err.details[0]["target"] == "event_name"
    assert err.request_id == moengage_sandbox.rejected[0]["request_id"]
    text = str(err)
    assert "\n" not in text
    assert "HTTP 400" in text and "Business event does not exists" in text and err.request_id in text
    assert moengage_sandbox.triggers == []


def test_wrong_api_key_is_a_401_client_error_without_the_key(monkeypatch, moengage_sandbox):
    use_connection(
        monkeypatch, host=moengage_sandbox.url, login=moengage_sandbox.workspace_id, password=API_KEY
    )
    with pytest.raises(MoEngageClientError) as info:
        fast_hook().trigger_business_event("E", {"a": 1})
    assert info.value.status == 401
    assert "APP_SECRET_KEY" in str(info.value)
    assert "Workspace ID (login) and API Key (password)" in str(info.value)
    assert_no_secret(str(info.value) + repr(info.value.details))


def test_rate_limit_answer_is_parsed(moengage_sandbox):
    moengage_sandbox.fail_next(
        429,
        body=json.dumps(
            {
                "status": "error",
                "data": {
                    "code": 429,
                    "title": "rate limiter exception",
                    "description": "Exceeded rate limit for this app",
                },
            }
        ).encode(),
        content_type="application/json",
        headers={
            "Retry-After": "120",
            "X-RateLimit-Limit": "10",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "1796565000",
        },
    )
    hook = fast_hook()
    with pytest.raises(MoEngageRateLimitError) as info:
        hook.trigger_business_event("E", {"a": 1})
    assert info.value.retry_after == 120
    headers = info.value.rate_limit
    assert headers is not None and headers is hook.last_rate_limit
    assert headers.retry_after == headers.received_at + datetime.timedelta(seconds=120)
    assert headers.reset == datetime.datetime(2026, 12, 6, 13, 50, tzinfo=datetime.timezone.utc)
    assert (headers.limit, headers.remaining) == (10, 0)
    assert "rate limiter exception - Exceeded rate limit for this app" in str(info.value)
    assert "10 business event triggers per 5 minutes, 50 per hour and 200 per day" in str(info.value)


def test_documented_500_is_an_ordinary_retryable_error(moengage_sandbox):
    moengage_sandbox.fail_next(500)
    with pytest.raises(MoEngageServerError) as info:
        fast_hook().trigger_business_event("E", {"a": 1})
    assert info.value.status == 500
    assert info.value.outcome_unknown is True
    assert "An unexpected error was encountered" in str(info.value)
    from moengage_provider.exceptions import AirflowFailException

    assert not isinstance(info.value, AirflowFailException)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            CannedAnswer(
                502,
                b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
                "text/html",
            ),
            "body='502 Bad Gateway'",
        ),
        (CannedAnswer(403, b"", "text/plain"), "body=<empty>"),
        (
            CannedAnswer(400, b'{"error": {"code": "400 Bad', "application/json"),
            'body=\'{"error": {"code": "400 Bad\'',
        ),
    ],
)
def test_bodies_that_are_not_moengage_json_still_read_well(monkeypatch, answer, expected):
    with RawHttpServer([answer]) as server:
        use_connection(monkeypatch, host=server.url, login=WORKSPACE, password=API_KEY)
        with pytest.raises(Exception) as info:
            fast_hook().trigger_business_event("E", {"a": 1})
    text = str(info.value)
    assert f"HTTP {answer.status}" in text
    assert expected in text
    assert_no_secret(text)


def test_200_with_a_body_that_is_not_json_is_not_taken_for_success(monkeypatch):
    with RawHttpServer([CannedAnswer(200, b"<html>Login to continue</html>", "text/html")]) as server:
        use_connection(monkeypatch, host=server.url, login=WORKSPACE, password=API_KEY)
        with pytest.raises(MoEngageServerError, match="not the JSON object MoEngage sends") as info:
            fast_hook().trigger_business_event("E", {"a": 1})
    assert info.value.outcome_unknown is True


def test_redirect_is_not_followed(monkeypatch):
    answer = CannedAnswer(301, b"", "text/plain", headers={"Location": "https://elsewhere.invalid/"})
    with RawHttpServer([answer]) as server:
        use_connection(monkeypatch, host=server.url, login=WORKSPACE, password=API_KEY)
        with pytest.raises(MoEngageClientError, match=r"redirected to https://elsewhere\.invalid/"):
            fast_hook().trigger_business_event("E", {"a": 1})
    assert len(server.requests) == 1


# -- no answer at all ------------------------------------------------------------------------


def test_connection_refused_is_retried_then_says_nothing_was_sent(monkeypatch, capfd):
    use_connection(monkeypatch, host=f"http://127.0.0.1:{closed_port()}", login=WORKSPACE, password=API_KEY)
    with pytest.raises(MoEngageConnectionError, match="Connection refused; nothing was sent") as info:
        fast_hook().trigger_business_event("E", {"a": 1})
    assert info.value.outcome_unknown is False
    retries = [line for line in captured_log(capfd).splitlines() if "nothing was delivered" in line]
    assert len(retries) == 2
    assert "attempt 1 of 3" in retries[0] and "attempt 2 of 3" in retries[1]


def test_dropped_connection_after_the_body_is_an_unknown_outcome_not_retried(moengage_sandbox):
    moengage_sandbox.drop_next()
    with pytest.raises(MoEngageConnectionError, match="may or may not have been accepted") as info:
        fast_hook().trigger_business_event("E", {"a": 1})
    assert info.value.outcome_unknown is True
    assert len(moengage_sandbox.requests) == 1


def test_503_not_processed_is_retried_in_the_hook(moengage_sandbox):
    moengage_sandbox.fail_next(503)
    answer = fast_hook().trigger_business_event("E", {"a": 1})
    assert answer["message"] == "The business event has been triggered"
    assert len(moengage_sandbox.triggers) == 1


def test_500_is_not_retried_in_the_hook(moengage_sandbox):
    moengage_sandbox.fail_next(500)
    with pytest.raises(MoEngageServerError):
        fast_hook().trigger_business_event("E", {"a": 1})
    assert len(moengage_sandbox.requests) == 1
    assert moengage_sandbox.triggers == []


def test_unreachable_tls_failure_is_reported_without_retry(monkeypatch):
    # No local server can fail a TLS handshake on demand as cheaply: patching is the documented exception.
    use_connection(monkeypatch, host="https://127.0.0.1:1", login=WORKSPACE, password=API_KEY)
    hook = fast_hook()
    calls = []

    def fail(*args, **kwargs):
        calls.append(1)
        raise requests.exceptions.SSLError("certificate verify failed: self-signed certificate")

    monkeypatch.setattr(hook.session, "send", fail)
    with pytest.raises(MoEngageConnectionError, match=r"TLS handshake with 127\.0\.0\.1:1 failed"):
        hook.trigger_business_event("E", {"a": 1})
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("uri", "base_url"),
    [
        ("moengage://WS:a%2Fkey%40x@?data_center=DC-03", "https://api-03.moengage.com"),
        ("moengage://WS:key@127.0.0.1:8080/http", "http://127.0.0.1:8080"),
    ],
)
def test_uri_form_connections_from_the_environment(monkeypatch, uri, base_url):
    monkeypatch.setenv("AIRFLOW_CONN_MOENGAGE_URI", uri)
    settings = MoEngageHook("moengage_uri").settings
    assert settings.base_url == base_url
    assert settings.workspace_id == "WS"


def test_an_unexpected_error_while_sending_is_classified_as_unknown(monkeypatch):
    # No server can make requests itself raise something else (a library bug): the documented exception.
    use_connection(monkeypatch, host="http://127.0.0.1:1", login=WORKSPACE, password=API_KEY)
    hook = fast_hook()

    def fail(*args, **kwargs):
        raise RuntimeError("something inside the HTTP stack broke")

    monkeypatch.setattr(hook.session, "send", fail)
    with pytest.raises(MoEngageConnectionError, match="may or may not have been accepted") as info:
        hook.trigger_business_event("E", {"a": 1})
    assert info.value.outcome_unknown is True
    assert "RuntimeError" in str(info.value)


def test_missing_connection_is_a_configuration_error_naming_it(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_MOENGAGE_NOPE", raising=False)
    with pytest.raises(MoEngageConfigurationError, match="'moengage_nope' does not exist") as info:
        _ = MoEngageHook("moengage_nope").settings
    assert "AIRFLOW_CONN_MOENGAGE_NOPE='moengage://" in str(info.value)
