"""What each API version reads from MoEngage's answers, from the documented examples (MoEngage's
public V5 OpenAPI description), without a server: which row of the outcomes table an answer is."""

from __future__ import annotations

import pytest

from moengage_provider.api.versions import LEGACY, V5, Answer, InvalidApiVersionError, api_version


def v5_answer(status: str, triggered: int, failed: int, **ids: list[str]) -> dict:
    """The documented 200 answer; ``campaigns`` / ``skipped``: its triggered / failed campaign IDs."""
    return {
        "response_id": "resp_5f3e2a1b9c8d4e6f8a1b2c3d4e5f6a7b",
        "type": "business-event",
        "data": {
            "triggered_status": status,
            "message": "The business event has been triggered",
            "summary": {"total": triggered + failed, "triggered": triggered, "failed": failed},
            "triggered_campaign_ids": ids.get("campaigns", []),
            "failed_campaign_ids": ids.get("skipped", []),
            "triggered_flow_ids": [],
            "failed_flow_ids": [],
        },
    }


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (v5_answer("SUCCESS", 4, 0), Answer.ALL_TRIGGERED),
        (v5_answer("PARTIAL_SUCCESS", 3, 1), Answer.SOME_SKIPPED_BY_QUOTA),
        (v5_answer("FAILURE", 0, 4), Answer.ALL_SKIPPED_BY_QUOTA),
        (v5_answer("FAILURE", 0, 0), Answer.NOTHING_ATTACHED),
        ({"response_id": "resp_1", "type": "business-event", "data": {"triggered_status": "NEW"}}, None),
        ({"message": "The business event has been triggered"}, None),
    ],
)
def test_v5_reads_what_came_of_the_campaigns(answer, kind):
    assert V5.read_trigger(answer).answer is kind


def test_the_legacy_answer_says_nothing_about_campaigns():
    assert LEGACY.read_trigger({"message": "The business event has been triggered"}).answer is None


def test_the_v5_result_adds_what_came_of_the_campaigns_to_todays_keys():
    answer = v5_answer("PARTIAL_SUCCESS", 1, 1, campaigns=["c1"], skipped=["c2"])
    result = V5.trigger_result("PriceDrop", answer, "2026-12-06T10:00:00+00:00")
    assert result == {
        "event_name": "PriceDrop",
        "message": "The business event has been triggered",
        "sent_at": "2026-12-06T10:00:00+00:00",
        "response_id": "resp_5f3e2a1b9c8d4e6f8a1b2c3d4e5f6a7b",
        "triggered_status": "PARTIAL_SUCCESS",
        "summary": {"total": 2, "triggered": 1, "failed": 1},
        "triggered_campaign_ids": ["c1"],
        "failed_campaign_ids": ["c2"],
        "triggered_flow_ids": [],
        "failed_flow_ids": [],
    }
    assert set(LEGACY.trigger_result("E", {"message": "m"}, "t")) == {"event_name", "message", "sent_at"}


def test_error_shapes_and_the_answers_they_are():
    forbidden = {
        "error": {
            "code": "FORBIDDEN",
            "message": "This API key does not have the scope",
            "target": "Authorization",
        },
        "response_id": "resp_5f3e",
    }
    fields = V5.error_fields(forbidden)
    assert (fields["code"], fields["request_id"], fields["details"]) == (
        "FORBIDDEN",
        "resp_5f3e",
        [{"target": "Authorization"}],
    )
    assert V5.answer_for_error(403, fields) is Answer.KEY_LACKS_SCOPE
    assert LEGACY.answer_for_error(403, fields) is None
    no_campaign = LEGACY.error_fields(
        {"error": {"code": "400 Bad Request", "message": "No active campaign found for business event name"}}
    )
    assert LEGACY.answer_for_error(400, no_campaign) is Answer.NOTHING_ATTACHED


def test_an_unknown_api_version_names_the_choices():
    with pytest.raises(InvalidApiVersionError, match=r"'v1\.0' .* 'v5'"):
        api_version("v6")
    assert api_version(None) is LEGACY and api_version(5.0) is V5 and api_version("V5") is V5
