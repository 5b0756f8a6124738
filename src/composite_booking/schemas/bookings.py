"""Bookings: composite appointments as the API takes and shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, EmailStr, Field

from composite_booking.domain.segments import PausePolicy
from composite_booking.domain.statuses import AppointmentStatus
from composite_booking.schemas.catalog import PAUSE_POLICY_DESCRIPTION
from composite_booking.schemas.common import StrictInput, TimeZoneName

Name = Annotated[str, Field(min_length=1, max_length=200)]
CustomerLanguage = Literal["de", "en"]

BOOKING_STATUS_DESCRIPTION = (
    "`pending`: being booked in Cal.com. `confirmed`: every segment booked. `rescheduling`: a move is under "
    "way (the chain shown still stands). `cancellation_pending`: cancelling; some segment may still stand in "
    "Cal.com and is being retried. `cancelled`: no segment stands anywhere. `failed`: booking failed and "
    "everything made was taken back."
)


class CustomerIn(StrictInput):
    name: Name
    email: EmailStr | None = Field(default=None, description="Where the confirmation (with ICS) goes.")
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 ()/.-]{3,31}$")
    language: CustomerLanguage = Field(default="de", description="Language of e-mails and calendar texts.")


class BookingCreate(StrictInput):
    service_id: int
    starts_at: AwareDatetime = Field(description="Start of the first segment, with an offset.")
    customer: CustomerIn
    staff_id: int | None = Field(default=None, description="Pin the chain to this staff member.")
    timezone: TimeZoneName | None = Field(
        default=None, description="The customer's zone (Cal.com attendee); default: the branch's."
    )
    notes: str | None = Field(default=None, max_length=2000)


class BookingReschedule(StrictInput):
    starts_at: AwareDatetime = Field(description="New start of the first segment, with an offset.")
    staff_id: int | None = Field(default=None, description="Move the chain to this staff member.")


class BookingCancel(StrictInput):
    reason: str | None = Field(default=None, max_length=500)


class StaffBrief(BaseModel):
    id: int
    name: str


class ServiceBrief(BaseModel):
    id: int
    name: str


class CustomerOut(BaseModel):
    id: int
    name: str
    email: str | None
    phone: str | None
    language: str


class SegmentBookingOut(BaseModel):
    key: str
    name: str
    staff: StaffBrief
    starts_at: datetime
    ends_at: datetime
    calcom_booking_uid: str | None = Field(description="The segment's Cal.com booking (None until made).")
    status: str = Field(description="held, booked, cancelling, cancelled, failed, cancelled_externally, ...")


class PauseOut(BaseModel):
    number: int = Field(description="1-based; `POST /v1/bookings/{id}/pauses/{number}/release` names it.")
    after_key: str
    starts_at: datetime
    ends_at: datetime
    policy: PausePolicy = Field(description=PAUSE_POLICY_DESCRIPTION)
    held: bool = Field(description="The staff member is reserved for this customer during the pause.")
    staff_id: int | None = Field(description="Who is held (blocked/never), else None.")
    calcom_booking_uid: str | None = Field(
        description="The Cal.com booking that holds the pause (blocked/never); cancelled when it is released."
    )


class BookingOut(BaseModel):
    id: int
    composite_uid: uuid.UUID
    confirmation_code: str
    status: AppointmentStatus = Field(description=BOOKING_STATUS_DESCRIPTION)
    source: str
    service: ServiceBrief
    customer: CustomerOut
    timezone: str = Field(description="Times below are rendered in this zone.")
    starts_at: datetime
    ends_at: datetime
    notes: str | None
    segments: list[SegmentBookingOut]
    pauses: list[PauseOut]
    reschedule_count: int
    attention_reason: str | None = Field(
        description="Set when the calendar changed under us and needs a look."
    )
    created_at: datetime
    updated_at: datetime
