"""Each API adapter, pinned by hand: every expected value below is written out from MoEngage's documented
shapes (the legacy API as /work/shared/moengage/README.md and the sandbox's legacy module show it, V5 as
tests/data/business-events-v5.yaml shows it), not computed by the code under test. Pure: no server."""

from __future__ import annotations

import uuid

import pytest

from moengage_provider.api.versions import (
    LEGACY,
    V5,
    Answer,
    DeclaredEvent,
    InvalidApiVersionError,
    Lookup,
    TriggerAnswer,
    api_of_path,
    api_version,
    new_request_id,
)

CURSOR = "eyJsYXN0X2lkIjoiNjdhMmM0ZjE4ZDNiNWUwYTljMWY0ZTc0In0="
RESPONSE_ID = "resp_5f3e2a1b9c8d4e6f8a1b2c3d4e5f6a7b"

# --- the error fields an on-call engineer reads -------------------------------------------------------

LEGACY_400 = {
    "error": {
        "code": "400 Bad Request",
        "message": "Bad request",
        "details": [
            {"code": "InvalidValue", "target": "event_name", "message": "Business event does not exists"}
        ],
        "request_id": "req-1",
    }
}


@pytest.mark.parametrize("api", [LEGACY, V5])
@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            LEGACY_400,
            {
                "code": "400 Bad Request",
                "message": "Bad request",
                "details": [
                    {
                        "code": "InvalidValue",
                        "target": "event_name",
                        "message": "Business event does not exists",
                    }
                ],
                "request_id": "req-1",
            },
        ),
        # A code sent as a number is read as text; a missing request_id is None.
        (
            {"error": {"code": 401, "message": "Authentication required", "request_id": None}},
            {"code": "401", "message": "Authentication required", "details": None, "request_id": None},
        ),
        (
            {
                "status": "error",
                "data": {
                    "code": 429,
                    "title": "rate limiter exception",
                    "description": "Exceeded rate limit for this app",
                },
            },
            {"code": "429", "message": "rate limiter exception - Exceeded rate limit for this app"},
        ),
        (
            {"status": "error", "data": {"title": "rate limiter exception"}},
            {"code": None, "message": "rate limiter exception"},
        ),
        (
            {"status": "error", "data": {"description": "Exceeded rate limit for this app"}},
            {"code": None, "message": "Exceeded rate limit for this app"},
        ),
        (
            {"title": "Internal Server Error", "message": "An unexpected error was encountered"},
            {
                "code": "Internal Server Error",
                "message": "An unexpected error was encountered",
                "request_id": None,
            },
        ),
        (
            {"message": "upstream gone", "request_id": "req-9"},
            {"code": None, "message": "upstream gone", "request_id": "req-9"},
        ),
        ({"title": "Bad Gateway"}, {"code": "Bad Gateway", "message": None, "request_id": None}),
        # An "error" or "data" that is not an object: the 500 shape, or nothing.
        ({"error": "boom", "message": "m"}, {"code": None, "message": "m", "request_id": None}),
        ({"data": [], "title": "T"}, {"code": "T", "message": None, "request_id": None}),
        ({"status": "error"}, {}),
        ({}, {}),
        ("<html>502 Bad Gateway</html>", {}),
        (["error"], {}),
        (None, {}),
    ],
)
def test_error_fields_of_the_legacy_shapes(api, body, fields):
    assert api.error_fields(body) == fields


