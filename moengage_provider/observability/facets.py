"""The OpenLineage facet classes (they need the OpenLineage client: imported only inside lineage.py's functions)."""

from __future__ import annotations

from typing import Any

from attrs import define
from openlineage.client.facet_v2 import RunFacet


@define
class MoEngageBusinessEventRunFacet(RunFacet):
    """What this task sent to MoEngage and what came of it (no secrets; values only if opted in)."""

    eventName: str
    workspaceId: str
    dataCenter: str | None
    #: One of moengage_provider.observability.report.OUTCOMES.
    outcome: str
    #: Attribute name -> JSON type (``string``, ``integer``, ``number``, ``boolean``, ``array``, ...).
    attributes: dict[str, str]
    requestId: str | None = None
    httpStatus: int | None = None
    #: The attribute values as sent; only with ``lineage_include_values=True``.
    attributeValues: dict[str, Any] | None = None
    #: API V5: what came of the campaigns and flows (``SUCCESS``, ``PARTIAL_SUCCESS``, ``FAILURE``).
    triggeredStatus: str | None = None
