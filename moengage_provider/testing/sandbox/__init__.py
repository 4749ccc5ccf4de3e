"""A local stand-in for the MoEngage Business Events API (see docs/sandbox.md).

``MoEngageSandbox`` is a real HTTP server (stdlib ``ThreadingHTTPServer``, HTTP/1.1 with keep-alive)
that answers create, search and trigger the way MoEngage documents them. Standard library only
(PyYAML for ``.yaml`` config files when installed); never imports Airflow. The rooms, each importing
only those listed before it (no cycles):

- ``protocol``: paths, documented texts and bodies, error builders (MoEngage's wire format)
- ``validation``: what a request must look like (from the docs, never from ``payload.py``)
- ``ratelimits``: the published rate-limit windows (one table), their options, counting, headers
- ``options``, ``settings``: the checked options; ``records``: what is remembered and logged;
  ``faults``: injected failures
- ``state``: workspaces, declared events, their counters, and ``SandboxState``, the one object
  request handlers receive
- ``api``: routing and auth; ``api.call`` (a request as endpoints see it), ``api.admission``
  (counting in the windows); ``api.trigger``, ``api.create``, ``api.search``: one module per endpoint
- ``control``: ``/_sandbox/...``; ``body``: reading request bodies; ``transport``: the HTTP server
- ``connection`` (the Airflow connection for a sandbox), ``banner`` (what the CLI prints), ``spawn``
  (another process), ``server`` (``MoEngageSandbox``), ``config``, ``cli``
  (``python -m moengage_provider.testing.sandbox``)
"""

from __future__ import annotations

from moengage_provider.testing.sandbox.banner import LISTENING
from moengage_provider.testing.sandbox.cli import build_arg_parser, main
from moengage_provider.testing.sandbox.config import load_config
from moengage_provider.testing.sandbox.connection import SandboxConnection
from moengage_provider.testing.sandbox.protocol import (
    API_PATHS,
    ATTRIBUTE_TYPES,
    CREATE_PATH,
    LOGGER_NAME,
    SEARCH_PATH,
    TRIGGER_PATH,
    new_object_id,
)
from moengage_provider.testing.sandbox.records import RejectedRecord, RequestRecord, TriggerRecord
from moengage_provider.testing.sandbox.server import MoEngageSandbox
from moengage_provider.testing.sandbox.spawn import SandboxStartError, SpawnedSandbox
from moengage_provider.testing.sandbox.validation import is_valid_date

__all__ = [
    "API_PATHS",
    "ATTRIBUTE_TYPES",
    "CREATE_PATH",
    "LISTENING",
    "LOGGER_NAME",
    "SEARCH_PATH",
    "TRIGGER_PATH",
    "MoEngageSandbox",
    "RejectedRecord",
    "RequestRecord",
    "SandboxConnection",
    "SandboxStartError",
    "SpawnedSandbox",
    "TriggerRecord",
    "build_arg_parser",
    "is_valid_date",
    "load_config",
    "main",
    "new_object_id",
]
