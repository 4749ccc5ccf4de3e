"""What the command line prints when it starts, and the "listening" line that :mod:`.spawn` waits
for: the contract between a sandbox process and whoever started it. The API key is never printed.
"""

from __future__ import annotations

import shlex

from moengage_provider.testing.sandbox.connection import SandboxConnection

#: The last line printed at start-up, followed by the base URL.
LISTENING = "MoEngage sandbox listening on "
STOPPED = "MoEngage sandbox stopped"


def startup_lines(
    url: str, host: str, port: int, workspace_id: str, *, permissive: bool, events_declared: int
) -> list[str]:
    """The start-up text: where it listens, how to point Airflow at it, and last ``LISTENING``."""
    shown = SandboxConnection(host, port, workspace_id, "<your sandbox api key>")
    mode = "permissive (undeclared events accepted)" if permissive else "strict"
    return [
        f"Base URL: {url}",
        f"Workspace ID: {workspace_id}; API key: as given (not shown); mode: {mode}; "
        f"events declared: {events_declared}",
        "Point Airflow at it (put your sandbox API key in place of the placeholder):",
        f"  export AIRFLOW_CONN_MOENGAGE_DEFAULT={shlex.quote(shown.json())}",
        f"Recorded triggers: {url}/_sandbox/triggers   Stop with Ctrl-C.",
        f"{LISTENING}{url}",
    ]
