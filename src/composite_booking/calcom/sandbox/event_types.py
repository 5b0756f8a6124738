"""Team event types: the create/update bodies (`CreateTeamEventTypeInput_2024_06_14`) and the output shape.

Faithful quirks worth knowing:
- the slug check runs on every create *and* on every PATCH that carries a `slug`, even the event type's own
  slug, so a PATCH that resends the current slug fails with 400 like on Cal.com;
- `schedulingType` is not part of the update body, so a PATCH silently ignores it;
- managed event types are not emulated (400).
"""

from __future__ import annotations

from typing import Any

from composite_booking.calcom.sandbox.errors import (
    MSG_DUPLICATE_TEAM_SLUG,
    bad_request,
    not_found,
)
from composite_booking.calcom.sandbox.records import EventType, Host, SchedulingType
from composite_booking.calcom.sandbox.state import SandboxState
from composite_booking.calcom.sandbox.validation import BodyChecker

_BOOLEAN_SETTINGS = (
    "disableGuests",
    "onlyShowFirstAvailableSlot",
    "requiresBookerEmailVerification",
    "hideCalendarNotes",
    "lockTimeZoneToggleOnBookingPage",
    "useDestinationCalendarEmail",
    "hideCalendarEventDetails",
    "hideOrganizerEmail",
    "bookingRequiresAuthentication",
)
_BOOLEAN_DEFAULTS = dict.fromkeys(_BOOLEAN_SETTINGS, False)
_OBJECT_SETTINGS = (
    "bookingLimitsCount",
    "bookingLimitsDuration",
    "bookingWindow",
    "bookerLayouts",
    "confirmationPolicy",
    "recurrence",
    "color",
    "seats",
    "destinationCalendar",
    "calVideoSettings",
    "successRedirectUrl",
)
_UPDATE_FIELDS = (
    "lengthInMinutes",
    "lengthInMinutesOptions",
    "title",
    "slug",
    "description",
    "bookingFields",
    "slotInterval",
    "minimumBookingNotice",
    "beforeEventBuffer",
    "afterEventBuffer",
    "scheduleId",
    "offsetStart",
    "customName",
    "hidden",
    "hosts",
    "assignAllTeamMembers",
    "locations",
    *_BOOLEAN_SETTINGS,
    *_OBJECT_SETTINGS,
)
_CREATE_FIELDS = (*_UPDATE_FIELDS, "schedulingType")
_PRIORITIES = ("lowest", "low", "medium", "high", "highest")


