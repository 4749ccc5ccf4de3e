"""
Every payload the provider accepts, sent through the hook to the sandbox over real HTTP, is recorded
there exactly as sent: same bytes on the wire, same JSON types (an int stays an int, 1.0 stays a
float, a list stays a list, text keeps every character).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from moengage_provider.api.payload import prepare_trigger
from moengage_provider.api.text_fields import InvalidBusinessEventError
from moengage_provider.exceptions import MoEngageValidationError
from moengage_provider.hooks.moengage import MoEngageHook

# Values: every code point JSON over UTF-8 can carry (controls included; no lone surrogates, no NUL).
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)
# Names and keys: visible characters, as api/payload.py asks.
NAME = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Cf", "Zl", "Zp")), min_size=1, max_size=20
).filter(lambda text: text.strip() == text and text.strip())
SCALAR = st.one_of(
    TEXT,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(),
    st.datetimes(timezones=st.none() | st.timezones()),
)
ATTRIBUTES = st.dictionaries(NAME, st.one_of(SCALAR, st.lists(SCALAR, max_size=4)), max_size=6)


def _typed(value):
    """JSON text with types visible: 1 and 1.0 differ, as they do for MoEngage."""
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


@pytest.mark.moengage_sandbox(permissive=True, hourly_limit=10**9, daily_limit=10**9)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    event_name=NAME,
    event_attributes=ATTRIBUTES,
    triggered_by=st.none() | st.emails(domains=st.sampled_from(["example.com", "mail.example.org"])),
)
def test_accepted_payloads_reach_the_sandbox_exactly_as_sent(
    moengage_sandbox, event_name, event_attributes, triggered_by
):
    try:
        prepared = prepare_trigger(event_name, event_attributes, triggered_by)
    except InvalidBusinessEventError:
        reject()
    moengage_sandbox.reset()
    hook = MoEngageHook()
    try:
        hook.trigger_business_event(event_name, event_attributes, triggered_by)
    except MoEngageValidationError:  # the hook validates like prepare_trigger did
        raise AssertionError("the hook refused what prepare_trigger accepted") from None
    (request,) = moengage_sandbox.requests
    assert request["body"] == prepared.data
    (record,) = moengage_sandbox.triggers
    assert record["event_name"] == prepared.body["event_name"]
    assert _typed(record["event_attributes"]) == _typed(prepared.body["event_attributes"])
    assert record["triggered_by"] == prepared.body.get("triggered_by")
