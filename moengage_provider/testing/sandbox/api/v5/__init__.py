"""MoEngage's Business Events API V5 (``/v5/business-events...``): trigger (:mod:`.trigger`), list and
search (:mod:`.events`), in the V5 envelope and error shapes (:mod:`.wire`). Its keys need the
business-events scope. Creating an event has not moved to V5: it stays on the legacy API."""

from __future__ import annotations

from moengage_provider.testing.sandbox.api.call import NO_BODY, OPTIONAL_JSON_BODY, ApiVersion, Route
from moengage_provider.testing.sandbox.api.v5 import events, trigger
from moengage_provider.testing.sandbox.api.v5.wire import (
    EVENTS_PATH,
    SEARCH_PATH,
    TRIGGERS_PATH,
    lookup_refusals,
    trigger_refusals,
)
from moengage_provider.testing.sandbox.ratelimits import TRIGGER, V5_LIST, V5_SEARCH

VERSION = ApiVersion(
    "v5",
    prefix="/v5/",
    routes={
        TRIGGERS_PATH: {"POST": Route(trigger.handle, (TRIGGER,), names_event=True)},
        EVENTS_PATH: {"GET": Route(events.list_events, (V5_LIST,), body=NO_BODY, refusals=lookup_refusals)},
        SEARCH_PATH: {
            "POST": Route(events.search, (V5_SEARCH,), body=OPTIONAL_JSON_BODY, refusals=lookup_refusals)
        },
    },
    refusals=trigger_refusals,
    scoped=True,
)
