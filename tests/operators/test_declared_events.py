"""Declared events: create idempotently, and the opt-in check of attributes against the declaration."""

from __future__ import annotations

import textwrap
import uuid

import pytest

from moengage_provider.operators.business_event import CreateBusinessEventOperator
from tests.dagrun import run_dag

SOURCE = """
import datetime
from airflow.providers.common.compat.sdk import DAG
from moengage_provider.operators.business_event import CreateBusinessEventOperator, TriggerBusinessEventOperator

with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False) as dag:
{body}
"""


@pytest.fixture
def make_dag(dag_from_source):
    def make(body: str):
        dag_id = f"declared_{uuid.uuid4().hex[:8]}"
        source = SOURCE.format(dag_id=dag_id, body=textwrap.indent(textwrap.dedent(body), "    "))
        return dag_from_source(source, dag_id)

    return make


CREATE = """
CreateBusinessEventOperator(
    task_id="create",
    event_name="NewSeriesAlert",
    attribute_types={"season": "string", "episodes": "int", "cast": "array", "released_on": "date"},
    created_by="data-team@example.com",
)
"""


@pytest.mark.moengage_sandbox(permissive=False)
def test_create_then_trigger_then_create_again_is_a_no_op(make_dag, moengage_sandbox):
    dag = make_dag(
        "create = "
        + CREATE.strip()
        + """
create >> TriggerBusinessEventOperator(
    task_id="fire", event_name="NewSeriesAlert", check_declared_attributes=True,
    event_attributes={"season": "S1", "episodes": 8, "cast": ["A"], "released_on": datetime.date(2024, 1, 2)},
)
"""
    )
    first = run_dag(dag)
    assert first.state == "success"
    assert first.xcom["create"]["created"] is True
    assert "NewSeriesAlert" in moengage_sandbox.events()
    assert moengage_sandbox.triggers[0]["event_attributes"]["released_on"] == "2024-01-02"

    second = run_dag(make_dag(CREATE))
    assert second.state == "success"
    assert second.xcom["create"] == {**first.xcom["create"], "created": False}
    creates = [r for r in moengage_sandbox.requests if r["path"] == "/v1.0/business_event"]
    assert len(creates) == 1


@pytest.mark.moengage_sandbox(
    permissive=False, events={"NewSeriesAlert": {"attributes": {"season": "string"}, "active_campaign": True}}
)
def test_create_with_different_attributes_is_a_clear_error(make_dag, moengage_sandbox, capfd):
    result = run_dag(make_dag(CREATE))
    assert result.tasks["create"] == ("failed", 1)
    log = "".join(capfd.readouterr())
    assert "already exists with different attributes" in log
    assert "declared {season: string}" in log
    assert not [r for r in moengage_sandbox.requests if r["path"] == "/v1.0/business_event"]


@pytest.mark.moengage_sandbox(
    permissive=True,
    events={"PriceDrop": {"attributes": {"sku": "string", "price": "float"}, "active_campaign": True}},
)
@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ('{"sku": "A1", "colour": "red"}', "event_attributes.colour: is not declared on this business event"),
        ('{"sku": 12}', "event_attributes.sku: is declared as string in MoEngage but the value is int 12"),
    ],
)
def test_declared_check_refuses_before_sending(make_dag, moengage_sandbox, capfd, attributes, message):
    dag = make_dag(
        f"""
        TriggerBusinessEventOperator(
            task_id="fire", event_name="PriceDrop", event_attributes={attributes},
            check_declared_attributes=True, retries=2,
        )
        """
    )
    result = run_dag(dag)
    assert result.tasks["fire"] == ("failed", 1)
    assert message in "".join(capfd.readouterr())
    assert [r["path"] for r in moengage_sandbox.requests] == ["/v1.0/business_event/search"]


def test_unknown_attribute_type_fails_at_parse():
    with pytest.raises(ValueError, match=r"attribute_types\.season: type 'text' is not one of string"):
        CreateBusinessEventOperator(
            task_id="c", event_name="E", attribute_types={"season": "text"}, created_by="a@example.com"
        )


@pytest.mark.parametrize("attribute_types", [{}, None])
def test_an_empty_declaration_fails_at_parse(attribute_types):
    with pytest.raises(ValueError, match=r"'c': attribute_types: must be a non-empty dict"):
        CreateBusinessEventOperator(
            task_id="c", event_name="E", attribute_types=attribute_types, created_by="a@example.com"
        )
