"""What a valid trigger does, whichever API version it came through: it is counted in the rate-limit
windows (or refused with the version's 429), it reserves the campaigns and flows attached to its
event within their quotas, and the event's counters move."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from moengage_provider.testing.sandbox.api.admission import admit
from moengage_provider.testing.sandbox.api.call import Call
from moengage_provider.testing.sandbox.events import Attachment, Event
from moengage_provider.testing.sandbox.ratelimits import FLOW_TRIGGER, TRIGGER

SUCCESS, PARTIAL_SUCCESS, FAILURE = "SUCCESS", "PARTIAL_SUCCESS", "FAILURE"


@dataclass
class Firing:
    """Which attached campaigns and flows one trigger reserved, and which it skipped by quota."""

    triggered_campaign_ids: list[str] = field(default_factory=list)
    failed_campaign_ids: list[str] = field(default_factory=list)
    triggered_flow_ids: list[str] = field(default_factory=list)
    failed_flow_ids: list[str] = field(default_factory=list)

    @property
    def triggered_status(self) -> str:
        """SUCCESS: all reserved; PARTIAL_SUCCESS: some skipped by quota; FAILURE: none reserved
        (all skipped by quota, or nothing attached)."""
        triggered = len(self.triggered_campaign_ids) + len(self.triggered_flow_ids)
        failed = len(self.failed_campaign_ids) + len(self.failed_flow_ids)
        if triggered and not failed:
            return SUCCESS
        return PARTIAL_SUCCESS if triggered else FAILURE

    @property
    def summary(self) -> dict[str, int]:
        triggered = len(self.triggered_campaign_ids) + len(self.triggered_flow_ids)
        failed = len(self.failed_campaign_ids) + len(self.failed_flow_ids)
        return {"total": triggered + failed, "triggered": triggered, "failed": failed}

    def as_data(self) -> dict[str, Any]:
        return {
            "triggered_status": self.triggered_status,
            "summary": self.summary,
            "triggered_campaign_ids": list(self.triggered_campaign_ids),
            "failed_campaign_ids": list(self.failed_campaign_ids),
            "triggered_flow_ids": list(self.triggered_flow_ids),
            "failed_flow_ids": list(self.failed_flow_ids),
        }


def fire(call: Call, name: str, event: Event | None) -> Firing:
    """Count the trigger (flow limits too when a flow uses the event) and reserve what is attached.
    An undeclared event (accepted in permissive mode) has one campaign of unlimited quota."""
    is_flow = call.state.settings.all_flows or (event is not None and event.flow)
    admit(call, (TRIGGER, FLOW_TRIGGER) if is_flow else (TRIGGER,))
    campaigns = event.campaigns if event is not None else [Attachment(_implicit_id(call, name))]
    flows = event.flows if event is not None else []
    firing = Firing()
    for attachment in campaigns:
        reserved = attachment.reserve()
        (firing.triggered_campaign_ids if reserved else firing.failed_campaign_ids).append(attachment.id)
    for attachment in flows:
        reserved = attachment.reserve()
        (firing.triggered_flow_ids if reserved else firing.failed_flow_ids).append(attachment.id)
    if event is not None:
        event.accept(call.state.now(), len(firing.triggered_campaign_ids))
    return firing


def _implicit_id(call: Call, name: str) -> str:
    """The same campaign id for every trigger of one undeclared event of one workspace."""
    return hashlib.sha256(f"{call.ws.workspace_id}\0{name}".encode()).hexdigest()[:24]