@pytest.mark.parametrize(
    ("error", "response_id", "fields"),
    [
        (
            {
                "code": "VALIDATION_FAILED",
                "message": "Business event does not exists",
                "details": [{"field": "event_name", "issue": "INVALID_VALUE", "message": "not found"}],
            },
            RESPONSE_ID,
            {
                "code": "VALIDATION_FAILED",
                "message": "Business event does not exists",
                "details": [{"field": "event_name", "issue": "INVALID_VALUE", "message": "not found"}],
                "request_id": RESPONSE_ID,
            },
        ),
        # Details win over a target; a target alone becomes the details.
        (
            {"code": "INVALID_REQUEST", "message": "m", "target": "filters", "details": [{"field": "names"}]},
            "resp_2",
            {
                "code": "INVALID_REQUEST",
                "message": "m",
                "details": [{"field": "names"}],
                "request_id": "resp_2",
            },
        ),
        (
            {
                "code": "FORBIDDEN",
                "message": "This API key does not have the scope",
                "target": "Authorization",
            },
            "resp_3",
            {
                "code": "FORBIDDEN",
                "message": "This API key does not have the scope",
                "details": [{"target": "Authorization"}],
                "request_id": "resp_3",
            },
        ),
        (
            {"code": 500, "message": "Retry the request, and quote response_id", "details": []},
            None,
            {
                "code": "500",
                "message": "Retry the request, and quote response_id",
                "details": None,
                "request_id": None,
            },
        ),
        (
            {"code": "RATE_LIMIT_EXCEEDED"},
            "resp_4",
            {"code": "RATE_LIMIT_EXCEEDED", "message": None, "details": None, "request_id": "resp_4"},
        ),
    ],
)
def test_v5_error_fields(error, response_id, fields):
    body = {"error": error} if response_id is None else {"response_id": response_id, "error": error}
    assert V5.error_fields(body) == fields


@pytest.mark.parametrize(
    ("api", "status", "fields", "answer"),
    [
        (
            LEGACY,
            400,
            {"message": "No active campaign found for business event name"},
            Answer.NOTHING_ATTACHED,
        ),
        (LEGACY, 400, {"message": "NO ACTIVE CAMPAIGN FOUND"}, Answer.NOTHING_ATTACHED),
        (
            LEGACY,
            400,
            {"message": "Bad request", "details": [{"message": "No active campaign found"}]},
            Answer.NOTHING_ATTACHED,
        ),
        (LEGACY, 400, {"message": "Bad request", "details": None}, None),
        (LEGACY, 404, {"message": "No active campaign found for business event name"}, None),
        (LEGACY, 403, {"code": "FORBIDDEN"}, None),
        (V5, 403, {"code": "FORBIDDEN"}, Answer.KEY_LACKS_SCOPE),
        (V5, 403, {}, Answer.KEY_LACKS_SCOPE),
        (V5, 400, {"message": "No active campaign found for business event name"}, Answer.NOTHING_ATTACHED),
        (V5, 401, {"code": "AUTHENTICATION_REQUIRED"}, None),
    ],
)
def test_the_error_answers_that_are_more_than_their_status(api, status, fields, answer):
    assert api.answer_for_error(status, fields) is answer


# --- a trigger's answer --------------------------------------------------------------------------------


def test_counts_and_skipped_as_the_task_log_says_them():
    read = TriggerAnswer(
        Answer.SOME_SKIPPED_BY_QUOTA,
        "m",
        summary={"total": 4, "triggered": 3, "failed": 1},
        ids={"failed_campaign_ids": ["c2", "c3"], "failed_flow_ids": ["f1"]},
    )
    assert read.counts() == "3 of 4 campaigns and flows triggered, 1 skipped by quota"
    assert read.skipped() == "campaigns c2, c3; flows f1"
    bare = TriggerAnswer(None, None)
    assert bare.counts() == "? of ? campaigns and flows triggered, ? skipped by quota"
    assert bare.skipped() == "campaigns none; flows none"
    partial = TriggerAnswer(None, None, summary={"triggered": 0}, ids={"failed_flow_ids": ["f9"]})
    assert partial.counts() == "0 of ? campaigns and flows triggered, ? skipped by quota"
    assert partial.skipped() == "campaigns none; flows f9"


def test_v5_reads_every_field_of_the_documented_answer():
    body = {
        "response_id": RESPONSE_ID,
        "type": "business-event",
        "data": {
            "triggered_status": "PARTIAL_SUCCESS",
            "message": "The business event has been triggered",
            "summary": {"total": 4, "triggered": 3, "failed": 1},
            "triggered_campaign_ids": ["c1", "c2"],
            "failed_campaign_ids": ["c3"],
            "triggered_flow_ids": ["f1"],
            "failed_flow_ids": [],
        },
    }
    assert V5.read_trigger(body) == TriggerAnswer(
        Answer.SOME_SKIPPED_BY_QUOTA,
        "The business event has been triggered",
        "PARTIAL_SUCCESS",
        RESPONSE_ID,
        {"total": 4, "triggered": 3, "failed": 1},
        {
            "triggered_campaign_ids": ["c1", "c2"],
            "failed_campaign_ids": ["c3"],
            "triggered_flow_ids": ["f1"],
            "failed_flow_ids": [],
        },
    )