def _read_fields(state: SandboxState, team_id: int, check: BodyChecker, *, creating: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    length = check.integer("lengthInMinutes", required=creating, minimum=1)
    title = check.string("title", required=creating, non_empty=True)
    slug = check.string("slug", required=creating, non_empty=True)
    if creating:
        scheduling = check.enum("schedulingType", ("collective", "roundRobin", "managed"), required=True)
        if scheduling is not None:
            fields["scheduling_type"] = scheduling
    for name, attribute, minimum in (
        ("slotInterval", "slot_interval", 1),
        ("minimumBookingNotice", "minimum_booking_notice", 0),
        ("beforeEventBuffer", "before_event_buffer", 0),
        ("afterEventBuffer", "after_event_buffer", 0),
        ("offsetStart", "offset_start", 0),
        ("scheduleId", "schedule_id", 1),
    ):
        number = check.integer(name, minimum=minimum)
        if number is not None:
            fields[attribute] = number
    if length is not None:
        fields["length_in_minutes"] = length
    if title is not None:
        fields["title"] = title
    if slug is not None:
        fields["slug"] = slug
    description = check.string("description")
    if description is not None:
        fields["description"] = description
    custom_name = check.string("customName")
    if custom_name is not None:
        fields["custom_name"] = custom_name
    hidden = check.boolean("hidden")
    if hidden is not None:
        fields["hidden"] = hidden
    assign_all = check.boolean("assignAllTeamMembers")
    if assign_all is not None:
        fields["assign_all_team_members"] = assign_all
    options = check.array("lengthInMinutesOptions")
    if options is not None:
        if all(isinstance(o, int) and not isinstance(o, bool) and o > 0 for o in options):
            fields["length_in_minutes_options"] = list(options)
        else:
            check.reject(
                "lengthInMinutesOptions",
                "isInt",
                "each value in lengthInMinutesOptions must be an integer number",
            )
    locations = check.array("locations")
    if locations is not None:
        if all(isinstance(loc, dict) and isinstance(loc.get("type"), str) for loc in locations):
            fields["locations"] = [dict(loc) for loc in locations]
        else:
            check.reject("locations", "isObject", "each location must be an object with a type")
    booking_fields = check.array("bookingFields")
    if booking_fields is not None:
        if all(isinstance(f, dict) for f in booking_fields):
            fields["booking_fields"] = [dict(f) for f in booking_fields]
        else:
            check.reject("bookingFields", "isObject", "each booking field must be an object")
    hosts = check.array("hosts")
    if hosts is not None:
        parsed_hosts = _parse_hosts(hosts)
        if parsed_hosts is None:
            check.reject("hosts", "isObject", "each host must be an object with a numeric userId")
        else:
            fields["hosts"] = parsed_hosts
    flags = {name: value for name in _BOOLEAN_SETTINGS if (value := check.boolean(name)) is not None}
    if flags:
        fields["flags"] = flags
    settings = {name: check.raw(name) for name in _OBJECT_SETTINGS if check.present(name)}
    if settings:
        fields["settings"] = settings
    check.finish()

    options = fields.get("length_in_minutes_options")
    if options is not None and "length_in_minutes" in fields and fields["length_in_minutes"] not in options:
        raise bad_request("lengthInMinutesOptions must contain lengthInMinutes")
    if "hosts" in fields:
        members = set(state.team_member_ids(team_id))
        invalid = [host.user_id for host in fields["hosts"] if host.user_id not in members]
        if invalid:
            listed = ", ".join(str(i) for i in invalid)
            raise not_found(f"Invalid hosts: {listed} are not members of team with id {team_id}.")
    if "slug" in fields and state.team_event_type_by_slug(team_id, fields["slug"]) is not None:
        raise bad_request(MSG_DUPLICATE_TEAM_SLUG)
    if "schedule_id" in fields and fields["schedule_id"] not in state.schedules:
        raise not_found(f"Schedule with id {fields['schedule_id']} not found")
    return fields


def _parse_hosts(raw_hosts: list[Any]) -> list[Host] | None:
    hosts: list[Host] = []
    for raw in raw_hosts:
        if not isinstance(raw, dict):
            return None
        user_id = raw.get("userId")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            return None
        priority = raw.get("priority", "medium")
        if priority not in _PRIORITIES:
            return None
        hosts.append(Host(user_id=user_id, mandatory=bool(raw.get("mandatory", False)), priority=priority))
    return hosts


def create_team_event_type(state: SandboxState, team_id: int, body: Any) -> EventType:
    check = BodyChecker(body, allowed=_CREATE_FIELDS)
    fields = _read_fields(state, team_id, check, creating=True)
    if fields["scheduling_type"] == "managed":
        raise bad_request("The Cal.com sandbox does not emulate managed event types.")
    scheduling = SchedulingType(fields.pop("scheduling_type"))
    event_type = EventType(
        id=state.next_event_type_id(),
        team_id=team_id,
        title=fields.pop("title"),
        slug=fields.pop("slug"),
        length_in_minutes=fields.pop("length_in_minutes"),
        scheduling_type=scheduling,
        hosts=fields.pop("hosts", []),
    )
    _apply(event_type, fields)
    state.event_types[event_type.id] = event_type
    return event_type


def update_team_event_type(state: SandboxState, event_type: EventType, body: Any) -> EventType:
    check = BodyChecker(body, allowed=_UPDATE_FIELDS)
    fields = _read_fields(state, event_type.team_id, check, creating=False)
    _apply(event_type, fields)
    return event_type


def _apply(event_type: EventType, fields: dict[str, Any]) -> None:
    for attribute, value in fields.items():
        if attribute == "flags":
            event_type.flags.update(value)
        elif attribute == "settings":
            event_type.settings.update(value)
        else:
            setattr(event_type, attribute, value)


def find_team_event_type(state: SandboxState, team_id: int, event_type_id: int) -> EventType | None:
    event_type = state.event_types.get(event_type_id)
    return event_type if event_type is not None and event_type.team_id == team_id else None


# --- output


def _default_booking_fields() -> list[dict[str, Any]]:
    return [
        {"isDefault": True, "type": "name", "slug": "name", "required": True, "disableOnPrefill": False},
        {"isDefault": True, "type": "email", "slug": "email", "required": True, "disableOnPrefill": False},
        {"isDefault": True, "type": "radioInput", "slug": "location", "required": False, "hidden": False},
        {"isDefault": True, "type": "text", "slug": "title", "required": True, "hidden": True},
        {"isDefault": True, "type": "textarea", "slug": "notes", "required": False, "hidden": False},
        {"isDefault": True, "type": "multiemail", "slug": "guests", "required": False, "hidden": False},
        {
            "isDefault": True,
            "type": "textarea",
            "slug": "rescheduleReason",
            "required": False,
            "hidden": False,
        },
    ]


def _booking_fields_output(event_type: EventType) -> list[dict[str, Any]]:
    fields = _default_booking_fields()
    for given in event_type.booking_fields or []:
        default = next((f for f in fields if _same_field(f, given)), None)
        if default is not None:
            default.update({k: v for k, v in given.items() if k != "isDefault"})
        else:
            fields.append({"isDefault": False, **given})
    return fields


def _same_field(default: dict[str, Any], given: dict[str, Any]) -> bool:
    """Name and email overrides are matched by type, the other default fields by slug."""
    if given.get("type") in ("name", "email"):
        return bool(default["type"] == given["type"])
    return bool(default["slug"] == given.get("slug"))


def _host_output(state: SandboxState, event_type: EventType, host: Host) -> dict[str, Any]:
    user = state.users.get(host.user_id)
    output: dict[str, Any] = {
        "userId": host.user_id,
        "name": user.name if user else "",
        "username": user.username if user else "",
        "avatarUrl": None,
    }
    if event_type.scheduling_type is SchedulingType.ROUND_ROBIN:
        output["mandatory"] = host.mandatory
        output["priority"] = host.priority
    return output


def team_event_type_output(state: SandboxState, event_type: EventType) -> dict[str, Any]:
    """`TeamEventTypeOutput_2024_06_14` as the server renders it (nulls where the database has none)."""
    team = state.teams.get(event_type.team_id)
    hosts = event_type.hosts
    if event_type.assign_all_team_members:
        hosts = [Host(user_id=uid) for uid in state.team_member_ids(event_type.team_id)]
    output: dict[str, Any] = {
        "id": event_type.id,
        "lengthInMinutes": event_type.length_in_minutes,
        "title": event_type.title,
        "slug": event_type.slug,
        "description": event_type.description,
        "locations": [dict(loc) for loc in event_type.locations],
        "bookingFields": _booking_fields_output(event_type),
        "recurrence": event_type.settings.get("recurrence"),
        "slotInterval": event_type.slot_interval,
        "minimumBookingNotice": event_type.minimum_booking_notice,
        "beforeEventBuffer": event_type.before_event_buffer,
        "afterEventBuffer": event_type.after_event_buffer,
        "metadata": {},
        "price": 0,
        "currency": "usd",
        "forwardParamsSuccessRedirect": True,
        "successRedirectUrl": event_type.settings.get("successRedirectUrl"),
        "isInstantEvent": False,
        "seatsPerTimeSlot": None,
        "seatsShowAvailabilityCount": False,
        "scheduleId": event_type.schedule_id,
        "offsetStart": event_type.offset_start,
        "hidden": event_type.hidden,
        **_BOOLEAN_DEFAULTS,
        **event_type.flags,
        "teamId": event_type.team_id,
        "ownerId": None,
        "parentEventTypeId": None,
        "hosts": [_host_output(state, event_type, host) for host in hosts],
        "assignAllTeamMembers": event_type.assign_all_team_members,
        "schedulingType": event_type.scheduling_type.value,
        "team": {
            "id": event_type.team_id,
            "name": team.name if team else None,
            "slug": team.slug if team else None,
            "bannerUrl": None,
            "logoUrl": None,
            "weekStart": "Sunday",
            "brandColor": None,
            "darkBrandColor": None,
            "theme": None,
        },
    }
    if event_type.length_in_minutes_options is not None:
        output["lengthInMinutesOptions"] = list(event_type.length_in_minutes_options)
    if event_type.custom_name is not None:
        output["customName"] = event_type.custom_name
    for name, value in event_type.settings.items():
        if name not in ("recurrence", "successRedirectUrl"):
            output[name] = value
    return output
