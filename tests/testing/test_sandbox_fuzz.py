"""The sandbox is unbreakable: hypothesis over raw requests (methods, paths, headers, bodies) in
every mode, and the hostile inputs named one by one. No 500, no traceback, a JSON body of the
documented shape, nothing accepted that MoEngage would refuse, the server still up, logs unforged.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moengage_provider.testing import MoEngageSandbox
from tests.testing.rawclient import RawAnswer, build, send_raw
from tests.testing.sandbox_helpers import API_KEY, CREATE, SEARCH, SERIES_EVENTS, TRIGGER, WORKSPACE

pytestmark = pytest.mark.fuzz

AUTH = b"Basic " + base64.b64encode(f"{WORKSPACE}:{API_KEY}".encode())
HEX24 = re.compile(r"^[0-9a-f]{24}$")
DOCUMENTED = {200, 400, 401, 403, 404, 405, 413, 414, 429, 431}
V5_PATHS = ("/v5/business-events/triggers", "/v5/business-events", "/v5/business-events/search")
RESPONSE_ID = re.compile(r"^resp_[0-9a-f]{32}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
LOGGER = "moengage_provider.testing.sandbox"

#: Every mode and option the sandbox has, one sandbox each.
MODES: dict[str, dict[str, Any]] = {
    "permissive": {},
    "strict": {"permissive": False, "events": SERIES_EVENTS},
    "limits-retry-after": {
        "hourly_limit": 2,
        "daily_limit": 3,
        "retry_after": True,
        "search_limit_per_minute": 2,
    },
    "flows-lag": {
        "all_flows": True,
        "flow_hourly_limit": 1,
        "counter_lag_seconds": 30.0,
        "events": SERIES_EVENTS,
    },
    "small-bodies-record-file": {"max_body_bytes": 512, "event_limit": 1, "record_file": "RECORD"},
    "v5-quotas": {
        "permissive": False,
        "events": {
            **SERIES_EVENTS,
            "PriceDrop": {
                "attributes": {"sku": "string", "price": "number", "on_sale": "boolean", "at": "datetime"},
                "campaigns": [{"id": "64a1b2c3d4e5f6a7b8c9d0e1", "quota": 1}],
                "flows": [{"quota": 0}],
            },
        },
    },
    "unscoped-key": {"business_events_scope": False},
    "windows-no-headers": {
        "five_minute_limit": 1,
        "five_minute_seconds": 2.0,
        "rate_limits": {"search": {"limit": 1, "seconds": 1.0}},
        "rate_limit_headers": False,
    },
}


@pytest.fixture(params=list(MODES), scope="module")
def mode_sandbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    kwargs = dict(MODES[request.param])
    if kwargs.get("record_file") == "RECORD":
        kwargs["record_file"] = tmp_path_factory.mktemp("records") / "triggers.jsonl"
    with MoEngageSandbox(WORKSPACE, API_KEY, **kwargs) as sb:
        yield sb


# -- what every answer must satisfy ------------------------------------------------------------


def check_answer(answer: RawAnswer, method: str, path: str) -> None:
    assert answer.status in DOCUMENTED, (answer.status, answer.body[:300])
    if method == "HEAD":
        return
    assert answer.headers.get("content-type", "").startswith("application/json")
    body = answer.json()
    said = [answer.headers.get(f"x-ratelimit-{name}") for name in ("limit", "remaining", "reset")]
    if any(value is not None for value in said):  # all three, whole numbers, never more left than allowed
        limit, remaining, reset = (int(value or "x") for value in said)
        assert 0 <= remaining <= limit and reset > 0
    if answer.status == 405:
        assert answer.headers.get("allow")
    if path.startswith("/_sandbox"):
        assert isinstance(body, (dict, list))
        return
    if path.startswith("/v5/"):
        check_v5_answer(answer, body)
        return
    assert answer.status != 403  # the legacy API has no scopes
    if answer.status == 200:
        assert isinstance(body, dict) and (
            isinstance(body.get("message"), str) or isinstance(body.get("data"), list)
        )
    elif answer.status == 429:
        assert body["status"] == "error" and body["data"]["code"] == 429
    else:
        error = body["error"]
        assert isinstance(error["code"], str) and error["code"].startswith(str(answer.status))
        assert isinstance(error["message"], str) and isinstance(error["details"], list)
        assert HEX24.match(error["request_id"])


def check_v5_answer(answer: RawAnswer, body: Any) -> None:
    """Every V5 answer: the request id header, ``response_id``, the envelope or the error shape."""
    assert answer.headers.get("x-moe-request-id")
    assert RESPONSE_ID.match(body["response_id"]), body
    assert body["response_id"] == "resp_" + answer.headers["x-moe-request-id"].replace("-", "")
    if answer.status == 200:
        assert body["type"] in ("business-event", "business-events") and "data" in body
        return
    error = body["error"]
    assert error["code"].isupper() and isinstance(error["message"], str)
    if answer.status == 429:
        assert int(answer.headers["retry-after"]) >= 1


def check_records(sb: MoEngageSandbox) -> None:
    """Written from the docs, not from the sandbox's code: what MoEngage would have refused."""
    declared = sb.events()
    for record in sb.triggers:
        name, attributes = record["event_name"], record["event_attributes"]
        assert isinstance(name, str) and name.strip()
        assert isinstance(attributes, dict)
        assert record["triggered_by"] is None or EMAIL.match(record["triggered_by"])
        json.dumps(record, allow_nan=False).encode("utf-8")  # storable: finite numbers, real Unicode
        if not sb.permissive:
            assert name in declared
        if name in declared:
            if record.get("api_version") == "v5":  # V5 answers 200 FAILURE when nothing is attached
                assert declared[name]["active_campaign"] or record["summary"]["total"] == 0
            else:
                assert declared[name]["active_campaign"]
            assert set(attributes) <= set(declared[name]["attributes"])


