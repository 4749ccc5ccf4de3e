"""
A POST to one URL, prepared once from the hook's ``requests`` session; each send adds only the body.

``Session.post`` rebuilds, for every request, what is the same for every trigger: the merged headers,
the Basic auth header, the parsed and re-quoted URL, two cookie-jar merges, and the environment's
proxy and CA-bundle settings. Measured after a keep-alive round trip to the local sandbox, that is
about 0.14 ms a call, more than the hook's own work (validation, encoding, parsing the answer and
its log line, about 0.13 ms). Here it is done once and reused while the session's settings stay as
they were; the bytes sent are the same (``tests/hooks/test_prepared_post.py``).

What ``Session.request`` would build is kept: a change to the session's headers, auth, proxies,
params, hooks, ``verify``, ``cert``, ``stream`` or ``trust_env`` prepares the request again; a
session holding cookies (a load balancer's, say), or an auth other than Basic (one that may sign
each request), gets the full per-request preparation, as does every request when ``reuse`` is off.
The environment (``HTTPS_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``...) is read when the request
is prepared: on a hook's first request, and again after a change to the session.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import requests
from requests.auth import HTTPBasicAuth

if TYPE_CHECKING:
    from requests import PreparedRequest, Response, Session

__all__ = ["PreparedPost"]

# Auths whose header depends on nothing but the credentials, so one prepared header serves every request.
_STATELESS_AUTHS = (type(None), tuple, HTTPBasicAuth)


def _settings(session: Session) -> tuple[Any, ...]:
    """The session settings that shape a prepared request, as live values (compared to a snapshot)."""
    return (
        session.auth,
        list(session.headers.items()),
        session.proxies,
        session.params,
        session.hooks,
        session.verify,
        session.cert,
        session.trust_env,
        session.stream,
    )


def _snapshot(session: Session) -> tuple[Any, ...]:
    """:func:`_settings` with the mutable parts copied, so that a later in-place change shows."""
    return (
        session.auth,
        list(session.headers.items()),
        copy.copy(session.proxies),
        copy.copy(session.params),
        {event: list(hooks) for event, hooks in session.hooks.items()},
        session.verify,
        session.cert,
        session.trust_env,
        session.stream,
    )


class PreparedPost:
    """POSTs to ``url`` through ``session``, preparing the request once (see the module docstring)."""

    #: False: prepare every request in full, exactly as ``Session.post`` does (for comparison, debugging).
    reuse: bool = True

    def __init__(self, session: Session, url: str) -> None:
        self.session = session
        self.url = url
        self._template: PreparedRequest | None = None
        self._environment: dict[str, Any] = {}
        self._prepared_with: tuple[Any, ...] | None = None

    def send(self, data: bytes, *, timeout: tuple[float, float]) -> Response:
        """Send ``data``; no redirect is followed (a redirected POST must not be re-sent elsewhere)."""
        session = self.session
        if not self.reuse or len(session.cookies) or type(session.auth) not in _STATELESS_AUTHS:
            request = session.prepare_request(requests.Request("POST", self.url, data=data))
            environment = session.merge_environment_settings(request.url, {}, None, None, None)
            return session.send(request, timeout=timeout, allow_redirects=False, **environment)
        if self._template is None or _settings(session) != self._prepared_with:
            self._prepare()
        request = self._template.copy()  # type: ignore[union-attr]
        request.prepare_body(data, None)  # the body and its Content-Length, as Session.post sets them
        return session.send(request, timeout=timeout, allow_redirects=False, **self._environment)

    def _prepare(self) -> None:
        session = self.session
        snapshot = _snapshot(session)
        template = session.prepare_request(requests.Request("POST", self.url))
        self._environment = dict(session.merge_environment_settings(template.url, {}, None, None, None))
        self._template = template
        self._prepared_with = snapshot
