"""Composite availability and gap filling."""

from __future__ import annotations

import json
from datetime import date, datetime, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request, Response

from composite_booking.api.deps import CompanyDep
from composite_booking.api.problems import problem_responses
from composite_booking.availability.service import AvailabilityQuery, AvailabilityService
from composite_booking.domain.availability import CompositeSlot
from composite_booking.domain.errors import InvalidInput, ServiceError
from composite_booking.schemas import availability as schemas

router = APIRouter(prefix="/v1/availability", tags=["availability"])

MOMENT_HELP = "ISO-8601 with an offset (`2026-12-01T09:00:00+01:00`), or a date in the branch's time zone."


class CalendarUnavailable(ServiceError):
    status = 503
    title = "Calendar not configured"
    type_slug = "calendar-not-configured"


def _availability(request: Request) -> AvailabilityService:
    service: AvailabilityService | None = getattr(request.app.state, "availability", None)
    if service is None:
        raise CalendarUnavailable("Cal.com is not configured (CALCOM_API_KEY): availability is unknown")
    return service


def _zone(name: str, field: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput.single(field, f"unknown IANA time zone {name!r}") from exc


def _moment(value: str, field: str) -> datetime | date:
    """A datetime with an offset, or a date (a day in the branch's zone; the service resolves it)."""
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput.single(field, MOMENT_HELP) from exc
    if moment.tzinfo is None:
        raise InvalidInput.single(field, "needs an offset, e.g. +01:00 or Z (or give a date)")
    return moment


class _SlotRenderer:
    """Slots as `schemas.SlotOut` renders them, built directly: answers carry hundreds of slots, and the
    same instants and staff recur in most of them, so each is formatted once."""

    def __init__(self, zone: tzinfo, names: dict[int, str]) -> None:
        self._zone = zone
        self._names = names
        self._times: dict[datetime, str] = {}
        self._staff: dict[int, dict[str, Any]] = {}

    def time(self, moment: datetime) -> str:
        text = self._times.get(moment)
        if text is None:
            text = self._times[moment] = moment.astimezone(self._zone).isoformat()
        return text

    def staff(self, staff_id: int) -> dict[str, Any]:
        brief = self._staff.get(staff_id)
        if brief is None:
            brief = self._staff[staff_id] = {"id": staff_id, "name": self._names.get(staff_id, "")}
        return brief

    def slot(self, slot: CompositeSlot) -> dict[str, Any]:
        time, staff = self.time, self.staff
        return {
            "starts_at": time(slot.starts_at),
            "ends_at": time(slot.ends_at),
            "staff": staff(slot.staff_id),
            "segments": [
                {
                    "key": s.key,
                    "name": s.name,
                    "starts_at": time(s.starts_at),
                    "ends_at": time(s.ends_at),
                    "staff": staff(s.staff_id),
                }
                for s in slot.segments
            ],
            "pauses": [
                {
                    "after_key": p.after_key,
                    "starts_at": time(p.starts_at),
                    "ends_at": time(p.ends_at),
                    "policy": p.policy.value,
                    "held_by_staff_id": p.held_by_staff_id,
                }
                for p in slot.pauses
            ],
        }


@router.get("", response_model=schemas.AvailabilityOut, responses=problem_responses(401, 404, 422, 502, 503))
async def get_availability(
    request: Request,
    company: CompanyDep,
    service_id: Annotated[int, Query()],
    start: Annotated[str, Query(description=MOMENT_HELP)],
    end: Annotated[str, Query(description=MOMENT_HELP + " Slots start before `end`.")],
    staff_id: Annotated[int | None, Query(description="Only this staff member's chains.")] = None,
    timezone: Annotated[
        str | None, Query(description="Render times in this zone (default: the branch's).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """Composite slots: each with its staff, every segment's start, end and staff, and the pauses.

    One slot per start time on the branch's grid; without `staff_id` every eligible staff member is searched
    and the one whose placement leaves the least unusable idle time is named. When nothing fits, `reasons`
    says why and `nearest` offers up to three slots after the window.
    """
    availability = _availability(request)
    render_zone = _zone(timezone, "timezone") if timezone else None
    query = AvailabilityQuery(
        service_id=service_id,
        start=_moment(start, "start"),
        end=_moment(end, "end"),
        staff_id=staff_id,
        limit=limit,
    )
    answer = await availability.search(company.id, query)
    zone = render_zone or ZoneInfo(answer.service.branch_time_zone)
    render = _SlotRenderer(zone, dict(answer.staff_names))
    body = {
        "service_id": answer.service.service_id,
        "service_name": answer.service.name,
        "timezone": str(zone),
        "start": answer.start.astimezone(zone).isoformat(),
        "end": answer.end.astimezone(zone).isoformat(),
        "slots": [render.slot(s) for s in answer.result.slots],
        "has_more": answer.result.has_more,
        "reasons": [
            {"code": r.code.value, "message": r.message, "segment_key": r.segment_key, "staff_id": r.staff_id}
            for r in answer.result.reasons
        ],
        "nearest": [render.slot(s) for s in answer.nearest],
    }
    # Returned as is (the response model documents it): validating hundreds of slots again costs more
    # than the whole search.
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")), media_type="application/json"
    )


@router.get("/gap-fill", responses=problem_responses(401, 404, 422, 502, 503))
async def get_gap_fill(
    request: Request,
    company: CompanyDep,
    staff_id: Annotated[int, Query()],
    date: Annotated[date, Query(description="The day, in the staff member's branch time zone.")],
) -> schemas.GapFillOut:
    """The bookable pauses (free/flexible processing time) in a staff member's day, and which services fit
    into each, so a salon can fill colour processing time with a quick cut."""
    answer = await _availability(request).gap_fill(company.id, staff_id, date)
    zone = ZoneInfo(answer.time_zone)
    names = dict(answer.service_names)
    return schemas.GapFillOut(
        staff=schemas.StaffBrief(id=answer.staff.id, name=answer.staff.name),
        date=answer.day,
        timezone=answer.time_zone,
        pauses=[
            schemas.PauseFillOut(
                starts_at=fill.starts_at.astimezone(zone),
                ends_at=fill.ends_at.astimezone(zone),
                services=[
                    schemas.FillingServiceOut(
                        service_id=f.service_id,
                        name=names.get(f.service_id, ""),
                        starts_at=f.starts_at.astimezone(zone),
                        ends_at=f.ends_at.astimezone(zone),
                    )
                    for f in fill.fillers
                ],
            )
            for fill in answer.fills
        ],
    )
