"""Schemathesis against MoEngage's public V5 OpenAPI description (tests/data/business-events-v5.yaml,
copied from moengage/moengage-documentation; see tests/data/README.md), pointed at a running
sandbox: every check, positive and negative data, bounded examples.

A schema-valid request the sandbox refuses on purpose is one of the deliberate differences listed in
docs/sandbox.md; ``deliberate_difference`` is that list in code, and nothing else is excused.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from moengage_provider.testing import MoEngageSandbox
from moengage_provider.testing.sandbox.ratelimits import PUBLISHED

SPEC = Path(__file__).resolve().parent.parent / "data" / "business-events-v5.yaml"
WORKSPACE, KEY = "conformance-ws", "conformance-key"
AUTH = "Basic " + base64.b64encode(f"{WORKSPACE}:{KEY}".encode()).decode()
EXAMPLES = 60  # per generation mode; the whole test stays within a few seconds on a loaded machine
TRIGGERS, LIST, SEARCH = "/v5/business-events/triggers", "/v5/business-events", "/v5/business-events/search"
EVENTS = {
    "price_drop": {
        "attributes": {
            "product_id": "string",
            "new_price": "number",
            "on_sale": "boolean",
            "dropped_at": "datetime",
        },
        "campaigns": ["64a1b2c3d4e5f6a7b8c9d0e1", {"id": "64a1b2c3d4e5f6a7b8c9d0e2", "quota": 1}],
        "flows": ["64a1b2c3d4e5f6a7b8c9d0f1"],
    },
    "unused": {"attributes": {}, "active_campaign": False},
}

pytestmark = pytest.mark.conformance

SCHEMA = schemathesis.openapi.from_path(SPEC)
OPERATIONS = [SCHEMA[TRIGGERS]["POST"], SCHEMA[LIST]["GET"], SCHEMA[SEARCH]["POST"]]


def deliberate_difference(path: str, case: schemathesis.Case) -> str | None:
    """Why the sandbox refuses this schema-valid request on purpose (docs/sandbox.md), or None."""
    from moengage_provider.testing.sandbox.validation import is_email

    body, query = case.body, case.query or {}
    if path == TRIGGERS and isinstance(body, dict):
        name = body.get("event_name")
        if isinstance(name, str) and not name.strip():
            return "an empty or blank event_name is refused"
        if not is_email(body.get("triggered_by")):
            return "triggered_by must look like name@domain.tld"
    if path == LIST and "name" in query and "id" in query:
        return "name and id together are refused (the spec says so in prose only)"
    if path == SEARCH and isinstance(body, dict):
        filters = body.get("filters")
        if isinstance(filters, dict) and "names" in filters and "ids" in filters:
            return "names and ids together are refused (the spec says so in prose only)"
    limit = query.get("limit") if path == LIST else body.get("limit") if isinstance(body, dict) else None
    if isinstance(limit, int) and limit < 1:
        return "a page size below 1 is refused (the spec gives only a maximum)"
    cursor = query.get("cursor") if path == LIST else body.get("cursor") if isinstance(body, dict) else None
    if cursor not in (None, "") and not _cursor_like(cursor):
        return "a cursor no page could have given is refused"
    text = json.dumps(body) if isinstance(body, (dict, list)) else ""
    if any(not -(2**63) <= n <= 2**63 - 1 for n in _ints(body)) or text.count("[") + text.count("{") > 64:
        return "numbers beyond 64 bits or JSON nested deeper than 64 levels are refused"
    return None


def _unsent_query(case: schemathesis.Case) -> bool:
    """Some generated query parameter is not in the URL requests builds from it."""
    query = case.query or {}
    url = requests.Request("GET", "http://sandbox/", params=query).prepare().url or ""
    return set(parse_qs(urlsplit(url).query, keep_blank_values=True)) != {str(k) for k in query}


def _cursor_like(cursor: Any) -> bool:
    """Shaped like the cursors pages give (and like the spec's example): base64 of {"last_id": ...}."""
    try:
        return isinstance(json.loads(base64.urlsafe_b64decode(str(cursor).encode("ascii")))["last_id"], str)
    except (ValueError, UnicodeError, TypeError, KeyError):
        return False


def _ints(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _ints(v)]
    if isinstance(value, list):
        return [n for v in value for n in _ints(v)]
    return []


@pytest.fixture(scope="module")
def v5_sandbox():
    # Limits out of the way: a 429 is documented, but would hide everything after it.
    unlimited = {row.name: {"limit": 10**9} for row in PUBLISHED}
    with MoEngageSandbox(WORKSPACE, KEY, events=EVENTS, rate_limits=unlimited) as sb:
        yield sb


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_sandbox_conforms_to_the_published_v5_openapi(v5_sandbox: MoEngageSandbox, mode) -> None:
    sb = v5_sandbox
    strategy = st.one_of(*(op.as_strategy(generation_mode=mode) for op in OPERATIONS))
    positive = mode is schemathesis.GenerationMode.POSITIVE

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=False,
        phases=[p for p in Phase if p is not Phase.explain],  # its line tracer can take minutes
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        path = case.operation.path
        excused = deliberate_difference(path, case) if positive else None
        # Positive data carries valid credentials (schemathesis's own auth checks send none or wrong
        # ones); negative data keeps whatever was generated, a 401 being a documented refusal.
        headers = {"Authorization": AUTH} if positive or "Authorization" not in (case.headers or {}) else {}
        response = case.call(base_url=sb.url, headers=headers, timeout=10)
        assert response.status_code < 500, response.text
        excluded = [positive_data_acceptance] if excused else []
        if not positive and _unsent_query(case):
            # requests sends no query parameter whose value is None or empty: the invalid part
            # never reaches the sandbox, so there is nothing to refuse.
            excluded.append(negative_data_rejection)
        case.validate_response(response, excluded_checks=excluded or None, headers=headers)
        if excused:
            assert response.status_code == 400, (excused, case.query, case.body, response.text[:80])
        # every V5 answer carries the request id
        assert response.headers.get("x-moe-request-id"), (response.status_code, path, response.headers)

    run()
    assert sb.running


def test_every_triggered_status_and_a_second_page_match_the_spec_schema(make_sandbox) -> None:
    """Random data rarely reaches every answer: fire the three outcomes, page through, validate."""
    events = {**EVENTS, **{f"e{n:02d}": {"attributes": {}} for n in range(21)}}
    sb = make_sandbox(workspace_id=WORKSPACE, api_key=KEY, events=events, permissive=False)
    trigger = SCHEMA[TRIGGERS]["POST"]
    statuses = []
    for name in ("price_drop", "price_drop", "unused"):
        case = trigger.Case(
            body={"event_name": name, "triggered_by": "ops@acme.com"}, media_type="application/json"
        )
        response = case.call(base_url=sb.url, headers={"Authorization": AUTH}, timeout=10)
        case.validate_response(response, headers={"Authorization": AUTH})
        statuses.append(response.json()["data"]["triggered_status"])
    assert statuses == ["SUCCESS", "PARTIAL_SUCCESS", "FAILURE"]
    listing = SCHEMA[LIST]["GET"]
    first = listing.Case(query={"limit": 20})
    response = first.call(base_url=sb.url, headers={"Authorization": AUTH}, timeout=10)
    first.validate_response(response, headers={"Authorization": AUTH})
    second = listing.Case(query={"cursor": response.json()["pagination"]["next_cursor"]})
    response = second.call(base_url=sb.url, headers={"Authorization": AUTH}, timeout=10)
    second.validate_response(response, headers={"Authorization": AUTH})
    [price_drop] = [e for e in response.json()["data"] if e["name"] == "price_drop"] or [None]
    assert price_drop is None or price_drop["trigger_count"] == 2
