"""A declared business event: its typed attributes, the campaigns and flows attached to it (each
with a quota), and the counters both APIs report (derived from the accepted triggers).

Which campaigns and flows use an event is set up in MoEngage's dashboard, not through the API, so
a sandbox is told: ``campaigns`` and ``flows`` in an event spec, each a list of ids or of
``{"id", "quota"}``. A quota is how many more triggers that campaign or flow takes; once spent,
a trigger skips it ("failed" in a V5 answer). Without the lists, ``active_campaign`` (default
true) attaches one campaign, and ``flow`` one flow, of unlimited quota.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from moengage_provider.testing.sandbox.protocol import new_object_id


@dataclass
class Attachment:
    """A campaign or flow that uses an event; ``quota`` None: unlimited."""

    id: str
    quota: int | None = None
    used: int = 0

    def reserve(self) -> bool:
        """Take one trigger, if the quota allows it."""
        if self.quota is not None and self.used >= self.quota:
            return False
        self.used += 1
        return True

    def as_spec(self) -> dict[str, Any]:
        return {"id": self.id, "quota": self.quota}


def attachments(entries: Sequence[Any] | None, what: str, event_name: str) -> list[Attachment] | None:
    """``campaigns`` / ``flows`` of an event spec: ids, or ``{"id", "quota"}``; None when not given."""
    if entries is None:
        return None
    if not isinstance(entries, (list, tuple)):
        raise ValueError(f"event {event_name!r}: {what} must be a list of ids or of {{'id', 'quota'}}")
    found = []
    for entry in entries:
        spec = {"id": entry} if isinstance(entry, str) else entry
        if not isinstance(spec, dict) or set(spec) - {"id", "quota"}:
            raise ValueError(
                f"event {event_name!r}: each of {what} is an id or {{'id', 'quota'}}, not {entry!r}"
            )
        ident = spec.get("id") or new_object_id()
        quota = spec.get("quota")
        if not isinstance(ident, str) or (
            quota is not None and (isinstance(quota, bool) or not isinstance(quota, int) or quota < 0)
        ):
            raise ValueError(
                f"event {event_name!r}: {what} ids are strings, quotas whole numbers >= 0 or null"
            )
        found.append(Attachment(ident, quota))
    return found


@dataclass
class Event:
    name: str
    #: attribute name -> declared type (see ``validation.DECLARABLE_TYPES``)
    attributes: dict[str, str]
    event_id: str
    object_id: str
    created_ts: float
    created_by: str
    campaigns: list[Attachment] = field(default_factory=list)
    flows: list[Attachment] = field(default_factory=list)
    #: A Business-Trigger flow uses this event: its triggers also count toward the flow limits.
    flow: bool = False
    #: the spec named its campaigns and flows (``events()`` shows them)
    listed: bool = False
    #: Epoch seconds of every accepted trigger, ascending (the counters are derived from it)...
    accepted_at: list[float] = field(default_factory=list)
    #: ... and how many campaigns each of them reserved
    launched: list[int] = field(default_factory=list)

    @property
    def active_campaign(self) -> bool:
        """Some campaign or flow uses it (the legacy API refuses triggers of an event none uses)."""
        return bool(self.campaigns or self.flows)

    def counters(self, as_of: float) -> tuple[int, float | None, int]:
        """Triggers accepted up to ``as_of``: how many, the last one's time, campaigns launched."""
        count = bisect.bisect_right(self.accepted_at, as_of)
        return count, self.accepted_at[count - 1] if count else None, sum(self.launched[:count])

    def accept(self, now: float, campaigns_reserved: int) -> None:
        self.accepted_at.append(now)
        self.launched.append(campaigns_reserved)

    def forget_triggers(self) -> None:
        self.accepted_at.clear()
        self.launched.clear()
        for attached in (*self.campaigns, *self.flows):
            attached.used = 0

    def as_spec(self) -> dict[str, Any]:
        """The event in the form ``events=`` accepts."""
        spec: dict[str, Any] = {"attributes": dict(self.attributes), "active_campaign": self.active_campaign}
        if self.flow:
            spec["flow"] = True
        if self.listed:
            spec["campaigns"] = [c.as_spec() for c in self.campaigns]
            spec["flows"] = [f.as_spec() for f in self.flows]
        return spec


def attached(
    name: str,
    active_campaign: bool,
    flow: bool,
    campaigns: Sequence[Any] | None,
    flows: Sequence[Any] | None,
) -> tuple[list[Attachment], list[Attachment]]:
    """The campaigns and flows of an event spec (see the module docstring)."""
    listed_campaigns = attachments(campaigns, "campaigns", name)
    listed_flows = attachments(flows, "flows", name)
    if not active_campaign and (listed_campaigns or listed_flows):
        raise ValueError(f"event {name!r}: active_campaign false, but campaigns or flows are listed")
    if listed_campaigns is None:
        listed_campaigns = [Attachment(new_object_id())] if active_campaign else []
    if listed_flows is None:
        listed_flows = [Attachment(new_object_id())] if flow and active_campaign else []
    return listed_campaigns, listed_flows
