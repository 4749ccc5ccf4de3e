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
        "connection-types": [
            {
                "connection-type": "moengage",
                "hook-class-name": "moengage_provider.hooks.moengage.MoEngageHook",
                "hook-name": "MoEngage",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "extra"],
                    "relabeling": {
                        "login": "Workspace ID",
                        "password": "API Key",
                        "host": "Base URL override",
                    },
                    "placeholders": {
                        "login": "Workspace ID (Settings > Account > APIs), e.g. ABCD1234EFGH5678IJKL9012",
                        "password": "API key from the 'Campaign report/Business events/...' tile",
                        "host": "Leave empty for MoEngage; set only for a proxy or the local sandbox",
                        "data_center": "01",
                    },
                },
                "conn-fields": {
                    "data_center": {
                        "label": "Data center",
                        "description": (
                            "Your MoEngage data center, as in your dashboard URL (dashboard-01.moengage.com"
                            " is 01): 01/04 US, 02 EU, 03 India, 05 Singapore, 06 Indonesia, 101."
                        ),
                        "schema": {"type": ["string", "null"], "enum": [*data_center_choices, None]},
                    },
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "description": "How long one request to MoEngage may take before it is abandoned.",
                        "schema": {"type": ["number", "null"], "default": 30},
                    },
                },
            }
        ],
    }
