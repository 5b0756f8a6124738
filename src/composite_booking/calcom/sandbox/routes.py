"""The emulated endpoints: thin handlers that check auth and version, call one operation, render.

Version routing follows reference §1.2: team event types and webhooks ignore `cal-api-version`; slots need
`2024-09-04` (anything else reaches the legacy `/v2/slots/available` controller, so `/v2/slots` itself is a
404); bookings need `2024-08-13` (anything else reaches the 2024-04-15 controller, which the sandbox answers
with the 500 of issue #16924); schedules answer the legacy shape unless `2024-06-11`/`2024-06-14`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from composite_booking.calcom.sandbox.availability import Interval, available_slot_instants
from composite_booking.calcom.sandbox.booking_list import list_bookings
from composite_booking.calcom.sandbox.booking_output import booking_output
from composite_booking.calcom.sandbox.bookings import cancel_booking, create_booking, reschedule_booking
from composite_booking.calcom.sandbox.clock import (
    MICROS_PER_MINUTE,
    parse_instant,
    parse_range_end,
    parse_range_start,
)
from composite_booking.calcom.sandbox.errors import (
    CalcomError,
    bad_request,
    forbidden,
    internal_error,
    not_found,
    route_not_found,
)
from composite_booking.calcom.sandbox.event_types import (
    create_team_event_type,
    find_team_event_type,
    team_event_type_output,
    update_team_event_type,
)
from composite_booking.calcom.sandbox.faults import CallKind
from composite_booking.calcom.sandbox.http import (
    Call,
    Endpoint,
    Reply,
    endpoint,
    path_with_query,
    success,
    success_with_json,
)
from composite_booking.calcom.sandbox.local_times import slots_json_by_local_day
from composite_booking.calcom.sandbox.records import EventType, Schedule, User
from composite_booking.calcom.sandbox.schedules import (
    SCHEDULE_VERSIONS,
    legacy_schedule_output,
    schedule_output,
)
from composite_booking.calcom.sandbox.validation import BodyChecker
from composite_booking.calcom.sandbox.webhooks import (
    create_user_webhook,
    owned_webhook,
    update_user_webhook,
    webhook_output,
)

BOOKINGS_VERSION = "2024-08-13"
SLOTS_VERSION = "2024-09-04"


# --- me


async def get_me(call: Call) -> Reply:
    user = call.require_caller()
    return success(
        {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "name": user.name,
            "timeFormat": 24,
            "defaultScheduleId": user.default_schedule_id,
            "weekStart": "Monday",
            "timeZone": user.time_zone,
            "organizationId": None,
        }
    )


# --- team event types


def _require_team_admin(call: Call) -> tuple[User, int]:
    """ApiAuthGuard then RolesGuard(TEAM_ADMIN): both run before any pipe looks at the body."""
    user = call.require_caller()
    raw_team_id = call.params["teamId"]
    if not (raw_team_id.isdigit() and call.state.is_team_admin(int(raw_team_id), user.id)):
        raise forbidden(
            f"RolesGuard - user with id={user.id} does not have the minimum required role=TEAM_ADMIN within "
            f"team with id={raw_team_id}."
        )
    return user, int(raw_team_id)


def _team_event_type(call: Call, team_id: int) -> EventType:
    event_type_id = call.path_int("eventTypeId")
    event_type = find_team_event_type(call.state, team_id, event_type_id)
    if event_type is None:
        raise not_found(f"Event type with id {event_type_id} not found")
    return event_type


async def create_event_type(call: Call) -> Reply:
    _, team_id = _require_team_admin(call)
    event_type = create_team_event_type(call.state, team_id, await call.body())
    return success(team_event_type_output(call.state, event_type), status=201)


async def list_event_types(call: Call) -> Reply:
    team_id = call.path_int("teamId")
    event_types = [et for et in call.state.event_types.values() if et.team_id == team_id]
    slug = call.query.get("eventSlug")
    if slug:
        event_types = [et for et in event_types if et.slug == slug]
    return success([team_event_type_output(call.state, et) for et in event_types])


async def get_event_type(call: Call) -> Reply:
    _, team_id = _require_team_admin(call)
    return success(team_event_type_output(call.state, _team_event_type(call, team_id)))


async def update_event_type(call: Call) -> Reply:
    _, team_id = _require_team_admin(call)
    event_type = _team_event_type(call, team_id)
    update_team_event_type(call.state, event_type, await call.body())
    return success(team_event_type_output(call.state, event_type))


async def delete_event_type(call: Call) -> Reply:
    _, team_id = _require_team_admin(call)
    event_type_id = call.path_int("eventTypeId")
    event_type = find_team_event_type(call.state, team_id, event_type_id)
    if event_type is None:
        raise not_found(f"Event type with ID={event_type_id} does not exist.")
    del call.state.event_types[event_type.id]
    # The database sets bookings' eventTypeId to null; their busy time stays.
    for booking in call.state.bookings.values():
        if booking.event_type_id == event_type.id:
            booking.event_type_id = None
    return success({"id": event_type.id, "title": event_type.title})


# --- schedules


def _render_schedule(call: Call, schedule: Schedule) -> dict[str, Any]:
    owner = call.state.users.get(schedule.owner_id)
    is_default = owner is not None and owner.default_schedule_id == schedule.id
    if call.version in SCHEDULE_VERSIONS:
        return schedule_output(schedule, is_default=is_default)
    is_last = len(call.state.schedules_of(schedule.owner_id)) == 1
    return legacy_schedule_output(schedule, is_default=is_default, is_last=is_last)


async def list_schedules(call: Call) -> Reply:
    user = call.require_caller()
    return success([_render_schedule(call, s) for s in call.state.schedules_of(user.id)])


async def get_default_schedule(call: Call) -> Reply:
    user = call.require_caller()
    schedule = call.state.schedules.get(user.default_schedule_id) if user.default_schedule_id else None
    return success(_render_schedule(call, schedule) if schedule else None)


async def get_schedule(call: Call) -> Reply:
    user = call.require_caller()
    schedule_id = call.path_int("scheduleId")
    schedule = call.state.schedules.get(schedule_id)
    if schedule is None:
        raise not_found(f"Schedule with ID={schedule_id} does not exist.")
    if schedule.owner_id != user.id:
        raise forbidden(f"User with ID={user.id} does not own schedule with ID={schedule_id}")
    return success(_render_schedule(call, schedule))


async def list_team_schedules(call: Call) -> Reply:
    _, team_id = _require_team_admin(call)
    check = BodyChecker(call.query, allowed=("take", "skip"))
    take = check.integer("take", minimum=1, maximum=250) or 250
    skip = check.integer("skip", minimum=0) or 0
    check.finish()
    schedules = [s for uid in call.state.team_member_ids(team_id) for s in call.state.schedules_of(uid)]
    page = schedules[skip : skip + take]
    return success(
        [
            schedule_output(s, is_default=call.state.users[s.owner_id].default_schedule_id == s.id)
            for s in page
        ]
    )


# --- slots


def _slots_event_type(call: Call, query: dict[str, str]) -> EventType:
    if "eventTypeId" in query:
        raw = query["eventTypeId"]
        event_type = call.state.event_types.get(int(raw)) if raw.isdigit() else None
        if event_type is None:
            raise not_found("Event Type not found")
        return event_type
    slug, team_slug, username = query.get("eventTypeSlug"), query.get("teamSlug"), query.get("username")
    if slug and team_slug:
        team = call.state.team_by_slug(team_slug)
        if team is None:
            raise not_found(f"Team with slug {team_slug} not found")
        event_type = call.state.team_event_type_by_slug(team.id, slug)
        if event_type is None:
            raise not_found("Event Type not found")
        return event_type
    if slug and username:
        if not any(u.username == username for u in call.state.users.values()):
            raise not_found(f"User with username {username} not found")
        raise not_found("Event Type not found")  # user event types are not emulated
    raise bad_request(
        "Invalid request: provide eventTypeId, or eventTypeSlug with teamSlug or username, or usernames."
    )


def _slot_window(call: Call, start_name: str, end_name: str) -> tuple[datetime, datetime]:
    check = BodyChecker(call.query, allowed=(start_name, end_name))
    raw_start = check.string(start_name, required=True)
    raw_end = check.string(end_name, required=True)
    check.finish()
    start = parse_range_start(raw_start or "")
    end = parse_range_end(raw_end or "")
    if start is None:
        raise bad_request("Invalid start date")
    if end is None:
        raise bad_request("Invalid end date")
    if end < start:
        raise bad_request("Invalid time range given - check the 'startTime' and 'endTime' query parameters.")
    return start, end


def _free_slots(
    call: Call,
    event_type: EventType,
    start: datetime,
    end: datetime,
    *,
    duration: int | None,
    time_zone: str | None,
    ignore_uid: str | None,
    start_key: str,
    end_key: str | None,
) -> str:
    """JSON text of the free slots by local date in `time_zone`, each `{start_key: iso[, end_key: iso]}`."""
    length = duration or event_type.length_in_minutes
    starts = available_slot_instants(
        call.state,
        event_type,
        period=Interval(start, end),
        length_min=length,
        now=call.now,
        ignore_booking_uid=ignore_uid,
    )
    return slots_json_by_local_day(
        starts,
        length_micros=length * MICROS_PER_MINUTE,
        zone_name=time_zone,
        start_key=start_key,
        end_key=end_key,
    )


async def get_slots(call: Call) -> Reply:
    if call.version != SLOTS_VERSION:
        raise route_not_found("GET", path_with_query(call.request))
    call.caller()  # optional auth: a bad key still fails
    query = call.query
    check = BodyChecker(query, allowed=("timeZone", "duration", "format"))
    time_zone = check.time_zone("timeZone")
    duration = check.integer("duration", minimum=1)
    slot_format = check.enum("format", ("range", "time"))
    check.finish()
    start, end = _slot_window(call, "start", "end")
    event_type = _slots_event_type(call, query)
    data = _free_slots(
        call, event_type, start, end, duration=duration, time_zone=time_zone,
        ignore_uid=query.get("bookingUidToReschedule"),
        start_key="start", end_key="end" if slot_format == "range" else None,
    )  # fmt: skip
    return success_with_json(data)


async def get_legacy_slots(call: Call) -> Reply:
    """`GET /v2/slots/available`, the pre-2024-09-04 controller; errors are tRPC-shaped."""
    if call.version == SLOTS_VERSION:
        raise route_not_found("GET", path_with_query(call.request))
    query = call.query
    start = parse_instant(query.get("startTime", ""))
    end = parse_instant(query.get("endTime", ""))
    if start is None or end is None or end < start:
        raise CalcomError(
            400,
            "TRPCError",
            "Invalid time range given - check the 'startTime' and 'endTime' query parameters.",
        )
    raw_id = query.get("eventTypeId", "")
    event_type = call.state.event_types.get(int(raw_id)) if raw_id.isdigit() else None
    if event_type is None:
        raise CalcomError(404, "TRPCError", "NOT_FOUND")
    raw_duration = query.get("duration", "")
    duration = int(raw_duration) if raw_duration.isdigit() and int(raw_duration) > 0 else None
    time_zone = query.get("timeZone") or None
    ranged = query.get("slotFormat") == "range"
    slots = _free_slots(
        call,
        event_type,
        start,
        end,
        duration=duration,
        time_zone=time_zone,
        ignore_uid=query.get("rescheduleUid"),
        start_key="startTime" if ranged else "time",
        end_key="endTime" if ranged else None,
    )
    return success_with_json('{"slots": ' + slots + "}")


# --- bookings


def _require_bookings_version(call: Call) -> None:
    if call.version != BOOKINGS_VERSION:
        raise internal_error()


async def post_booking(call: Call) -> Reply:
    _require_bookings_version(call)
    call.caller()  # auth is optional here, but a key that is sent must be valid
    change = create_booking(call.state, await call.body(), call.now)
    call.core.publish(change)
    return success(booking_output(call.state, change.booking), status=201)


async def get_booking(call: Call) -> Reply:
    _require_bookings_version(call)
    call.caller()
    uid = call.params["bookingUid"]
    booking = call.state.bookings.get(uid)
    if booking is None:
        raise not_found(f"Booking with uid={uid} was not found in the database")
    return success(booking_output(call.state, booking))


async def get_bookings(call: Call) -> Reply:
    _require_bookings_version(call)
    user = call.require_caller()
    page = list_bookings(call.state, call.query, user, call.now)
    return success([booking_output(call.state, b) for b in page.bookings], pagination=page.pagination)


async def post_cancel(call: Call) -> Reply:
    _require_bookings_version(call)
    user = call.caller()
    change = cancel_booking(call.state, call.params["bookingUid"], await call.body(), user, call.now)
    call.core.publish(change)
    return success(booking_output(call.state, change.booking))


async def post_reschedule(call: Call) -> Reply:
    _require_bookings_version(call)
    user = call.caller()
    change = reschedule_booking(call.state, call.params["bookingUid"], await call.body(), user, call.now)
    call.core.publish(change)
    return success(booking_output(call.state, change.booking), status=201)


# --- webhooks


async def post_webhook(call: Call) -> Reply:
    user = call.require_caller()
    webhook = create_user_webhook(call.state, user, await call.body())
    return success(webhook_output(webhook), status=201)


async def get_webhooks(call: Call) -> Reply:
    user = call.require_caller()
    check = BodyChecker(call.query, allowed=("take", "skip"))
    take = check.integer("take", minimum=1, maximum=250) or 250
    skip = check.integer("skip", minimum=0) or 0
    check.finish()
    mine = [w for w in call.state.webhooks.values() if w.user_id == user.id]
    return success([webhook_output(w) for w in mine[skip : skip + take]])


async def get_webhook(call: Call) -> Reply:
    user = call.require_caller()
    return success(webhook_output(owned_webhook(call.state, user, call.path_int("webhookId"))))


async def patch_webhook(call: Call) -> Reply:
    user = call.require_caller()
    webhook = update_user_webhook(call.state, user, call.path_int("webhookId"), await call.body())
    return success(webhook_output(webhook))


async def delete_webhook(call: Call) -> Reply:
    user = call.require_caller()
    webhook = owned_webhook(call.state, user, call.path_int("webhookId"))
    del call.state.webhooks[webhook.id]
    return success(webhook_output(webhook))


ENDPOINTS: tuple[Endpoint, ...] = (
    endpoint("GET", "/v2/me", CallKind.GET_ME, get_me),
    endpoint("POST", "/v2/teams/{teamId}/event-types", CallKind.CREATE_EVENT_TYPE, create_event_type),
    endpoint("GET", "/v2/teams/{teamId}/event-types", CallKind.LIST_EVENT_TYPES, list_event_types),
    endpoint("GET", "/v2/teams/{teamId}/event-types/{eventTypeId}", CallKind.GET_EVENT_TYPE, get_event_type),
    endpoint(
        "PATCH", "/v2/teams/{teamId}/event-types/{eventTypeId}", CallKind.UPDATE_EVENT_TYPE, update_event_type
    ),
    endpoint(
        "DELETE",
        "/v2/teams/{teamId}/event-types/{eventTypeId}",
        CallKind.DELETE_EVENT_TYPE,
        delete_event_type,
    ),
    endpoint("GET", "/v2/teams/{teamId}/schedules", CallKind.LIST_SCHEDULES, list_team_schedules),
    endpoint("GET", "/v2/schedules", CallKind.LIST_SCHEDULES, list_schedules),
    endpoint("GET", "/v2/schedules/default", CallKind.GET_SCHEDULE, get_default_schedule),
    endpoint("GET", "/v2/schedules/{scheduleId}", CallKind.GET_SCHEDULE, get_schedule),
    endpoint("GET", "/v2/slots/available", CallKind.GET_SLOTS, get_legacy_slots),
    endpoint("GET", "/v2/slots", CallKind.GET_SLOTS, get_slots),
    endpoint("POST", "/v2/bookings", CallKind.CREATE_BOOKING, post_booking),
    endpoint("GET", "/v2/bookings", CallKind.LIST_BOOKINGS, get_bookings),
    endpoint("GET", "/v2/bookings/{bookingUid}", CallKind.GET_BOOKING, get_booking),
    endpoint("POST", "/v2/bookings/{bookingUid}/cancel", CallKind.CANCEL_BOOKING, post_cancel),
    endpoint("POST", "/v2/bookings/{bookingUid}/reschedule", CallKind.RESCHEDULE_BOOKING, post_reschedule),
    endpoint("POST", "/v2/webhooks", CallKind.CREATE_WEBHOOK, post_webhook),
    endpoint("GET", "/v2/webhooks", CallKind.LIST_WEBHOOKS, get_webhooks),
    endpoint("GET", "/v2/webhooks/{webhookId}", CallKind.GET_WEBHOOK, get_webhook),
    endpoint("PATCH", "/v2/webhooks/{webhookId}", CallKind.UPDATE_WEBHOOK, patch_webhook),
    endpoint("DELETE", "/v2/webhooks/{webhookId}", CallKind.DELETE_WEBHOOK, delete_webhook),
)
