"""Schemathesis against the published OpenAPI description (tests/data, copied from MoEngage's docs),
pointed at a running sandbox: every check, positive and negative data, bounded examples.

A schema-valid request the sandbox refuses on purpose is one of the deliberate differences listed in
docs/sandbox.md; ``deliberate_difference`` is that list in code, and nothing else is excused.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance

from moengage_provider.testing import MoEngageSandbox

SPEC = Path(__file__).resolve().parent.parent / "data" / "business-events-openapi.yml"
WORKSPACE, KEY = "conformance-ws", "conformance-key"
AUTH = "Basic " + base64.b64encode(f"{WORKSPACE}:{KEY}".encode()).decode()
EXAMPLES = 60  # per generation mode; the whole test stays within a few seconds on a loaded machine

pytestmark = pytest.mark.conformance

SCHEMA = schemathesis.openapi.from_path(SPEC)
OPERATIONS = {
    path: SCHEMA[path]["POST"]
    for path in ("/business_event", "/business_event/trigger", "/business_event/search")
}


def _email_ok(value: Any) -> bool:
    from moengage_provider.testing.sandbox.validation import is_email

    return is_email(value)


def deliberate_difference(path: str, body: Any, sb: MoEngageSandbox) -> str | None:
    """Why the sandbox refuses this schema-valid body on purpose (docs/sandbox.md), or None."""
    if path == "/business_event/search" and not isinstance(body, dict):
        return "search needs a body naming event_ids or event_names (the spec marks the body optional)"
    if not isinstance(body, dict):
        return None
    known = {
        "/business_event": {"event_name", "event_attributes", "created_by"},
        "/business_event/trigger": {"event_name", "event_attributes", "triggered_by"},
        "/business_event/search": {"event_ids", "event_names"},
    }[path]
    if set(body) - known:
        return "unknown top-level fields are refused, as the spec's own 400 examples show"
    name = body.get("event_name")
    if path in ("/business_event", "/business_event/trigger") and isinstance(name, str) and not name.strip():
        return "an empty or blank event_name is refused"
    if path == "/business_event":
        attributes = body.get("event_attributes") or []
        if any(set(a) - {"attribute_name", "attribute_data_type"} for a in attributes):
            return "unknown keys in an attribute entry are refused, like unknown top-level fields"
        names = [a.get("attribute_name") for a in attributes if isinstance(a, dict)]
        if any(not n for n in names):
            return "an empty attribute_name is refused"
        if len(set(names)) != len(names):
            return "a duplicate attribute_name is refused"
        if name in sb.events():
            return "an existing event name is refused (documented: names are unique)"
        if not _email_ok(body.get("created_by")):
            return "created_by must look like name@domain.tld"
    triggered_by = body.get("triggered_by")
    if path == "/business_event/trigger" and triggered_by is not None and not _email_ok(triggered_by):
        return "triggered_by must look like name@domain.tld"
    if path == "/business_event/search" and not (body.get("event_ids") or body.get("event_names")):
        return "at least one of event_ids or event_names (the spec says so in prose only)"
    text = json.dumps(body)
    if any(abs(n) > 2**63 - 1 for n in _ints(body)) or text.count("[") + text.count("{") > 64:
        return "numbers beyond 64 bits or JSON nested deeper than 64 levels are refused"
    return None


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
def conformance_sandbox():
    # Limits out of the way: a 429 is documented, but would hide everything after it.
    with MoEngageSandbox(
        WORKSPACE,
        KEY,
        hourly_limit=10**9,
        daily_limit=10**9,
        event_limit=10**9,
        search_limit_per_minute=10**9,
    ) as sb:
        yield sb


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_sandbox_conforms_to_the_published_openapi(conformance_sandbox: MoEngageSandbox, mode) -> None:
    sb = conformance_sandbox
    strategy = st.one_of(*(op.as_strategy(generation_mode=mode) for op in OPERATIONS.values()))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=False,
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        path = case.operation.path
        excused = (
            deliberate_difference(path, case.body, sb)
            if mode is schemathesis.GenerationMode.POSITIVE
            else None
        )
        # Positive data carries valid credentials (schemathesis's own auth checks send none or wrong
        # ones); negative data keeps whatever was generated, a 401 being a documented refusal.
        positive = mode is schemathesis.GenerationMode.POSITIVE
        headers = {"Authorization": AUTH} if positive or "Authorization" not in (case.headers or {}) else {}
        response = case.call(base_url=sb.url + "/v1.0", headers=headers, timeout=10)
        assert response.status_code < 500, response.text
        case.validate_response(
            response, excluded_checks=[positive_data_acceptance] if excused else None, headers=headers
        )
        if excused:
            assert response.status_code == 400, (excused, response.text)

    before = len(sb.triggers)
    run()
    assert sb.running
    assert len(sb.triggers) >= before


def test_search_results_with_counters_match_the_spec_schema(make_sandbox) -> None:
    """Random names rarely hit an event: search known ones, triggered and not, and validate the answer."""
    events = {
        "Fired": {"attributes": {"season": "string", "cast": "array"}, "active_campaign": True},
        "NeverFired": {"attributes": {"released_on": "date"}, "active_campaign": True},
    }
    sb = make_sandbox(workspace_id=WORKSPACE, api_key=KEY, events=events, permissive=False)
    trigger = OPERATIONS["/business_event/trigger"].Case(
        body={"event_name": "Fired", "event_attributes": {"season": "S1", "cast": ["A"]}},
        media_type="application/json",
    )
    response = trigger.call(base_url=sb.url + "/v1.0", headers={"Authorization": AUTH}, timeout=10)
    assert response.status_code == 200
    trigger.validate_response(response, headers={"Authorization": AUTH})
    search = OPERATIONS["/business_event/search"].Case(
        body={"event_names": ["Fired", "NeverFired"]}, media_type="application/json"
    )
    response = search.call(base_url=sb.url + "/v1.0", headers={"Authorization": AUTH}, timeout=10)
    search.validate_response(response, headers={"Authorization": AUTH})
    data = {e["event_name"]: e for e in response.json()["data"]}
    assert data["Fired"]["total_trigger"] == 1 and data["Fired"]["last_received_time"]
    assert data["NeverFired"]["total_trigger"] == 0 and "last_received_time" not in data["NeverFired"]
