"""
OpenLineage for business events: the event as an output dataset, what was sent, what came of it.

Imported only when the OpenLineage provider collects lineage (from the operator's
``get_openlineage_facets_on_complete``/``_on_failure``): without the provider nothing here loads.

Naming, stable (docs/observability.md):

- namespace ``moengage://api-<dc>.moengage.com`` for the connection's data center (the workspace's
  identity, also behind a proxy), else ``moengage://<host[:port]>`` of the connection's host;
- name ``<workspace_id>/business_events/<event_name>``.

The run facet ``moengage_businessEvent`` carries the attribute names and their JSON types, never
their values unless the task opts in (``lineage_include_values=True``), never a key or header; under
API V5 also ``triggeredStatus``, what came of the campaigns.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from moengage_provider.api.data_centers import api_base_url

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset

    from moengage_provider.observability.report import TryReport

log: logging.Logger = logging.getLogger(__name__)

RUN_FACET_KEY = "moengage_businessEvent"
#: Airflow asset URIs ``moengage://<host>/<workspace_id>/business_events/<event_name>`` (quoted) stand
#: for the same dataset; the provider info registers :func:`asset_to_openlineage` for them.
ASSET_SCHEME = "moengage"


def dataset_namespace(data_center: str | None, host: str) -> str:
    """``moengage://api-01.moengage.com`` from a data center, else ``moengage://<host>``."""
    if data_center:
        return f"moengage://{urlsplit(api_base_url(data_center)).netloc}"
    return f"moengage://{host}"


def dataset_name(workspace_id: str, event_name: str) -> str:
    return f"{workspace_id}/business_events/{event_name}"


def asset_uri(data_center: str | None, host: str, workspace_id: str, event_name: str) -> str:
    """The Airflow asset URI of a business event, translated by :func:`asset_to_openlineage`."""
    return (
        f"{dataset_namespace(data_center, host)}/{quote(workspace_id, safe='')}"
        f"/business_events/{quote(event_name, safe='')}"
    )


def asset_to_openlineage(asset: Any, lineage_context: Any) -> Dataset:
    """A ``moengage://`` asset as the dataset the operator reports (provider info's converter)."""
    from openlineage.client.event_v2 import Dataset

    parts = urlsplit(asset.uri)
    workspace_id, _, event_name = parts.path.lstrip("/").partition("/business_events/")
    extra = asset.extra if isinstance(getattr(asset, "extra", None), Mapping) else {}
    types = extra.get("attributes")
    facets = {"schema": _schema_facet(types)} if isinstance(types, Mapping) else {}
    return Dataset(
        namespace=f"{ASSET_SCHEME}://{parts.netloc}",
        name=dataset_name(unquote(workspace_id), unquote(event_name)),
        facets=facets,
    )


def report_hook_lineage(hook: Any, body: Mapping[str, Any], outcome: str | None) -> None:
    """
    For the notifier: the event as an output of the task whose callback sent it.

    Goes through Airflow's hook lineage collector, which the OpenLineage listener reads after the
    callbacks ran; done only when that provider is installed (creating the collector costs). Only
    the schema travels (names and JSON types): the run is the task's, not the notifier's.
    ``outcome`` is the trigger call's (``None``: nothing was sent).
    """
    if outcome not in ("delivered", "unknown"):
        return  # nothing reached MoEngage: no data flowed
    if importlib.util.find_spec("airflow.providers.openlineage") is None:
        return
    try:
        # common-compat's collector takes asset names on every Airflow (Airflow 2's speaks of datasets).
        from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

        settings = hook.settings
        types = {name: json_type(value) for name, value in (body.get("event_attributes") or {}).items()}
        extra: dict[str, Any] = {"attributes": types}
        get_hook_lineage_collector().add_output_asset(
            context=hook,
            uri=asset_uri(settings.data_center, settings.host, settings.workspace_id, body["event_name"]),
            asset_extra=extra,
        )
    except Exception:  # lineage must never fail the callback
        log.debug("Could not report the business event to the hook lineage collector", exc_info=True)


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
    report: TryReport | None,
    *,
    inlets: Iterable[Any] = (),
    outlets: Iterable[Any] = (),
    include_values: bool = False,
) -> OperatorLineage:
    """
    The task's lineage: declared inlets in, the business event (and declared outlets) out.

    ``report`` is how the try ended (what it sent, where, what came of it); ``None`` when it failed
    before it got that far (bad input, no connection): then only the declared inlets and outlets.
    """
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset

    from moengage_provider.observability.facets import MoEngageBusinessEventRunFacet

    inputs = _datasets(inlets)
    outputs = _datasets(outlets)
    run_facets: dict[str, Any] = {}
    if report is not None:
        attributes = dict(report.body.get("event_attributes") or {})
        types = {name: json_type(value) for name, value in attributes.items()}
        event = Dataset(
            namespace=dataset_namespace(report.data_center, report.host or "unknown"),
            name=dataset_name(report.workspace_id, report.event_name),
            facets={"schema": _schema_facet(types)},
        )
        outputs.insert(0, event)
        run_facets[RUN_FACET_KEY] = MoEngageBusinessEventRunFacet(
            eventName=report.event_name,
            workspaceId=report.workspace_id,
            dataCenter=report.data_center,
            outcome=report.outcome,
            attributes=types,
            requestId=report.request_id,
            httpStatus=report.http_status,
            attributeValues=attributes if include_values else None,
            triggeredStatus=report.triggered_status,
        )
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=run_facets)


def _schema_facet(types: Mapping[str, str]) -> Any:
    from openlineage.client.facet_v2 import schema_dataset

    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=str(n), type=str(t)) for n, t in types.items()]
    )


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
    from openlineage.client.event_v2 import Dataset

    return Dataset(namespace=f"{parts.scheme}://{parts.netloc}", name=parts.path.lstrip("/") or parts.netloc)