NO_IDS = {
    "triggered_campaign_ids": [],
    "failed_campaign_ids": [],
    "triggered_flow_ids": [],
    "failed_flow_ids": [],
}


@pytest.mark.parametrize(
    ("data", "answer", "summary", "ids"),
    [
        # No summary.failed: the failed IDs say whether anything was skipped.
        (
            {"triggered_status": "FAILURE", "failed_flow_ids": ["f1"]},
            Answer.ALL_SKIPPED_BY_QUOTA,
            {},
            {**NO_IDS, "failed_flow_ids": ["f1"]},
        ),
        (
            {"triggered_status": "FAILURE", "failed_campaign_ids": [7]},
            Answer.ALL_SKIPPED_BY_QUOTA,
            {},
            {**NO_IDS, "failed_campaign_ids": ["7"]},
        ),
        (
            {"triggered_status": "FAILURE", "summary": "n/a", "failed_campaign_ids": "c1"},
            Answer.NOTHING_ATTACHED,
            {},
            NO_IDS,
        ),
        (
            {"triggered_status": "FAILURE", "summary": {"total": 0, "failed": True}},
            Answer.NOTHING_ATTACHED,
            {"total": 0, "failed": True},
            NO_IDS,
        ),
        # summary.failed, when a count, wins over the lists.
        (
            {"triggered_status": "FAILURE", "summary": {"failed": 0}, "failed_flow_ids": ["f1"]},
            Answer.NOTHING_ATTACHED,
            {"failed": 0},
            {**NO_IDS, "failed_flow_ids": ["f1"]},
        ),
        (
            {"triggered_status": "FAILURE", "summary": {"failed": 2}},
            Answer.ALL_SKIPPED_BY_QUOTA,
            {"failed": 2},
            NO_IDS,
        ),
        ({"triggered_status": "SUCCESS"}, Answer.ALL_TRIGGERED, {}, NO_IDS),
        ({"triggered_status": "success"}, None, {}, NO_IDS),
        ({}, None, {}, NO_IDS),
    ],
)
def test_v5_reads_odd_trigger_answers(data, answer, summary, ids):
    read = V5.read_trigger({"response_id": "resp_1", "data": data})
    assert (read.answer, read.summary, read.ids, read.response_id) == (answer, summary, ids, "resp_1")
    assert read.triggered_status == data.get("triggered_status") and read.message is None


def test_a_v5_answer_without_data_is_the_plain_row():
    body = {"message": "The business event has been triggered", "response_id": "resp_7"}
    assert V5.read_trigger(body) == TriggerAnswer(
        None, "The business event has been triggered", response_id="resp_7"
    )
    assert V5.trigger_result("PriceDrop", body, "2026-12-06T10:00:00+00:00") == {
        "event_name": "PriceDrop",
        "message": "The business event has been triggered",
        "sent_at": "2026-12-06T10:00:00+00:00",
        "response_id": "resp_7",
        "triggered_status": None,
        "summary": None,
        "triggered_campaign_ids": [],
        "failed_campaign_ids": [],
        "triggered_flow_ids": [],
        "failed_flow_ids": [],
    }
    assert LEGACY.read_trigger(body) == TriggerAnswer(None, "The business event has been triggered")
    assert LEGACY.trigger_result("PriceDrop", body, "t0") == {
        "event_name": "PriceDrop",
        "message": "The business event has been triggered",
        "sent_at": "t0",
    }


def test_request_headers():
    assert LEGACY.request_headers("abc") == {}
    assert LEGACY.request_headers(None) == {}
    assert V5.request_headers("550e8400-e29b-41d4-a716-446655440000") == {
        "X-MOE-Request-Id": "550e8400-e29b-41d4-a716-446655440000"
    }
    ((name, value),) = V5.request_headers(None).items()
    assert name == "X-MOE-Request-Id" and uuid.UUID(value).version == 4
    assert V5.request_headers(None) != V5.request_headers(None)
    assert uuid.UUID(new_request_id()).version == 4 and new_request_id() != new_request_id()


