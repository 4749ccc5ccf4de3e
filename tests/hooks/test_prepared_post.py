"""The hook prepares its POST once and reuses it: what reaches the server must not change for that."""

from __future__ import annotations

import pytest
from requests.auth import AuthBase

from moengage_provider.hooks.prepared_post import PreparedPost
from tests.hooks.test_moengage_hook import API_KEY, AUTH_B64, WORKSPACE, fast_hook, use_connection
from tests.rawhttp import CannedAnswer, RawHttpServer

EVENTS = [("E", {"n": 1}), ("Launch", {"title": "Café — 東京", "tags": ["a", "b"]}), ("E", {"n": 22})]


def heads(server: RawHttpServer) -> list[dict[str, str]]:
    """Each request's request line and headers (name lower-cased -> value), in the order sent."""
    out = []
    for raw in server.requests:
        head, _, _ = raw.partition(b"\r\n\r\n")
        first, *lines = head.decode().split("\r\n")
        headers = {"": first}
        headers.update({n.lower(): v.strip() for n, _, v in (line.partition(":") for line in lines)})
        out.append(headers)
    return out


def send_all(monkeypatch, *, reuse: bool) -> RawHttpServer:
    monkeypatch.setattr(PreparedPost, "reuse", reuse)
    with RawHttpServer() as server:
        use_connection(monkeypatch, host=server.url, login=WORKSPACE, password=API_KEY)
        hook = fast_hook()
        for name, attributes in EVENTS:
            hook.trigger_business_event(name, attributes, triggered_by="ops@example.com")
    return server


def test_reused_request_is_byte_for_byte_what_session_post_sends(monkeypatch):
    reused = send_all(monkeypatch, reuse=True)
    prepared_each_time = send_all(monkeypatch, reuse=False)

    def without_port(server: RawHttpServer) -> list[bytes]:  # the Host header names each server's port
        return [raw.replace(str(server.port).encode(), b"PORT") for raw in server.requests]

    assert without_port(reused) == without_port(prepared_each_time)
    assert len(reused.requests) == len(EVENTS)
    assert len({raw.partition(b"\r\n\r\n")[2] for raw in reused.requests}) == len(EVENTS)  # own bodies
    assert all(h["authorization"] == f"Basic {AUTH_B64}" for h in heads(reused))


def test_session_changed_after_a_trigger_applies_to_the_next(monkeypatch):
    with RawHttpServer() as server:
        use_connection(monkeypatch, host=server.url, login=WORKSPACE, password=API_KEY)
        hook = fast_hook()
        hook.trigger_business_event("E", {"n": 1})
        hook.get_conn().headers["X-Tenant"] = "eu"
        hook.trigger_business_event("E", {"n": 2})
        hook.get_conn().auth = ("OTHER-WS", "other-key")
        hook.trigger_business_event("E", {"n": 3})
    first, second, third = heads(server)
    assert "x-tenant" not in first
    assert second["x-tenant"] == "eu"
    assert second["authorization"] == f"Basic {AUTH_B64}"
    assert third["authorization"] != second["authorization"]
    assert third["x-tenant"] == "eu"


def test_cookies_the_server_sets_are_sent_back_as_requests_would(monkeypatch):
    sticky = CannedAnswer(headers={"Set-Cookie": "AWSALB=node-7; Path=/"})
    with RawHttpServer([sticky]) as server:
        use_connection(monkeypatch, host=server.url, login=WORKSPACE, password=API_KEY)
        hook = fast_hook()
        hook.trigger_business_event("E", {"n": 1})
        hook.trigger_business_event("E", {"n": 2})
    first, second = heads(server)
    assert "cookie" not in first
    assert second["cookie"] == "AWSALB=node-7"


class SigningAuth(AuthBase):
    """An auth that signs each request's body: a reused header would be wrong."""

    def __call__(self, request):
        request.headers["X-Signature"] = str(len(request.body or b""))
        return request


@pytest.mark.parametrize("reuse", [True, False])
def test_an_auth_that_signs_each_request_is_applied_to_each(monkeypatch, reuse):
    monkeypatch.setattr(PreparedPost, "reuse", reuse)
    with RawHttpServer() as server:
        use_connection(monkeypatch, host=server.url, login=WORKSPACE, password=API_KEY)
        hook = fast_hook()
        hook.get_conn().auth = SigningAuth()
        hook.trigger_business_event("E", {"n": 1})
        hook.trigger_business_event("E", {"n": 1, "more": "attributes"})
    bodies = [len(raw.partition(b"\r\n\r\n")[2]) for raw in server.requests]
    assert [int(h["x-signature"]) for h in heads(server)] == bodies
    assert bodies[0] != bodies[1]
