"""
Point the hook at a closed port on 127.0.0.1 and at a name that does not resolve, and tell what
each call raised and how many requests the hook sent: ``test_urllib3_versions.py`` calls it in this
venv, and runs it as a script (printing one JSON object) in a venv of another urllib3.

The unresolvable name ends in ``.invalid`` and never reaches a resolver: ``socket.getaddrinfo``
answers for it as a resolver would for a name that does not exist (both urllib3 1.26 and 2.x look
names up through it).
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

import requests.adapters
import urllib3

UNRESOLVABLE = "moengage-probe.invalid"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _no_such_host(real: Any):
    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == UNRESOLVABLE:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    return getaddrinfo


def run_cases() -> dict[str, Any]:
    """What the hook raised and how many requests it sent, per case; patches undone on return."""
    sent: list[str] = []
    real_send = requests.adapters.HTTPAdapter.send
    real_getaddrinfo = socket.getaddrinfo

    def counting_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(request.url)
        return real_send(self, request, *args, **kwargs)

    from moengage_provider.hooks.moengage import MoEngageHook

    hosts = {"refused": f"http://127.0.0.1:{_closed_port()}", "dns": f"http://{UNRESOLVABLE}"}
    cases: dict[str, dict[str, Any]] = {}
    requests.adapters.HTTPAdapter.send = counting_send  # type: ignore[method-assign]
    socket.getaddrinfo = _no_such_host(real_getaddrinfo)
    try:
        for case, host in hosts.items():
            conn = {"conn_type": "moengage", "host": host, "login": "PROBE_WS", "password": "probe-key-12345"}
            os.environ["AIRFLOW_CONN_MOENGAGE_PROBE"] = json.dumps(conn)
            hook = MoEngageHook(moengage_conn_id="moengage_probe")
            hook.retry_backoff_seconds = 0.01
            sent.clear()
            try:
                hook.trigger_business_event("ProbeEvent", {"a": 1})
                cases[case] = {"raised": None, "sends": len(sent)}
            except Exception as err:
                cases[case] = {
                    "raised": type(err).__name__,
                    "failure": getattr(getattr(err, "failure", None), "value", None),
                    "outcome_unknown": getattr(err, "outcome_unknown", None),
                    "message": str(err),
                    "sends": len(sent),
                }
    finally:
        requests.adapters.HTTPAdapter.send = real_send  # type: ignore[method-assign]
        socket.getaddrinfo = real_getaddrinfo
        os.environ.pop("AIRFLOW_CONN_MOENGAGE_PROBE", None)
    return {"urllib3": urllib3.__version__, "cases": cases}


if __name__ == "__main__":
    print(json.dumps(run_cases()))