def check_logs(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        if record.name.startswith(LOGGER):
            assert record.levelno < logging.ERROR, record.getMessage()
            line = record.getMessage()
            assert line.isprintable() and line.isascii(), repr(line)


def still_up(sb: MoEngageSandbox) -> None:
    answer = send_raw(sb.port, build("GET", "/_sandbox/health"), method="GET")
    assert answer.status == 200 and answer.json()["status"] == "ok"


# -- hypothesis over raw requests ----------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(alphabet=st.characters(codec=None), max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
event_names = st.sampled_from(
    ["NewSeriesAlert", "PriceDrop", "", " ", "X\nPOST / -> 200", "\x1b[31mred"]
) | st.text(alphabet=st.characters(codec=None), max_size=12)
trigger_bodies = st.fixed_dictionaries(
    {"event_name": event_names, "event_attributes": json_values},
    optional={
        "triggered_by": st.sampled_from(["a@b.co", "abc", None, 5]) | st.emails(),
        "extra": json_values,
    },
)


def _encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode()


bodies = st.one_of(
    trigger_bodies.map(_encode),
    json_values.map(_encode),
    st.binary(max_size=200),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.sampled_from(
        [
            b'{"event_name": 1e400, "event_attributes": {}}',
            b'{"event_name": "A", "event_attributes": {"n": NaN}}',
            b'{"event_name": "A", "event_attributes": {"n": ' + b"9" * 5000 + b"}}",
            b'{"event_name": "\\ud800", "event_attributes": {}}',
            b"\xef\xbb\xbf{}",
            '{"event_name": "A", "event_attributes": {}}'.encode("utf-16"),
            b"\xff\xfe\x00",
        ]
    ),
)
methods = st.sampled_from(
    ["POST", "GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT", "PROPFIND"]
) | st.from_regex(r"\A[A-Z!#$%&'*+.^_`|~-]{1,12}\Z")
paths = st.sampled_from(
    [
        TRIGGER,
        CREATE,
        SEARCH,
        TRIGGER + "/",
        "/",
        "/_sandbox/health",
        "/_sandbox/faults",
        "/_sandbox/events",
        "/_sandbox/nope",
        TRIGGER + "?x=\x1b[0m",
        *V5_PATHS,
        "/v5/business-events?name=PriceDrop&id=x",
        "/v5/business-events?limit=21",
        "/v5/",
        "//v1.0",
        "*",
        "http://[::1/v1.0",
    ]
) | st.from_regex(r"\A/[\x21-\x7e\x80-\xff]{0,30}\Z")
header_values = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
extra_headers = st.lists(
    st.tuples(
        st.from_regex(r"\A[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}\Z")
        .filter(lambda n: n.lower() not in ("content-length", "transfer-encoding", "connection", "expect"))
        .map(str.encode),
        header_values,
    ),
    max_size=4,
)
auths = (
    st.sampled_from([AUTH, b"Basic Og==", b"Bearer x", b"Basic \xff\xfe", b"", b"basic " + AUTH[6:]])
    | header_values
)
request_id_headers = st.lists(
    st.tuples(
        st.just(b"X-MOE-Request-Id"),
        st.sampled_from([b"550e8400-e29b-41d4-a716-446655440000", b"not-a-uuid", b""]) | header_values,
    ),
    max_size=2,
)
content_types = st.sampled_from(
    [b"application/json", b"application/json; charset=utf-16", b"text/plain", b"", b"APPLICATION/JSON"]
)


@pytest.mark.timeout(300)
@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    method=methods,
    path=paths,
    body=bodies,
    auth=auths,
    content_type=content_types,
    headers=extra_headers,
    request_ids=request_id_headers,
)
def test_raw_requests_never_break_the_sandbox(
    mode_sandbox: MoEngageSandbox,
    caplog: pytest.LogCaptureFixture,
    method,
    path,
    body,
    auth,
    content_type,
    headers,
    request_ids,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    caplog.clear()
    sb = mode_sandbox
    if path.startswith("/_sandbox") and method == "POST":
        path = "/_sandbox/health"  # never let the fuzzer inject faults or reset the records itself
    all_headers = [(b"Authorization", auth), (b"Content-Type", content_type), *request_ids, *headers]
    answer = send_raw(sb.port, build(method, path, body, all_headers), method=method)
    check_answer(answer, method, path.split("?")[0])
    check_records(sb)
    check_logs(caplog)
    still_up(sb)


# -- the hostile inputs, one by one -----------------------------------------------------------------


def post(sb: MoEngageSandbox, path: str, body: bytes, content_type: bytes = b"application/json") -> RawAnswer:
    return send_raw(
        sb.port, build("POST", path, body, [(b"Authorization", AUTH), (b"Content-Type", content_type)])
    )


@pytest.mark.parametrize(
    "method", ["GET", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "BREW"]
)
@pytest.mark.parametrize("path", [TRIGGER, CREATE, SEARCH])
def test_every_method_gets_a_json_405_with_allow(make_sandbox, method: str, path: str) -> None:
    sb = make_sandbox()
    answer = send_raw(sb.port, build(method, path, b"", [(b"Authorization", AUTH)]), method=method)
    assert answer.status == 405 and answer.headers["allow"] == "POST"
    assert answer.json()["error"]["code"] == "405 Method Not Allowed"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 64 levels"),
        (b'{"event_name": "A", "event_attributes": {"a": ' + b"[" * 65 + b"]" * 65 + b"}}", "nested deeper"),
        (b'{"event_name": "A", "event_attributes": {"n": 1e400}}', "out of the range of a double"),
        (b'{"event_name": "A", "event_attributes": {"n": 9223372036854775808}}', "out of the 64-bit range"),
        (b'{"event_name": "A", "event_attributes": {"n": -9223372036854775809}}', "out of the 64-bit range"),
        (b'{"event_name": "A", "event_attributes": {"n": ' + b"9" * 5000 + b"}}", "Exceeds the limit"),
        (b'{"event_name": "A", "event_attributes": {"n": NaN}}', "NaN is not valid JSON"),
        (b'{"event_name": "\\udc00", "event_attributes": {}}', "lone surrogate"),
        (b'{"event_name": "\xff", "event_attributes": {}}', "not UTF-8"),
        ('{"event_name": "A", "event_attributes": {}}'.encode("utf-16"), "not UTF-8"),
        (b'\xef\xbb\xbf{"event_name": "A", "event_attributes": {}}', "BOM"),
    ],
)
def test_json_the_sandbox_cannot_store_is_a_400_naming_why(make_sandbox, body: bytes, why: str) -> None:
    sb = make_sandbox(max_body_bytes=1024 * 1024)
    answer = post(sb, TRIGGER, body)
    assert answer.status == 400, answer.body[:300]
    [detail] = answer.json()["error"]["details"]
    assert detail["target"] == "body" and why in detail["message"], detail
    assert sb.triggers == [] and still_up(sb) is None


