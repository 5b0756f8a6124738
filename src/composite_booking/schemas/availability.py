from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from composite_booking.domain.availability import NoSlotCode
from composite_booking.domain.segments import PausePolicy
from composite_booking.schemas.catalog import PAUSE_POLICY_DESCRIPTION


class StaffBrief(BaseModel):
    id: int
    name: str


class SegmentSlotOut(BaseModel):
    key: str
    name: str
    starts_at: datetime
    ends_at: datetime
    staff: StaffBrief


class PauseSlotOut(BaseModel):
    after_key: str = Field(description="The segment the pause follows.")
    starts_at: datetime
    ends_at: datetime
    policy: PausePolicy = Field(description=PAUSE_POLICY_DESCRIPTION)
    held_by_staff_id: int | None = Field(description="blocked/never: who is held through the pause.")


class SlotOut(BaseModel):
    starts_at: datetime
    ends_at: datetime
    staff: StaffBrief = Field(description="The staff member of the chain.")
    segments: list[SegmentSlotOut]
    pauses: list[PauseSlotOut]


class NoSlotReasonOut(BaseModel):
    code: NoSlotCode
    message: str
    segment_key: str | None = None
    staff_id: int | None = None


class AvailabilityOut(BaseModel):
    service_id: int
    service_name: str
    timezone: str = Field(description="Times below are rendered in this zone.")
    start: datetime
    end: datetime
    slots: list[SlotOut]
    has_more: bool = Field(description="`limit` cut off further slots in the window.")
    reasons: list[NoSlotReasonOut] = Field(description="Only when `slots` is empty: why nothing fits.")
    nearest: list[SlotOut] = Field(description="Only when `slots` is empty: up to 3 slots after the window.")


class FillingServiceOut(BaseModel):
    service_id: int
    name: str
    starts_at: datetime = Field(description="The earliest placement inside the pause.")
    ends_at: datetime


class PauseFillOut(BaseModel):
    starts_at: datetime
    ends_at: datetime
    services: list[FillingServiceOut]


class GapFillOut(BaseModel):
    staff: StaffBrief
    date: date
    timezone: str
    pauses: list[PauseFillOut]
