"""
The connection's ``api_version`` through the hook, over real HTTP against the sandbox: which API is
asked, what each sends (V5's ``X-MOE-Request-Id``), what each answer and error becomes, the look-ups
(V5 cursors), the connection test, and validation that follows the API chosen.
"""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from moengage_provider.exceptions import (
    MoEngageClientError,
    MoEngageConfigurationError,
    MoEngageKeyScopeError,
    MoEngageValidationError,
)
from moengage_provider.hooks.moengage import MoEngageHook
from moengage_provider.operators.business_event import CreateBusinessEventOperator
from tests.dagrun import captured_log

V5 = "api-v5"
EVENTS = {
    "PriceDrop": {
        "attributes": {"sku": "string", "price": "number", "on_sale": "boolean", "dropped_at": "datetime"},
        "campaigns": ["64a1b2c3d4e5f6a7b8c9d0e1"],
    },
    "NewSeriesAlert": {"attributes": {"season": "string"}},
}
pytestmark = pytest.mark.moengage_sandbox(permissive=False, events=EVENTS, api_version=V5)


def request_ids(sandbox, path_part: str) -> list[str | None]:
    return [r["headers"].get("x-moe-request-id") for r in sandbox.requests if path_part in r["path"]]


def use(monkeypatch, sandbox, api_version, conn_id: str = "moengage_default") -> MoEngageHook:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", sandbox.airflow_conn_json(api_version=api_version))
    return MoEngageHook(conn_id)


@pytest.mark.parametrize(
    ("written", "chosen"),
    [
        (None, "v1.0"),
        ("", "v1.0"),
        ("v1.0", "v1.0"),
        ("api-v1.0", "v1.0"),
        ("legacy", "v1.0"),
        ("v5", "v5"),
        ("V5", "v5"),
        ("5", "v5"),
        (" V5 ", "v5"),
        (5, "v5"),
        ("api-v5", "v5"),
    ],
)
def test_the_forms_users_type_choose_the_api(monkeypatch, moengage_sandbox, written, chosen):
    extra = {} if written is None else {"api_version": written}
    conn = json.loads(moengage_sandbox.airflow_conn_json()) | {"extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_MOENGAGE_DEFAULT", json.dumps(conn))
    hook = MoEngageHook()
    assert hook.api.name == chosen
    hook.trigger_business_event("NewSeriesAlert", {"season": "S1"}, triggered_by="ops@example.com")
    (request,) = moengage_sandbox.requests
    assert (
        request["path"]
        == {"v1.0": "/v1.0/business_event/trigger", "v5": "/v5/business-events/triggers"}[chosen]
    )
    assert ("x-moe-request-id" in request["headers"]) == (chosen == "v5")


def test_an_api_version_no_one_speaks_fails_naming_the_field_and_the_choices(monkeypatch, moengage_sandbox):
    use(monkeypatch, moengage_sandbox, "v4")
    with pytest.raises(MoEngageConfigurationError, match=r"api_version 'v4' is not .* 'v1\.0' .* 'v5'"):
        MoEngageHook().trigger_business_event("NewSeriesAlert", {"season": "S1"}, "ops@example.com")
    assert moengage_sandbox.requests == []


class LogLines(logging.Handler):
    """What loggers said, whatever Airflow's logging config does with them (Airflow 3.0's task
    loggers do not propagate, so capfd and caplog see nothing outside a task)."""

    def __init__(self, *loggers: logging.Logger) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        for logger in loggers:
            if isinstance(logger, logging.Logger):  # Airflow 3.1+ logs through structlog: capfd sees it
                logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def text(self, capfd: pytest.CaptureFixture[str]) -> str:
        return "\n".join([*self.lines, captured_log(capfd)])


def test_v5_trigger_answers_with_what_came_of_the_campaigns_and_logs_it(moengage_sandbox, capfd):
    hook = MoEngageHook()
    logged = LogLines(hook.log)
    answer = hook.trigger_business_event(
        "PriceDrop", {"sku": "SKU-1", "price": 9.5, "on_sale": True}, "ops@example.com"
    )
    [sent] = request_ids(moengage_sandbox, "/triggers")
    assert sent is not None and uuid.UUID(sent).version == 4
    assert answer["response_id"] == "resp_" + sent.replace("-", "")
    assert answer["data"]["triggered_status"] == "SUCCESS"
    log = logged.text(capfd)
    assert "SUCCESS, 1 of 1 campaigns and flows triggered, 0 skipped by quota" in log
    assert f"X-MOE-Request-Id {sent}" in log
    [trigger] = moengage_sandbox.triggers
    assert trigger["event_attributes"] == {"sku": "SKU-1", "price": 9.5, "on_sale": True}


def test_validation_follows_the_api_chosen(monkeypatch, moengage_sandbox):
    """V5: booleans are a type and triggered_by is required; the legacy API: the other way round."""
    v5 = MoEngageHook()
    with pytest.raises(MoEngageValidationError, match=r"triggered_by: is required by .* V5") as info:
        v5.trigger_business_event("PriceDrop", {"sku": "SKU-1"})
    assert "Nothing was sent" in str(info.value)
    legacy = use(monkeypatch, moengage_sandbox, None, "moengage_legacy")
    with pytest.raises(MoEngageValidationError, match=r"on_sale: is a boolean, which the legacy API"):
        legacy.trigger_business_event("PriceDrop", {"on_sale": True}, "ops@example.com")
    assert moengage_sandbox.requests == []
    legacy.trigger_business_event("NewSeriesAlert", {"season": "S1"})  # no triggered_by: fine there


