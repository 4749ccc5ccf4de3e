"""
OpenLineage for business events: the event as an output dataset, what was sent, what came of it.

Imported only when the OpenLineage provider collects lineage (from the operator's
``get_openlineage_facets_on_complete``/``_on_failure``): without the provider nothing here loads.

Naming, stable (docs/observability.md):

- namespace ``moengage://api-<dc>.moengage.com`` for the connection's data center (the workspace's
  identity, also behind a proxy), else ``moengage://<host[:port]>`` of the connection's host;
- name ``<workspace_id>/business_events/<event_name>``.

The run facet ``moengage_businessEvent`` carries the attribute names and their JSON types, never
their values unless the task opts in (``lineage_include_values=True``), never a key or header.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from attrs import define
from openlineage.client.event_v2 import Dataset
from openlineage.client.facet_v2 import RunFacet, schema_dataset

from moengage_provider.data_centers import api_base_url

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

RUN_FACET_KEY = "moengage_businessEvent"

#: How the delivery ended, as the facet's ``outcome`` says it (the first five are the outcomes of a
#: trigger call, as in moengage_provider.metrics.outcome_of).
OUTCOMES = {
    "delivered": "MoEngage answered 2xx: the event was accepted",
    "unknown": "MoEngage may or may not have taken the event (timeout, dropped connection, 5xx, or an "
    "earlier unknown outcome skipped with if_outcome_unknown='skip')",
    "rate_limited": "refused for the rate limit (429); nothing delivered",
    "client_error": "refused for good (4xx); nothing delivered",
    "not_delivered": "certainly not taken (connection refused, 503, not sent)",
    "deduplicated": "an earlier try delivered this payload; nothing was sent",
}


@define
class MoEngageBusinessEventRunFacet(RunFacet):
    """What this task sent to MoEngage and what came of it (no secrets; values only if opted in)."""

    eventName: str
    workspaceId: str
    dataCenter: str | None
    #: One of :data:`OUTCOMES`.
    outcome: str
    #: Attribute name -> JSON type (``string``, ``integer``, ``number``, ``boolean``, ``array``, ...).
    attributes: dict[str, str]
    requestId: str | None = None
    httpStatus: int | None = None
    #: The attribute values as sent; only with ``lineage_include_values=True``.
    attributeValues: dict[str, Any] | None = None


def dataset_namespace(data_center: str | None, host: str) -> str:
    """``moengage://api-01.moengage.com`` from a data center, else ``moengage://<host>``."""
    if data_center:
        return f"moengage://{urlsplit(api_base_url(data_center)).netloc}"
    return f"moengage://{host}"


def dataset_name(workspace_id: str, event_name: str) -> str:
    return f"{workspace_id}/business_events/{event_name}"


def json_type(value: Any) -> str:
    """The JSON type of a value as it goes on the wire (dates are already ISO text then)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def operator_lineage(
    report: Mapping[str, Any] | None,
    *,
    inlets: Iterable[Any] = (),
    outlets: Iterable[Any] = (),
    include_values: bool = False,
) -> OperatorLineage:
    """
    The task's lineage: declared inlets in, the business event (and declared outlets) out.

    ``report`` is what the operator recorded while delivering (body, workspace, data center, host,
    outcome, request_id, http_status); ``None`` when it failed before it got that far.
    """
    from airflow.providers.openlineage.extractors import OperatorLineage

    inputs = _datasets(inlets)
    outputs = _datasets(outlets)
    run_facets: dict[str, Any] = {}
    if report and report.get("body"):
        body = report["body"]
        attributes = dict(body.get("event_attributes") or {})
        types = {name: json_type(value) for name, value in attributes.items()}
        outcome = report.get("outcome") or "not_delivered"
        event = Dataset(
            namespace=dataset_namespace(report.get("data_center"), report.get("host") or "unknown"),
            name=dataset_name(report["workspace_id"], body["event_name"]),
            facets={
                "schema": schema_dataset.SchemaDatasetFacet(
                    fields=[
                        schema_dataset.SchemaDatasetFacetFields(name=name, type=kind)
                        for name, kind in types.items()
                    ]
                )
            },
        )
        outputs.insert(0, event)
        run_facets[RUN_FACET_KEY] = MoEngageBusinessEventRunFacet(
            eventName=body["event_name"],
            workspaceId=report["workspace_id"],
            dataCenter=report.get("data_center"),
            outcome=outcome,
            attributes=types,
            requestId=report.get("request_id"),
            httpStatus=report.get("http_status"),
            attributeValues=attributes if include_values else None,
        )
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=run_facets)


def _datasets(objects: Iterable[Any]) -> list[Dataset]:
    """Inlets/outlets as OpenLineage datasets, the provider's way first; unknown URI schemes kept too."""
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    datasets = []
    for obj in objects or ():
        dataset = ExtractorManager.convert_to_ol_dataset(obj)
        if dataset is None:
            dataset = _from_asset_uri(getattr(obj, "uri", None))
        if dataset is not None:
            datasets.append(dataset)
    return datasets


def _from_asset_uri(uri: Any) -> Dataset | None:
    """An Asset whose scheme no provider converts (``catalog://catalog_db/new_titles``): scheme://host + path."""
    if not isinstance(uri, str) or "://" not in uri:
        return None
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc:
        return None
    return Dataset(namespace=f"{parts.scheme}://{parts.netloc}", name=parts.path.lstrip("/") or parts.netloc)
