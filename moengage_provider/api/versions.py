"""
The versions of MoEngage's Business Events API this provider speaks, one adapter each: where its
requests go, which headers they carry, how its answers and its errors are shaped, what a trigger's
answer says about the campaigns, and how a look-up reads.

- ``v1.0`` (:data:`LEGACY`, the default): the API this provider was built for, which MoEngage's
  documentation now calls "Legacy" and every existing key is documented for. A 200 says the event
  was taken, not whether any campaign went out.
- ``v5`` (:data:`V5`): the same host and Basic auth; ``triggered_by`` required, boolean attributes,
  an ``X-MOE-Request-Id`` on every request, and a trigger answer that says whether the campaigns and
  flows attached to the event were reached (``triggered_status``). Creating an event has not moved to
  V5: that stays on the legacy API under either setting.

The connection's extra ``api_version`` picks one (:func:`api_version`). What an answer means for the
event (delivered, waited out, refused for good) is the one table in :mod:`.outcomes`, keyed by the
:class:`Answer` an adapter reads. Adding a version is a class here, its rows there, and the sandbox.
Pure: no HTTP, no Airflow.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from moengage_provider.api.payload import LEGACY_RULES, V5_RULES, PayloadRules


class Answer(str, enum.Enum):
    """What an answer says about the campaigns and flows attached to the event (outcomes table rows)."""

    #: V5 ``SUCCESS``: every attached campaign and flow was reserved.
    ALL_TRIGGERED = "all_triggered"
    #: V5 ``PARTIAL_SUCCESS``: some reserved, some skipped by quota.
    SOME_SKIPPED_BY_QUOTA = "some_skipped_by_quota"
    #: V5 ``FAILURE`` with nothing attached (``total`` 0); the legacy 400 "No active campaign found".
    NOTHING_ATTACHED = "nothing_attached"
    #: V5 ``FAILURE`` with every attached campaign and flow skipped by quota.
    ALL_SKIPPED_BY_QUOTA = "all_skipped_by_quota"
    #: V5 403 ``FORBIDDEN``: the key authenticates but lacks the business-events scope.
    KEY_LACKS_SCOPE = "key_lacks_scope"


ID_LISTS = ("triggered_campaign_ids", "failed_campaign_ids", "triggered_flow_ids", "failed_flow_ids")


@dataclass(frozen=True)
class TriggerAnswer:
    """A trigger's 2xx answer, read: which row of the outcomes table it is, and what it reports."""

    #: None: the plain "2xx with MoEngage's JSON answer" row (the legacy API, or a status V5 does not document).
    answer: Answer | None
    message: str | None
    triggered_status: str | None = None
    response_id: str | None = None
    summary: Mapping[str, Any] | None = None
    ids: Mapping[str, list[str]] = field(default_factory=dict)

    def counts(self) -> str:
        """``3 of 4 campaigns and flows triggered, 1 skipped by quota`` (V5's ``summary``)."""
        summary = self.summary or {}
        total, triggered, failed = (summary.get(k, "?") for k in ("total", "triggered", "failed"))
        return f"{triggered} of {total} campaigns and flows triggered, {failed} skipped by quota"

    def skipped(self) -> str:
        """The campaigns and flows skipped by quota, by ID."""
        campaigns = ", ".join(self.ids.get("failed_campaign_ids", [])) or "none"
        flows = ", ".join(self.ids.get("failed_flow_ids", [])) or "none"
        return f"campaigns {campaigns}; flows {flows}"


@dataclass(frozen=True)
class DeclaredEvent:
    """A business event as a look-up found it, whichever API answered."""

    name: str
    event_id: str | None
    #: Attribute name -> its type, in the vocabulary of the API that answered.
    attributes: Mapping[str, str]
    #: Accepted triggers so far, and when the last one came (None: the answer did not say).
    trigger_count: int | None
    last_triggered_at: str | None


@dataclass(frozen=True)
class EventFields:
    """Where one event of a look-up answer keeps each thing: the two APIs name them differently."""

    name: str
    event_id: str
    #: The list of attributes, and each entry's name and type.
    attributes: str
    attribute_name: str
    attribute_type: str
    trigger_count: str
    last_triggered_at: str


@dataclass(frozen=True)
class Lookup:
    """One look-up request: method, path, and its query or JSON body."""

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    body: Mapping[str, Any] | None = None


class InvalidApiVersionError(ValueError):
    """An ``api_version`` this provider does not speak."""