# --- look-ups ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "sent"),
    [
        (
            {"names": ["price_drop"]},
            Lookup("POST", "/v1.0/business_event/search", body={"event_names": ["price_drop"]}),
        ),
        (
            {"ids": ("e1", "e2")},
            Lookup("POST", "/v1.0/business_event/search", body={"event_ids": ["e1", "e2"]}),
        ),
        (
            {"names": ["a"], "ids": ["e1"], "cursor": "ignored"},
            Lookup("POST", "/v1.0/business_event/search", body={"event_names": ["a"], "event_ids": ["e1"]}),
        ),
        ({}, Lookup("POST", "/v1.0/business_event/search", body={})),
    ],
)
def test_the_legacy_lookup_request(kwargs, sent):
    assert LEGACY.lookup(**kwargs) == sent


@pytest.mark.parametrize(
    ("kwargs", "sent"),
    [
        (
            {"names": ["price_drop"]},
            Lookup("GET", "/v5/business-events", params={"name": "price_drop", "limit": 20}),
        ),
        (
            {"names": ("price_drop",), "cursor": CURSOR},
            Lookup(
                "GET", "/v5/business-events", params={"name": "price_drop", "limit": 20, "cursor": CURSOR}
            ),
        ),
        (
            {"names": ["price_drop", "cart_abandoned"]},
            Lookup(
                "POST",
                "/v5/business-events/search",
                body={"filters": {"names": ["price_drop", "cart_abandoned"]}, "limit": 20},
            ),
        ),
        (
            {"names": ("a", "b"), "cursor": CURSOR},
            Lookup(
                "POST",
                "/v5/business-events/search",
                body={"filters": {"names": ["a", "b"]}, "limit": 20, "cursor": CURSOR},
            ),
        ),
        (
            {"ids": ("67a2c4f18d3b5e0a9c1f4e73",)},
            Lookup(
                "POST",
                "/v5/business-events/search",
                body={"filters": {"ids": ["67a2c4f18d3b5e0a9c1f4e73"]}, "limit": 20},
            ),
        ),
        (
            {"ids": ["e1", "e2"], "cursor": CURSOR},
            Lookup(
                "POST",
                "/v5/business-events/search",
                body={"filters": {"ids": ["e1", "e2"]}, "limit": 20, "cursor": CURSOR},
            ),
        ),
        # One name with ids is not the one-name list call.
        (
            {"names": ["a"], "ids": ["e1"]},
            Lookup("POST", "/v5/business-events/search", body={"filters": {"names": ["a"]}, "limit": 20}),
        ),
    ],
)
def test_the_v5_lookup_request(kwargs, sent):
    assert V5.lookup(**kwargs) == sent


V5_PAGE_EVENT = {
    "id": "67a2c4f18d3b5e0a9c1f4e73",
    "name": "price_drop",
    "attributes": [
        {"name": "product_id", "data_type": "string"},
        {"name": "new_price", "data_type": "number"},
    ],
    "campaign_count": 50000,
    "trigger_count": 12840,
    "created_by": "john.doe@example.com",
    "last_triggered_at": "2026-07-19T14:03:22Z",
    "created_at": "2026-05-01T09:12:00Z",
}


@pytest.mark.parametrize(
    ("pagination", "cursor"),
    [
        ({"has_more": True, "next_cursor": CURSOR}, CURSOR),
        ({"has_more": False, "next_cursor": CURSOR}, None),
        ({"has_more": "true", "next_cursor": CURSOR}, None),
        ({"has_more": True}, None),
        ({"has_more": True, "next_cursor": ""}, None),
        ({"has_more": True, "next_cursor": 42}, None),
        ("has_more", None),
        (None, None),
    ],
)
def test_the_v5_cursor_followed(pagination, cursor):
    body = {"response_id": RESPONSE_ID, "type": "business-events", "data": [V5_PAGE_EVENT, "junk", 3]}
    if pagination is not None:
        body["pagination"] = pagination
    assert V5.page(body) == ([V5_PAGE_EVENT], cursor)
    assert LEGACY.page(body) == ([V5_PAGE_EVENT], None)


@pytest.mark.parametrize("data", [None, {"id": "x"}, "x"])
def test_a_page_without_a_list_has_no_events(data):
    body = {"data": data, "pagination": {"has_more": True, "next_cursor": CURSOR}}
    assert V5.page(body) == ([], CURSOR)
    assert LEGACY.page({"data": data}) == ([], None)


