"""Look-ups and version names, pinned by hand: the request each API's look-up sends, the cursor a V5 page
hands on, the declared event each API's answer describes, and which spellings of ``api_version`` name which
API (expected values written out from MoEngage's documented shapes, as in test_versions_by_hand.py)."""

from __future__ import annotations

import pytest

from moengage_provider.api.versions import (
    LEGACY,
    V5,
    DeclaredEvent,
    InvalidApiVersionError,
    Lookup,
    api_of_path,
    api_version,
)

CURSOR = "eyJsYXN0X2lkIjoiNjdhMmM0ZjE4ZDNiNWUwYTljMWY0ZTc0In0="
RESPONSE_ID = "resp_5f3e2a1b9c8d4e6f8a1b2c3d4e5f6a7b"


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
