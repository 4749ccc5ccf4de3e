"""Data centers: what users type (codes, DC names, dashboard and API URLs), and the hosts behind a code."""

from __future__ import annotations

import pytest

from moengage_provider.api.data_centers import (
    DATA_CENTERS,
    InvalidDataCenterError,
    api_base_url,
    dashboard_campaigns_url,
    dashboard_url,
    normalize_data_center,
    valid_data_centers_text,
)

VALID_TEXT = "DC-01 (US), DC-02 (EU), DC-03 (India), DC-04 (US), DC-05 (Singapore), DC-06 (Indonesia), DC-101 (no published region)"


def test_the_published_data_centers():
    assert DATA_CENTERS == {
        "01": "US", "02": "EU", "03": "India", "04": "US", "05": "Singapore", "06": "Indonesia",
        "101": "no published region",
    }  # fmt: skip
    assert valid_data_centers_text() == VALID_TEXT


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("01", "01"), ("1", "01"), (1, "01"), (6, "06"), ("06", "06"), (" 02 ", "02"), ("DC-01", "01"),
        ("dc01", "01"), ("DC_3", "03"), ("dc 4", "04"), ("DC-05", "05"), ("101", "101"), (101, "101"),
        ("dc-101", "101"), ("0101", "101"),
        ("https://dashboard-01.moengage.com/v4/#/campaigns", "01"), ("dashboard-02.moengage.com", "02"),
        ("https://api-03.moengage.com", "03"), ("HTTPS://DASHBOARD-101.MOENGAGE.COM/", "101"),
        ("api-1.moengage.com", "01"),
    ],
)  # fmt: skip
def test_forms_users_type_give_the_code(typed, code):
    assert normalize_data_center(typed) == code


@pytest.mark.parametrize(
    "typed",
    ["07", "00", "0", "102", "eu", "", "dc", "dc-", "1.0", "01a", "https://dashboard-07.moengage.com",
     "https://example.com/dashboard-01", "https://dashboard-01.moengage.com.evil.example", "api-01.moengage.co",
     "ftp://dashboard-x.moengage.com", 7],
)  # fmt: skip
def test_anything_else_is_refused_listing_the_valid_codes(typed):
    with pytest.raises(InvalidDataCenterError) as info:
        normalize_data_center(typed)
    assert str(info.value) == (
        f"data_center {str(typed)!r} is not a MoEngage data center. Use one of: {VALID_TEXT} (you can read "
        "it off your dashboard URL, e.g. dashboard-01.moengage.com is DC-01)."
    )


@pytest.mark.parametrize(
    ("typed", "kind"), [(True, "bool"), (None, "NoneType"), (1.0, "float"), (["01"], "list")]
)
def test_a_value_that_is_not_text_or_a_number_is_refused_naming_its_type(typed, kind):
    with pytest.raises(InvalidDataCenterError) as info:
        normalize_data_center(typed)
    assert str(info.value) == (
        f"data_center must be text such as 'DC-01', got {kind}. Valid data centers: {VALID_TEXT}."
    )


def test_the_hosts_of_a_code():
    assert api_base_url("01") == "https://api-01.moengage.com"
    assert dashboard_url("101") == "https://dashboard-101.moengage.com"
    assert dashboard_campaigns_url("02") == "https://dashboard-02.moengage.com/v4/#/campaigns"