def test_v5_errors_name_the_request_id_and_read_the_v5_shape(moengage_sandbox):
    with pytest.raises(MoEngageClientError) as info:
        MoEngageHook().trigger_business_event("PriceDrop", {"price": "cheap"}, "ops@example.com")
    [sent] = request_ids(moengage_sandbox, "/triggers")
    text = str(info.value)
    assert "HTTP 400 to POST /v5/business-events/triggers" in text
    assert "code='VALIDATION_FAILED'" in text and "event_attributes.price" in text
    assert f"request_id=resp_{sent.replace('-', '')}" in text and f"X-MOE-Request-Id: {sent}" in text


def test_v5_401_says_which_key_v5_wants(monkeypatch, moengage_sandbox):
    conn = json.loads(moengage_sandbox.airflow_conn_json(api_version=V5)) | {"password": "not-the-key"}
    monkeypatch.setenv("AIRFLOW_CONN_MOENGAGE_DEFAULT", json.dumps(conn))
    with pytest.raises(
        MoEngageClientError, match=r"Settings > Account > API keys with access to business events"
    ):
        MoEngageHook().trigger_business_event("PriceDrop", {"sku": "SKU-1"}, "ops@example.com")


def test_a_key_without_the_business_events_scope_is_a_configuration_error(monkeypatch, moengage_sandbox):
    moengage_sandbox.add_api_key("a-key-without-scope-123", business_events_scope=False)
    conn = json.loads(moengage_sandbox.airflow_conn_json(api_version=V5)) | {
        "password": "a-key-without-scope-123"
    }
    monkeypatch.setenv("AIRFLOW_CONN_MOENGAGE_DEFAULT", json.dumps(conn))
    hook = MoEngageHook()
    with pytest.raises(
        MoEngageKeyScopeError, match=r"lacks access to business events.*Settings > Account > API keys"
    ):
        hook.trigger_business_event("PriceDrop", {"sku": "SKU-1"}, "ops@example.com")
    ok, message = hook.test_connection()
    assert not ok and "lacks access to business events" in message


def test_v5_look_ups_follow_the_cursors(moengage_sandbox):
    names = [f"Event{i:02d}" for i in range(45)]
    moengage_sandbox.declare_events({name: {"attributes": {"n": "number"}} for name in names})
    found = MoEngageHook().search_business_events(event_names=names)
    assert sorted(e["name"] for e in found) == names
    searches = [r for r in moengage_sandbox.requests if r["path"] == "/v5/business-events/search"]
    cursors = [json.loads(r["body"]).get("cursor") for r in searches]
    assert len(searches) == 3 and cursors[0] is None and None not in cursors[1:]
    both = MoEngageHook().search_business_events(event_names=["Event00"], event_ids=[found[1]["id"]])
    assert sorted(e["name"] for e in both) == ["Event00", found[1]["name"]]


def test_v5_look_up_reads_v5_types_and_counters(moengage_sandbox):
    hook = MoEngageHook()
    before = hook.find_business_event("PriceDrop")
    assert before is not None and before.trigger_count == 0 and before.last_triggered_at is None
    assert before.attributes == {
        "sku": "string",
        "price": "number",
        "on_sale": "boolean",
        "dropped_at": "datetime",
    }
    hook.trigger_business_event("PriceDrop", {"sku": "SKU-1"}, "ops@example.com")
    after = hook.find_business_event("PriceDrop")
    assert after is not None and after.trigger_count == 1 and after.last_triggered_at
    assert hook.find_business_event("NotDeclared") is None
    assert [r["path"] for r in moengage_sandbox.requests if r["method"] == "GET"] == [
        "/v5/business-events?name=PriceDrop&limit=20",
        "/v5/business-events?name=PriceDrop&limit=20",
        "/v5/business-events?name=NotDeclared&limit=20",
    ]


def test_the_connection_test_asks_the_chosen_api_read_only(monkeypatch, moengage_sandbox):
    ok, message = MoEngageHook().test_connection()
    assert ok and "through MoEngage's Business Events API V5: credentials accepted" in message
    ok, message = use(monkeypatch, moengage_sandbox, None, "moengage_legacy").test_connection()
    assert ok and message.endswith(": credentials accepted.") and "V5" not in message
    assert [(r["method"], r["path"]) for r in moengage_sandbox.requests] == [
        ("GET", "/v5/business-events?name=airflow-connection-test&limit=20"),
        ("POST", "/v1.0/business_event/search"),
    ]
    assert moengage_sandbox.triggers == []


def test_create_stays_on_the_legacy_api_under_v5_and_says_so(moengage_sandbox, capfd):
    op = CreateBusinessEventOperator(
        task_id="create",
        event_name="BackInStock",
        attribute_types={"sku": "string"},
        created_by="ops@example.com",
    )
    logged = LogLines(op.log, op.hook.log)
    assert op.execute(context={})["created"] is True  # type: ignore[arg-type]
    assert [r["path"] for r in moengage_sandbox.requests] == [
        "/v1.0/business_event/search",
        "/v1.0/business_event",
    ]
    assert "MoEngage has not moved creating business events to V5" in logged.text(capfd)


def test_campaigns_reached_and_skipped_by_quota_are_counted(monkeypatch, moengage_sandbox):
    from moengage_provider.observability import metrics

    counted: dict[str, int] = {}

    class Stats:
        def incr(self, stat: str, count: int = 1, tags: object = None) -> None:
            counted[stat] = counted.get(stat, 0) + count

    monkeypatch.setattr(metrics, "_stats", Stats)
    moengage_sandbox.declare_events(
        {"Capped": {"attributes": {"n": "number"}, "campaigns": ["c1", "c2", {"id": "c3", "quota": 0}]}}
    )
    MoEngageHook().trigger_business_event("Capped", {"n": 1}, "ops@example.com")
    prefix = metrics.PREFIX
    assert counted == {f"{prefix}.campaigns_triggered": 2, f"{prefix}.campaigns_skipped": 1}