def test_every_code_point_round_trips(make_sandbox) -> None:
    """Every Unicode scalar value (surrogates are not text: refused above) reaches the record as sent."""
    sb = make_sandbox()
    scalars = [c for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    chunk = 120_000
    for start in range(0, len(scalars), chunk):
        text = "".join(map(chr, scalars[start : start + chunk]))
        body = json.dumps(
            {"event_name": f"E{start}", "event_attributes": {"all": text, text[:50]: 1}}, ensure_ascii=False
        ).encode()
        answer = post(sb, TRIGGER, body)
        assert answer.status == 200, answer.body[:200]
        assert sb.triggers[-1]["event_attributes"]["all"] == text
    assert len(sb.triggers) == -(-len(scalars) // chunk)


def test_client_input_cannot_forge_or_break_the_access_log(
    make_sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    sb = make_sandbox()
    forged = "X\nPOST /v1.0/business_event/trigger -> 200 event=Forged request_id=0\x1b[2J\u202e"
    post(sb, TRIGGER, json.dumps({"event_name": forged, "event_attributes": {}}).encode())
    send_raw(sb.port, build("\x1b[31mGET", "/v1.0/\x1b[2J\x85x"))
    send_raw(sb.port, b"POST /\x00 HTTP/1.1\r\nBad Header Line\r\n" + b"X: y\r\n" * 200 + b"\r\n")
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(lines) == 3
    for line in lines:
        assert line.isprintable() and line.isascii() and "\x1b" not in line, repr(line)
    quoted = r'"(?:[^"\\]|\\.)*"'
    shape = re.compile(
        rf"^(\S+|{quoted}) (\S+|{quoted}) -> \S+ event=(-|\S+|{quoted}) request_id=([0-9a-f]{{24}})$"
    )
    matches = [shape.match(line) for line in lines]
    assert all(matches), lines
    assert json.loads(matches[0].group(3)) == forged  # one field, escaped, not a second log line
    assert sb.triggers[0]["event_name"] == forged  # recorded as sent, only the log line is escaped


def test_protocol_errors_answer_json_not_html(make_sandbox) -> None:
    sb = make_sandbox()
    too_many = b"POST " + TRIGGER.encode() + b" HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n"
    answer = send_raw(sb.port, too_many)
    assert answer.status == 431 and answer.json()["error"]["code"].startswith("431")
    long_line = b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n"
    answer = send_raw(sb.port, long_line, method="GET")
    assert answer.status == 414 and "error" in answer.json()
    bad_length = build("POST", TRIGGER, b"{}", [(b"Content-Length", b"+5_0")], content_length=False)
    answer = send_raw(sb.port, bad_length)
    assert answer.status == 400 and "Content-Length" in answer.json()["error"]["message"]
    still_up(sb)


def test_record_file_survives_hostile_strings(make_sandbox, tmp_path: Path) -> None:
    record_file = tmp_path / "t.jsonl"
    sb = make_sandbox(record_file=record_file)
    name = "line\nbreak \u2028 \x00 \U0010ffff"
    assert post(sb, TRIGGER, json.dumps({"event_name": name, "event_attributes": {}}).encode()).status == 200
    [line] = record_file.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["event_name"] == name


def test_the_64_bit_bounds_themselves_are_accepted(make_sandbox) -> None:
    sb = make_sandbox()
    for n in (-(2**63), 2**63 - 1):
        assert (
            post(sb, TRIGGER, json.dumps({"event_name": "A", "event_attributes": {"n": n}}).encode()).status
            == 200
        )
    assert [t["event_attributes"]["n"] for t in sb.triggers] == [-(2**63), 2**63 - 1]
