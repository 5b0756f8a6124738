"""Bookings: composite appointments booked whole or not at all, moved make-before-break, cancelled fully."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from composite_booking.api.deps import BookingsDep, CompanyBriefDep, PaginationDep
from composite_booking.api.problems import problem_responses
from composite_booking.db.repositories.bookings import AppointmentFilters
from composite_booking.domain.booking.idempotency import MAX_KEY_LENGTH, idempotency_ref
from composite_booking.domain.booking.service import (
    BookingRequest,
    BookingResponse,
    CustomerDetails,
    RescheduleRequest,
)
from composite_booking.domain.statuses import AppointmentStatus
from composite_booking.schemas.bookings import BookingCancel, BookingCreate, BookingOut, BookingReschedule
from composite_booking.schemas.common import Page

router = APIRouter(prefix="/v1/bookings", tags=["bookings"], responses=problem_responses(401, 422))

IDEMPOTENCY_HELP = (
    "Makes retries safe (IETF draft semantics): the same key with the same body gets the first response "
    "again (status and body, header `Idempotent-Replayed: true`), also after a restart; the same key with "
    "another body is a 422; while the first request still runs, a 409. Keys are kept 24 hours. Without a "
    "key the request is not deduplicated."
)
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=MAX_KEY_LENGTH, description=IDEMPOTENCY_HELP),
]
_CHANGES = problem_responses(404, 409, 502, 503, 504)


def _json(response: BookingResponse) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if response.replayed else None
    return JSONResponse(response.body, status_code=response.status_code, headers=headers)


@router.post(
    "",
    status_code=201,
    response_model=BookingOut,
    responses=problem_responses(409, 502, 503, 504),
)
async def create_booking(
    body: BookingCreate,
    company: CompanyBriefDep,
    bookings: BookingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Book a service's whole chain of segments at `starts_at` (a simple service is a chain of one).

    Every segment becomes a Cal.com booking; all of them are made at once, and if any fails the others are
    taken back: 409 when the time is taken (with up to three `alternatives`, the same staff member's
    first), 502/503 when Cal.com failed. Nothing is left half-booked.
    """
    request = BookingRequest(
        service_id=body.service_id,
        starts_at=body.starts_at,
        customer=CustomerDetails(
            name=body.customer.name,
            email=str(body.customer.email) if body.customer.email else None,
            phone=body.customer.phone,
            language=body.customer.language,
        ),
        staff_id=body.staff_id,
        timezone=body.timezone,
        notes=body.notes,
    )
    idempotency = idempotency_ref(idempotency_key, "bookings.create", body.model_dump(mode="json"))
    return _json(await bookings.book(company.id, request, idempotency=idempotency))


@router.get("")
async def list_bookings(
    company: CompanyBriefDep,
    bookings: BookingsDep,
    page: PaginationDep,
    starts_from: Annotated[
        AwareDatetime | None, Query(alias="from", description="Starts at or after.")
    ] = None,
    starts_before: Annotated[AwareDatetime | None, Query(alias="to", description="Starts before.")] = None,
    staff_id: Annotated[int | None, Query(description="A segment is served by this person.")] = None,
    status: Annotated[AppointmentStatus | None, Query()] = None,
    customer: Annotated[
        str | None,
        Query(max_length=200, description="Customer e-mail or phone (exact), or part of the name."),
    ] = None,
) -> Page[BookingOut]:
    filters = AppointmentFilters(
        starts_from=starts_from,
        starts_before=starts_before,
        staff_id=staff_id,
        status=status.value if status is not None else None,
        customer=customer,
    )
    return await bookings.search(company.id, filters, page)


@router.get("/by-code/{code}", responses=problem_responses(404))
async def get_booking_by_code(code: str, company: CompanyBriefDep, bookings: BookingsDep) -> BookingOut:
    """Find a booking by its confirmation code (spaces, dashes and case do not matter)."""
    return await bookings.get_by_code(company.id, code)


@router.get("/{booking_id}", responses=problem_responses(404))
async def get_booking(booking_id: int, company: CompanyBriefDep, bookings: BookingsDep) -> BookingOut:
    return await bookings.get(company.id, booking_id)


@router.get(
    "/{booking_id}/ics",
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {"schema": {"type": "string"}}}, "description": "iCalendar"},
        **problem_responses(404, 409),
    },
)
async def get_booking_ics(booking_id: int, company: CompanyBriefDep, bookings: BookingsDep) -> Response:
    """The booking as an iCalendar file: one event per segment (stable UIDs), the pauses described;
    `METHOD:CANCEL` once cancelled."""
    ics = await bookings.ics(company.id, booking_id)
    return Response(
        ics,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="booking-{booking_id}.ics"'},
    )


@router.post("/{booking_id}/reschedule", response_model=BookingOut, responses=_CHANGES)
async def reschedule_booking(
    booking_id: int,
    body: BookingReschedule,
    company: CompanyBriefDep,
    bookings: BookingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Move the whole chain, make-before-break: the new chain is booked before the old one is let go, so
    either everything moves or the old chain stands exactly as it was. 422 when the service's
    `reschedule_policy` forbids it (too close to the start, or moved too often)."""
    request = RescheduleRequest(starts_at=body.starts_at, staff_id=body.staff_id)
    idempotency = idempotency_ref(
        idempotency_key, f"bookings.reschedule:{booking_id}", body.model_dump(mode="json")
    )
    return _json(await bookings.reschedule(company.id, booking_id, request, idempotency=idempotency))


@router.post("/{booking_id}/cancel", response_model=BookingOut, responses=_CHANGES)
async def cancel_booking(
    booking_id: int,
    company: CompanyBriefDep,
    bookings: BookingsDep,
    body: BookingCancel | None = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Cancel every segment in Cal.com. The answer says `cancelled` only when none stands any more;
    otherwise `cancellation_pending`, and a worker keeps retrying until it is done."""
    payload: dict[str, Any] = body.model_dump(mode="json") if body is not None else {}
    idempotency = idempotency_ref(idempotency_key, f"bookings.cancel:{booking_id}", payload)
    reason = body.reason if body is not None else None
    return _json(await bookings.cancel(company.id, booking_id, reason, idempotency=idempotency))


@router.post(
    "/{booking_id}/pauses/{number}/release",
    response_model=BookingOut,
    responses=problem_responses(404, 409),
)
async def release_pause(
    booking_id: int,
    number: int,
    company: CompanyBriefDep,
    bookings: BookingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Release held pause `number` (1-based, as in `pauses`) of a `blocked` service, so the staff member is
    bookable in it again. Refused (422) for `never` services and for services whose pauses are not held."""
    idempotency = idempotency_ref(idempotency_key, f"bookings.release_pause:{booking_id}:{number}", {})
    return _json(await bookings.release_pause(company.id, booking_id, number, idempotency=idempotency))