class ApiVersion:
    """One version of the API (subclassed once per version; instances below)."""

    name: ClassVar[str]
    #: How the docs and messages call it.
    title: ClassVar[str]
    #: Every path of this version starts so.
    prefix: ClassVar[str]
    trigger_path: ClassVar[str]
    payload: ClassVar[PayloadRules]
    #: The attribute types its look-ups report.
    attribute_types: ClassVar[tuple[str, ...]]
    #: Every request carries ``X-MOE-Request-Id``.
    sends_request_id: ClassVar[bool] = False
    #: A look-up filters by names or by ids, not both at once.
    one_filter_per_lookup: ClassVar[bool] = False
    #: Which key a 401 asks for.
    key_hint: ClassVar[str]
    #: Where a look-up answer keeps each field of an event.
    event_fields: ClassVar[EventFields]

    def __repr__(self) -> str:
        return f"<MoEngage Business Events API {self.name}>"

    def request_headers(self, request_id: str | None) -> dict[str, str]:
        return {}

    def read_trigger(self, body: Mapping[str, Any]) -> TriggerAnswer:
        return TriggerAnswer(None, _text(body.get("message")))

    def trigger_result(self, event_name: str, body: Mapping[str, Any], sent_at: str) -> dict[str, Any]:
        """The task's result (XCom) for a trigger MoEngage took."""
        return {"event_name": event_name, "message": self.read_trigger(body).message, "sent_at": sent_at}

    def error_fields(self, body: Any) -> dict[str, Any]:
        """MoEngage's documented error fields, from whichever of the legacy body shapes this is."""
        if not isinstance(body, Mapping):
            return {}
        error = body.get("error")
        if isinstance(error, Mapping):  # 400/401: {"error": {code, message, details, request_id}}
            return {
                "code": _text(error.get("code")),
                "message": _text(error.get("message")),
                "details": error.get("details"),
                "request_id": _text(error.get("request_id")),
            }
        data = body.get("data")
        if isinstance(data, Mapping):  # 429: {"status": "error", "data": {code, title, description}}
            parts = (_text(data.get("title")), _text(data.get("description")))
            return {"code": _text(data.get("code")), "message": " - ".join(t for t in parts if t)}
        if "title" in body or "message" in body:  # 500: {"title", "message"}
            return {
                "code": _text(body.get("title")),
                "message": _text(body.get("message")),
                "request_id": _text(body.get("request_id")),
            }
        return {}

    def answer_for_error(self, status: int, fields: Mapping[str, Any]) -> Answer | None:
        """The row an error answer is, when it is more than its status (None: the status's row)."""
        said = f"{fields.get('message')} {json.dumps(fields.get('details'), default=str)}".lower()
        if status == 400 and "no active campaign found" in said:
            return Answer.NOTHING_ATTACHED
        return None

    def lookup(
        self, *, names: Sequence[str] = (), ids: Sequence[str] = (), cursor: str | None = None
    ) -> Lookup:
        raise NotImplementedError

    def page(self, body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """A look-up answer's events, and the cursor of the next page (None: the last page)."""
        data = body.get("data")
        return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else [], None

    def declared_event(self, item: Mapping[str, Any]) -> DeclaredEvent:
        fields = self.event_fields
        attributes: dict[str, str] = {}
        for entry in item.get(fields.attributes) or []:
            if isinstance(entry, Mapping) and isinstance(entry.get(fields.attribute_name), str):
                attributes[entry[fields.attribute_name]] = str(entry.get(fields.attribute_type))
        return DeclaredEvent(
            name=str(item.get(fields.name)),
            event_id=_text(item.get(fields.event_id)),
            attributes=attributes,
            trigger_count=_count(item.get(fields.trigger_count)),
            last_triggered_at=_text(item.get(fields.last_triggered_at)),
        )


class LegacyApi(ApiVersion):
    name = "v1.0"
    title = "MoEngage's legacy Business Events API (v1.0)"
    prefix = "/v1.0/"
    trigger_path = "/v1.0/business_event/trigger"
    create_path = "/v1.0/business_event"
    search_path = "/v1.0/business_event/search"
    payload = LEGACY_RULES
    attribute_types: ClassVar[tuple[str, ...]] = ("string", "int", "float", "array", "date")
    key_hint = "the key from the 'Campaign report/Business events/...' settings tile, not the Data API key"
    event_fields = EventFields(
        name="event_name",
        event_id="event_id",
        attributes="event_attributes",
        attribute_name="attribute_name",
        attribute_type="attribute_data_type",
        trigger_count="total_trigger",
        last_triggered_at="last_received_time",
    )

    def lookup(
        self, *, names: Sequence[str] = (), ids: Sequence[str] = (), cursor: str | None = None
    ) -> Lookup:
        body: dict[str, Any] = {}
        if names:
            body["event_names"] = list(names)
        if ids:
            body["event_ids"] = list(ids)
        return Lookup("POST", self.search_path, body=body)


class V5Api(ApiVersion):
    name = "v5"
    title = "MoEngage's Business Events API V5"
    prefix = "/v5/"
    trigger_path = "/v5/business-events/triggers"
    list_path = "/v5/business-events"
    search_path = "/v5/business-events/search"
    payload = V5_RULES
    attribute_types: ClassVar[tuple[str, ...]] = ("string", "number", "boolean", "datetime")
    sends_request_id = True
    one_filter_per_lookup = True
    key_hint = "a key from Settings > Account > API keys with access to business events"
    event_fields = EventFields(
        name="name",
        event_id="id",
        attributes="attributes",
        attribute_name="name",
        attribute_type="data_type",
        trigger_count="trigger_count",
        last_triggered_at="last_triggered_at",
    )
    request_id_header = "X-MOE-Request-Id"
    #: Most events one page of a look-up holds (MoEngage's maximum).
    page_size = 20

    def request_headers(self, request_id: str | None) -> dict[str, str]:
        return {self.request_id_header: request_id or new_request_id()}

    def read_trigger(self, body: Mapping[str, Any]) -> TriggerAnswer:
        data = body.get("data")
        if not isinstance(data, Mapping):
            return TriggerAnswer(None, _text(body.get("message")), response_id=_text(body.get("response_id")))
        status = _text(data.get("triggered_status"))
        given = data.get("summary")
        summary: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        ids = {name: _ids(data.get(name)) for name in ID_LISTS}
        skipped = _count(summary.get("failed"))
        if skipped is None:
            skipped = len(ids["failed_campaign_ids"]) + len(ids["failed_flow_ids"])
        answer = {
            "SUCCESS": Answer.ALL_TRIGGERED,
            "PARTIAL_SUCCESS": Answer.SOME_SKIPPED_BY_QUOTA,
            "FAILURE": Answer.ALL_SKIPPED_BY_QUOTA if skipped else Answer.NOTHING_ATTACHED,
        }.get(status or "")
        return TriggerAnswer(
            answer, _text(data.get("message")), status, _text(body.get("response_id")), dict(summary), ids
        )

    def trigger_result(self, event_name: str, body: Mapping[str, Any], sent_at: str) -> dict[str, Any]:
        read = self.read_trigger(body)
        return {
            **super().trigger_result(event_name, body, sent_at),
            "response_id": read.response_id,
            "triggered_status": read.triggered_status,
            "summary": dict(read.summary) if read.summary is not None else None,
            **{name: list(read.ids.get(name, [])) for name in ID_LISTS},
        }

    def error_fields(self, body: Any) -> dict[str, Any]:
        """``{response_id, error: {code, message, target?, details?}}``; anything else as the legacy shapes."""
        error = body.get("error") if isinstance(body, Mapping) else None
        if not isinstance(error, Mapping) or "request_id" in error:
            return super().error_fields(body)
        details = error.get("details")
        if not details and error.get("target") is not None:
            details = [{"target": error.get("target")}]
        return {
            "code": _text(error.get("code")),
            "message": _text(error.get("message")),
            "details": details or None,
            "request_id": _text(body.get("response_id")),
        }

    def answer_for_error(self, status: int, fields: Mapping[str, Any]) -> Answer | None:
        if status == 403:
            return Answer.KEY_LACKS_SCOPE
        return super().answer_for_error(status, fields)

    def lookup(
        self, *, names: Sequence[str] = (), ids: Sequence[str] = (), cursor: str | None = None
    ) -> Lookup:
        """One name: the list endpoint (60/min); several names, or ids: the search (30/min)."""
        if len(names) == 1 and not ids:
            params: dict[str, Any] = {"name": names[0], "limit": self.page_size}
            if cursor is not None:
                params["cursor"] = cursor
            return Lookup("GET", self.list_path, params=params)
        body: dict[str, Any] = {"filters": {"names": list(names)} if names else {"ids": list(ids)}}
        body["limit"] = self.page_size
        if cursor is not None:
            body["cursor"] = cursor
        return Lookup("POST", self.search_path, body=body)

    def page(self, body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        events, _ = super().page(body)
        pagination = body.get("pagination")
        more = isinstance(pagination, Mapping) and pagination.get("has_more") is True
        cursor = pagination.get("next_cursor") if more and isinstance(pagination, Mapping) else None
        return events, cursor if isinstance(cursor, str) and cursor else None


LEGACY = LegacyApi()
V5 = V5Api()
#: Every version, by the name the connection's ``api_version`` resolves to.
VERSIONS: dict[str, ApiVersion] = {version.name: version for version in (LEGACY, V5)}

_SPELLINGS = {"1": LEGACY, "1.0": LEGACY, "legacy": LEGACY, "5": V5, "5.0": V5}


def api_version(value: object) -> ApiVersion:
    """The version a connection's ``api_version`` names: ``v1.0`` when unset; ``v5``, ``V5``, ``5``,
    ``api-v5`` (what the connection form stores: ``moengage_provider.API_VERSION_CHOICES``) for V5."""
    if value is None or value == "":
        return LEGACY
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = f"{float(value):g}"
    key = str(value).strip().lower().removeprefix("api-").removeprefix("v")
    found = _SPELLINGS.get(key)
    if found is None:
        raise InvalidApiVersionError(
            f"api_version {value!r} is not a MoEngage Business Events API this provider speaks. Use "
            "'v1.0' (the default, MoEngage's legacy API) or 'v5' (the form stores them as 'api-v1.0' "
            "and 'api-v5'; 'v5', 'V5' and 5 are accepted too)."
        )
    return found


def api_of_path(path: str) -> ApiVersion:
    """The version a path belongs to (the legacy API's for a path of none)."""
    return next((v for v in VERSIONS.values() if path.startswith(v.prefix)), LEGACY)


def new_request_id() -> str:
    """A fresh ``X-MOE-Request-Id`` (UUID v4), for a request that is not part of a delivery."""
    return str(uuid.uuid4())


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ids(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []
