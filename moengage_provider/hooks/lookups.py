"""
Looking declared events up, through either API: the legacy search answers in one request; V5's list
and search answer 20 events a page, and the look-up follows their cursors. V5 takes names or ids in
one request, not both: asked for both, it makes two look-ups and lists each event once.

The requests go through the hook's ``_request`` (auth, resends, errors, ``X-MOE-Request-Id``); what
a request and an answer look like is the API version's (``api/versions.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from moengage_provider.api.payload import encode_body
from moengage_provider.api.versions import ApiVersion

#: A look-up follows MoEngage's cursors for at most this many pages (20 events each under V5).
MAX_LOOKUP_PAGES = 50

#: The hook's ``_request(method, path, *, data, params)``: the parsed JSON answer, or our exception.
Request = Callable[..., Mapping[str, Any]]


def look_up(
    request: Request, api: ApiVersion, *, names: Sequence[str] = (), ids: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Every event the look-up finds, in MoEngage's shape for that API."""
    if not (names and ids and api.one_filter_per_lookup):
        return _pages(request, api, names, ids)
    found = _pages(request, api, names, ())
    seen = {event.get("id") for event in found}
    return [*found, *(event for event in _pages(request, api, (), ids) if event.get("id") not in seen)]


def _pages(
    request: Request, api: ApiVersion, names: Sequence[str], ids: Sequence[str]
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_LOOKUP_PAGES):
        lookup = api.lookup(names=names, ids=ids, cursor=cursor)
        data = None if lookup.body is None else encode_body(lookup.body)
        answer = request(lookup.method, lookup.path, data=data, params=lookup.params)
        page, cursor = api.page(answer)
        events.extend(page)
        if cursor is None:
            break
    return events