def test_declared_events_as_each_api_reports_them():
    assert V5.declared_event(V5_PAGE_EVENT) == DeclaredEvent(
        name="price_drop",
        event_id="67a2c4f18d3b5e0a9c1f4e73",
        attributes={"product_id": "string", "new_price": "number"},
        trigger_count=12840,
        last_triggered_at="2026-07-19T14:03:22Z",
    )
    legacy = {
        "db_name": "WS1",
        "event_id": "ev-1",
        "event_name": "PriceDrop",
        "event_attributes": [
            {"attribute_name": "season", "attribute_data_type": "string"},
            {"attribute_name": "episodes", "attribute_data_type": "int"},
            {"attribute_name": "cast", "attribute_data_type": "array"},
        ],
        "created_at": "2026-05-01T09:12:00",
        "total_trigger": 3,
        "last_received_time": "2026-07-19T14:03:22",
    }
    assert LEGACY.declared_event(legacy) == DeclaredEvent(
        "PriceDrop",
        "ev-1",
        {"season": "string", "episodes": "int", "cast": "array"},
        3,
        "2026-07-19T14:03:22",
    )


@pytest.mark.parametrize(
    ("item", "event"),
    [
        # Not yet triggered: no last time; counts that are not whole numbers are not counts.
        (
            {"event_name": "E", "event_id": 7, "event_attributes": [], "total_trigger": 0},
            DeclaredEvent("E", "7", {}, 0, None),
        ),
        ({"event_name": "E", "total_trigger": "12"}, DeclaredEvent("E", None, {}, None, None)),
        (
            {"event_name": "E", "total_trigger": True, "event_attributes": None},
            DeclaredEvent("E", None, {}, None, None),
        ),
        # Entries without a text name are left out; a type is read as text.
        (
            {
                "event_name": "E",
                "event_attributes": [
                    "season",
                    {"attribute_data_type": "int"},
                    {"attribute_name": 5, "attribute_data_type": "int"},
                    {"attribute_name": "n", "attribute_data_type": 1},
                ],
            },
            DeclaredEvent("E", None, {"n": "1"}, None, None),
        ),
    ],
)
def test_declared_event_odd_entries(item, event):
    assert LEGACY.declared_event(item) == event


# --- which version a setting or a path names ----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [None, "", "v1.0", "V1.0", " v1.0 ", "1", "1.0", "legacy", "LEGACY", "api-v1.0", "API-V1.0", 1, 1.0],
)
def test_spellings_of_the_legacy_api(value):
    assert api_version(value) is LEGACY


@pytest.mark.parametrize("value", ["v5", "V5", "5", "5.0", "v5.0", " api-v5 ", "API-V5", 5, 5.0])
def test_spellings_of_v5(value):
    assert api_version(value) is V5


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("v6", "'v6'"),
        ("vv5", "'vv5'"),
        ("api-", "'api-'"),
        ("v 5", "'v 5'"),
        (6, "'6'"),
        (5.5, "'5.5'"),
        (True, "True"),
        ("1.1", "'1.1'"),
    ],
)
def test_refused_spellings_name_the_choices(value, shown):
    with pytest.raises(InvalidApiVersionError) as refused:
        api_version(value)
    assert str(refused.value) == (
        f"api_version {shown} is not a MoEngage Business Events API this provider speaks. Use 'v1.0' (the "
        "default, MoEngage's legacy API) or 'v5' (the form stores them as 'api-v1.0' and 'api-v5'; 'v5', 'V5' "
        "and 5 are accepted too)."
    )


@pytest.mark.parametrize(
    ("path", "api"),
    [
        ("/v5/business-events/triggers", V5),
        ("/v5/business-events", V5),
        ("/v1.0/business_event/trigger", LEGACY),
        ("/v1.0/business_event/search", LEGACY),
        ("/health", LEGACY),
        ("", LEGACY),
        ("/x/v5/", LEGACY),
    ],
)
def test_api_of_path(path, api):
    assert api_of_path(path) is api


def test_how_a_version_shows_in_a_log():
    assert (repr(LEGACY), repr(V5)) == (
        "<MoEngage Business Events API v1.0>",
        "<MoEngage Business Events API v5>",
    )
