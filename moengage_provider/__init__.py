"""Apache Airflow provider for MoEngage Business Events."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "get_provider_info"]


#: What the form stores for each data center: MoEngage's own "DC-01" names. Airflow's secret masker is
#: handed every string in a connection's extra and warns "Skipping masking for a secret as it's too
#: short" (once per process: in every task log) for one under 5 characters, before it even looks at the
#: key's name; a bare "01" would do that, "DC-01" does not. The hook accepts both.
DATA_CENTER_CHOICES: dict[str, str] = {
    "DC-01": "01 – US (dashboard-01)",
    "DC-02": "02 – EU (dashboard-02)",
    "DC-03": "03 – India (dashboard-03)",
    "DC-04": "04 – US (dashboard-04)",
    "DC-05": "05 – Singapore (dashboard-05)",
    "DC-06": "06 – Indonesia (dashboard-06)",
    "DC-101": "101 (dashboard-101)",
}

#: What the form stores for the API version (at least 5 characters, like the data center's names) ->
#: what it shows. The hook also reads "v1.0", "v5", "V5" and 5 (api/versions.py); unset is v1.0.
API_VERSION_CHOICES: dict[str, str] = {
    "api-v1.0": "v1.0 – Legacy: what every existing key is documented for (default)",
    "api-v5": "v5 – says whether campaigns went out; needs a key with business-events access",
}

#: The accordion item Airflow's connection form (3.2+) opens by default is the one valued
#: "standardFields"; a conn-field section of that name renders open, right under the standard fields,
#: so the data center is in view while the user fills in the workspace and key. Any other section
#: name is a collapsed accordion item a user has to find and click.
VISIBLE_SECTION = "standardFields"


def get_provider_info() -> dict[str, Any]:
    """Provider metadata read by Airflow's providers manager (the ``apache_airflow_provider`` entry point)."""
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
        "extra-links": ["moengage_provider.operators.business_event.MoEngageDashboardLink"],
        # Lineage: ``moengage://`` asset URIs (a business event) become the OpenLineage dataset the
        # operator reports; the notifier reports through them (docs/observability.md).
        "asset-uris": [
            {
                "schemes": ["moengage"],
                "handler": None,
                "to_openlineage_converter": "moengage_provider.observability.lineage.asset_to_openlineage",
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
                            "(dashboard-02.moengage.com is DC-02). Required unless a Base URL override is set."
                        ),
                        "schema": {
                            "type": ["string", "null"],
                            "section": VISIBLE_SECTION,
                            "enum": list(DATA_CENTER_CHOICES),
                            # Shown in the UI's dropdown; the stored value is the DC-xx name.
                            "values_display": dict(DATA_CENTER_CHOICES),
                        },
                    },
                    "api_version": {
                        "label": "API version",
                        "description": (
                            "MoEngage's Business Events API: v1.0 (Legacy, the default) or v5, which says "
                            "whether any campaign went out and needs a key from Settings > Account > API "
                            "keys with access to business events."
                        ),
                        "schema": {
                            "type": ["string", "null"],
                            "section": VISIBLE_SECTION,
                            "enum": list(API_VERSION_CHOICES),
                            "values_display": dict(API_VERSION_CHOICES),
                            "default": "api-v1.0",
                        },
                    },
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "description": "How long one request to MoEngage may take before it is abandoned (at most 600).",
                        "schema": {
                            "type": ["number", "null"],
                            "section": VISIBLE_SECTION,
                            "default": 30,
                            "maximum": 600,
                        },
                    },
                },
            }
        ],
    }
