"""Apache Airflow provider for MoEngage Business Events."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "get_provider_info"]


def get_provider_info() -> dict[str, Any]:
    """Provider metadata read by Airflow's providers manager (the ``apache_airflow_provider`` entry point)."""
    data_center_choices = ["01", "02", "03", "04", "05", "06", "101"]
    return {
        "package-name": "airflow-provider-moengage",
        "name": "MoEngage",
        "description": "Fire MoEngage Business Events from Airflow DAGs, once, with clear errors.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "MoEngage",
                "external-doc-url": "https://developers.moengage.com/hc/en-us/categories/business-events",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "MoEngage", "python-modules": ["moengage_provider.hooks.moengage"]}],
        "operators": [
            {"integration-name": "MoEngage", "python-modules": ["moengage_provider.operators.business_event"]}
        ],
        "notifications": ["moengage_provider.notifications.moengage.MoEngageBusinessEventNotifier"],
        "extra-links": ["moengage_provider.links.MoEngageDashboardLink"],
        # Lineage: ``moengage://`` asset URIs (a business event) become the OpenLineage dataset the
        # operator reports; the notifier reports through them (docs/observability.md).
        "asset-uris": [
            {
                "schemes": ["moengage"],
                "handler": None,
                "to_openlineage_converter": "moengage_provider.lineage.asset_to_openlineage",
            }
        ],
        "connection-types": [
            {
                "connection-type": "moengage",
                "hook-class-name": "moengage_provider.hooks.moengage.MoEngageHook",
                "hook-name": "MoEngage",
                "ui-field-behaviour": {
                    # "extra" stays reachable as the form's "Extra Fields JSON" section (proxies, verify...).
                    "hidden-fields": ["schema", "port", "extra"],
                    "relabeling": {
                        "login": "Workspace ID",
                        "password": "API Key",
                        "host": "Base URL override",
                    },
                    "placeholders": {
                        "login": "Workspace ID from MoEngage: Settings > Account > APIs",
                        "password": "API key from the Business events tile (not the Data API key)",
                        "host": "Leave empty, or a proxy/sandbox URL: http://127.0.0.1:8080",
                    },
                },
                "conn-fields": {
                    "data_center": {
                        "label": "Data center",
                        "description": (
                            "Where your workspace lives: the number in your dashboard URL "
                            "(dashboard-02.moengage.com is 02). Not needed when a Base URL override is set."
                        ),
                        "schema": {
                            "type": ["string", "null"],
                            "section": "MoEngage data center & timeout",
                            "enum": data_center_choices,
                            # Shown in the UI's dropdown; the stored value stays the bare code.
                            "values_display": {
                                "01": "01 – US (dashboard-01)",
                                "02": "02 – EU (dashboard-02)",
                                "03": "03 – India (dashboard-03)",
                                "04": "04 – US (dashboard-04)",
                                "05": "05 – Singapore (dashboard-05)",
                                "06": "06 – Indonesia (dashboard-06)",
                                "101": "101 (dashboard-101)",
                            },
                        },
                    },
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "description": "How long one request to MoEngage may take before it is abandoned (at most 600).",
                        "schema": {
                            "type": ["number", "null"],
                            "section": "MoEngage data center & timeout",
                            "default": 30,
                            "maximum": 600,
                        },
                    },
                },
            }
        ],
    }
