"""A local stand-in for the MoEngage Business Events API, legacy and V5 (see docs/sandbox.md).

``MoEngageSandbox`` is a real HTTP server (stdlib ``ThreadingHTTPServer``, HTTP/1.1 with keep-alive)
that answers the legacy create, search and trigger and the V5 trigger, list and search the way
MoEngage documents them. Standard library only (PyYAML for ``.yaml`` config files when installed);
never imports Airflow. The rooms, each importing only those listed before it (no cycles):

- ``protocol``: the legacy wire format (paths, documented texts and bodies) and what every version
  shares (responses, refusals, ids, timestamps)
- ``validation``: what a request must look like, and the attribute types of both versions (from the
  docs, never from the provider's ``payload.py``)
- ``ratelimits``: the published rate-limit windows (one table), their options, counting, headers
- ``options``, ``settings``: the checked options; ``records``: what is remembered and logged;
  ``faults``: injected failures; ``events``: a declared event, its campaigns, flows and counters
- ``state``: workspaces and ``SandboxState``, the one object request handlers receive
- ``api``: one request pipeline for every version (``call``: what a version provides; ``auth``,
  ``admission``, ``firing``), then a package per version: ``api.legacy``, ``api.v5``
- ``control``: ``/_sandbox/...``; ``body``: reading request bodies; ``transport``: the HTTP server
- ``connection`` (the Airflow connection for a sandbox), ``banner`` (what the CLI prints), ``spawn``
  (another process), ``server`` (``MoEngageSandbox``), ``config``, ``cli``
  (``python -m moengage_provider.testing.sandbox``)
"""

from __future__ import annotations

from moengage_provider.testing.sandbox.api.v5.wire import EVENTS_PATH as V5_EVENTS_PATH
from moengage_provider.testing.sandbox.api.v5.wire import SEARCH_PATH as V5_SEARCH_PATH
from moengage_provider.testing.sandbox.api.v5.wire import TRIGGERS_PATH as V5_TRIGGER_PATH
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
    "V5_EVENTS_PATH",
    "V5_SEARCH_PATH",
    "V5_TRIGGER_PATH",
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
