"""Each API adapter's reading of answers, pinned by hand: the error fields an on-call engineer reads, the
error answers that are more than their status, what a trigger's answer says, and the request headers.
Every expected value is written out from MoEngage's documented shapes (the legacy API's as MoEngage's
documentation and the sandbox's legacy module show them, V5's as tests/data/business-events-v5.yaml shows
them), not computed by the code under test. Pure: no server."""

from __future__ import annotations

import uuid

import pytest

from moengage_provider.api.versions import (
    LEGACY,
    V5,
    Answer,
    TriggerAnswer,
    new_request_id,
)

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
    partial = TriggerAnswer(None, None, summary={"triggered": 0}, ids={"failed_flow_ids": ["f8", "f9"]})
    assert partial.counts() == "0 of ? campaigns and flows triggered, ? skipped by quota"
    assert partial.skipped() == "campaigns none; flows f8, f9"


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
            {"triggered_status": "FAILURE", "failed_campaign_ids": ["c1"], "failed_flow_ids": ["f1"]},
            Answer.ALL_SKIPPED_BY_QUOTA,
            {},
            {**NO_IDS, "failed_campaign_ids": ["c1"], "failed_flow_ids": ["f1"]},
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
