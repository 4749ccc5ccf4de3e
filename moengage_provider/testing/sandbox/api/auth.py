"""Basic auth, as both API versions document it: the workspace ID as the user name, an API key of
that workspace as the password. A key without the business-events scope is refused by the
versions that check scopes (V5: 403), and is a wrong key to those that do not (legacy: 401)."""

from __future__ import annotations

import base64
import binascii
import hmac

from moengage_provider.testing.sandbox.api.call import MISSING, UNKNOWN_WORKSPACE, WRONG_KEY, Refusals
from moengage_provider.testing.sandbox.state import SandboxState, Workspace


def authenticate(state: SandboxState, header: str | None, refusals: Refusals, *, scoped: bool) -> Workspace:
    credentials = _credentials(header)
    if credentials is None:
        raise refusals.unauthenticated(MISSING)
    user, password = credentials
    with state.lock:
        ws = state.workspaces.get(user)
        keys = dict(ws.keys) if ws is not None else {}
    if ws is None:
        raise refusals.unauthenticated(UNKNOWN_WORKSPACE)
    matched = [key for key in keys if hmac.compare_digest(password.encode("utf-8"), key.encode("utf-8"))]
    if not matched or (not keys[matched[0]] and not scoped):
        reject = refusals.unauthenticated(WRONG_KEY)
        reject.workspace_id = ws.workspace_id  # the workspace is known; only the key is wrong
        raise reject
    if not keys[matched[0]]:
        reject = refusals.forbidden()
        reject.workspace_id = ws.workspace_id
        raise reject
    return ws


def _credentials(header: str | None) -> tuple[str, str] | None:
    """User name and password of a Basic ``Authorization`` header; None when it has none."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep or (not user and not password):
        return None
    return user, password
