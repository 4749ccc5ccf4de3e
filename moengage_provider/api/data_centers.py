"""MoEngage data centers: what users type, the code MoEngage uses, and the hosts behind it."""

from __future__ import annotations

import re
from urllib.parse import urlparse

#: Data center code -> region, as MoEngage publishes it (101 has no published region).
DATA_CENTERS: dict[str, str] = {
    "01": "US",
    "02": "EU",
    "03": "India",
    "04": "US",
    "05": "Singapore",
    "06": "Indonesia",
    "101": "no published region",
}

_HOST_PATTERN = re.compile(r"^(?:dashboard|api)-0*(\d+)\.moengage\.com$")
_CODE_PATTERN = re.compile(r"^(?:dc)?[\s_-]*0*(\d+)$")


class InvalidDataCenterError(ValueError):
    """The data center a user gave is not one MoEngage runs."""


def valid_data_centers_text() -> str:
    """One line listing the valid data centers with their regions, for error messages and forms, in the
    form to type (``DC-01``: a bare ``01`` is under the secret masker's 5-character minimum)."""
    return ", ".join(f"DC-{code} ({region})" for code, region in DATA_CENTERS.items())


def normalize_data_center(value: object) -> str:
    """
    Turn what a user typed into MoEngage's data center code (``01``..``06`` or ``101``).

    Accepts ``1``, ``01``, ``DC-01``, ``dc01``, an integer, or a dashboard/API URL such as
    ``https://dashboard-01.moengage.com/...``, because users copy whichever they have at hand.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidDataCenterError(
            f"data_center must be text such as 'DC-01', got {type(value).__name__}. "
            f"Valid data centers: {valid_data_centers_text()}."
        )
    text = str(value).strip().lower()
    if "moengage.com" in text:  # a URL or host; any other URL matches neither pattern
        match = _HOST_PATTERN.match(urlparse(text if "://" in text else f"https://{text}").hostname or "")
    else:
        match = _CODE_PATTERN.match(text)
    code = match.group(1).zfill(2) if match else None
    if code not in DATA_CENTERS:
        raise InvalidDataCenterError(
            f"data_center {str(value)!r} is not a MoEngage data center. "
            f"Use one of: {valid_data_centers_text()} (you can read it off your dashboard URL, "
            "e.g. dashboard-01.moengage.com is DC-01)."
        )
    return code


def api_base_url(data_center: str) -> str:
    """The REST API's base URL for a data center code."""
    return f"https://api-{data_center}.moengage.com"


def dashboard_url(data_center: str) -> str:
    """The dashboard's base URL for a data center code."""
    return f"https://dashboard-{data_center}.moengage.com"


def dashboard_campaigns_url(data_center: str) -> str:
    """The dashboard's campaigns list, where business-event campaigns and their analytics live."""
    return f"{dashboard_url(data_center)}/v4/#/campaigns"
