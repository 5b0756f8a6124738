"""Catalog resources: branches, staff, services, segment templates."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from composite_booking.domain.segments import PausePolicy, ReminderPolicy, StaffMode
from composite_booking.schemas.common import StrictInput, TimeZoneName

Name = Annotated[str, Field(min_length=1, max_length=200)]
SegmentKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,15}$", examples=["A"])]

PAUSE_POLICY_DESCRIPTION = (
    "What the staff member may do during pauses. `free`: bookable by others, only segments are busy. "
    "`blocked`: held through the pauses (busy in Cal.com too); a held pause can be released later. "
    "`never`: held like `blocked`, and never releasable. `flexible`: bookable, and each pause may stretch "
    "from `gap_after_min` to `gap_after_max_min`; availability picks the shortest stretch that fits."
)


# --- branches ---------------------------------------------------------------------------------------------


class BranchCreate(StrictInput):
    name: Name
    timezone: TimeZoneName
    calcom_team_id: int | None = Field(default=None, ge=1)


class BranchUpdate(StrictInput):
    name: Name | None = None
    timezone: TimeZoneName | None = None
    calcom_team_id: int | None = Field(default=None, ge=1)


class BranchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    timezone: str
    calcom_team_id: int | None
    created_at: datetime
    updated_at: datetime


# --- staff ------------------------------------------------------------------------------------------------

Alias = Annotated[str, Field(min_length=1, max_length=100)]


class StaffCreate(StrictInput):
    branch_id: int
    name: Name
    email: EmailStr | None = None
    aliases: list[Alias] = Field(default_factory=list, description='Names callers use, e.g. "Herr Spitzer".')
    calcom_user_id: int | None = Field(default=None, ge=1)
    active: bool = True
    service_ids: list[int] = Field(default_factory=list, description="Services this person performs.")


class StaffUpdate(StrictInput):
    name: Name | None = None
    email: EmailStr | None = None
    aliases: list[Alias] | None = None
    calcom_user_id: int | None = Field(default=None, ge=1)
    active: bool | None = None
    service_ids: list[int] | None = None


class StaffOut(BaseModel):
    id: int
    branch_id: int
    name: str
    email: str | None
    aliases: list[str]
    calcom_user_id: int | None
    active: bool
    service_ids: list[int]
    created_at: datetime
    updated_at: datetime


# --- services ---------------------------------------------------------------------------------------------


class SegmentIn(StrictInput):
    key: SegmentKey
    name: Annotated[str, Field(min_length=1, max_length=100)]
    duration_min: int = Field(description="5 to 480 minutes.")
    gap_after_min: int = Field(default=0, description="Pause after this segment, in minutes (0 or more).")
    gap_after_max_min: int | None = Field(
        default=None, description="`flexible` only: the longest the pause may stretch (≥ gap_after_min)."
    )
    staff_mode: StaffMode = Field(
        default=StaffMode.SAME,
        description="`same`: the staff member of the chain; `any`: any eligible staff member.",
    )


class SegmentOut(BaseModel):
    key: str
    name: str
    duration_min: int
    gap_after_min: int
    gap_after_max_min: int | None
    staff_mode: StaffMode


class ReschedulePolicy(StrictInput):
    cutoff_hours: int = Field(
        default=24, ge=0, le=24 * 30, description="No changes later than this before start."
    )
    max_changes: int = Field(default=3, ge=0, le=100, description="How often one appointment may be moved.")


class ServiceCreate(StrictInput):
    branch_id: int
    name: Name
    description: str | None = Field(default=None, max_length=2000)
    composite: bool = False
    segments: list[SegmentIn] | None = Field(
        default=None, description="Ordered segments. A simple service may give `duration_min` instead."
    )
    duration_min: int | None = Field(
        default=None, description="Simple services only: shorthand for one segment of this length."
    )
    pause_bookable_policy: PausePolicy = Field(default=PausePolicy.FREE, description=PAUSE_POLICY_DESCRIPTION)
    reminder_policy: ReminderPolicy = ReminderPolicy.SINGLE
    reschedule_policy: ReschedulePolicy = Field(default_factory=ReschedulePolicy)
    price: Decimal | None = Field(default=None, ge=0, max_digits=10, decimal_places=2)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    active: bool = True
    staff_ids: list[int] | None = Field(
        default=None, description="Who performs it (also settable per staff)."
    )


class ServiceUpdate(StrictInput):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=2000)
    composite: bool | None = None
    segments: list[SegmentIn] | None = None
    duration_min: int | None = None
    pause_bookable_policy: PausePolicy | None = Field(default=None, description=PAUSE_POLICY_DESCRIPTION)
    reminder_policy: ReminderPolicy | None = None
    reschedule_policy: ReschedulePolicy | None = None
    price: Decimal | None = Field(default=None, ge=0, max_digits=10, decimal_places=2)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    active: bool | None = None
    staff_ids: list[int] | None = None


class ServiceOut(BaseModel):
    id: int
    branch_id: int
    name: str
    description: str | None
    composite: bool
    segments: list[SegmentOut]
    pause_bookable_policy: PausePolicy = Field(description=PAUSE_POLICY_DESCRIPTION)
    reminder_policy: ReminderPolicy
    reschedule_policy: ReschedulePolicy
    duration_min: int = Field(description="Derived: segments plus the shortest pauses.")
    max_duration_min: int = Field(description="Derived: segments plus the longest (flexible) pauses.")
    price: Decimal | None
    currency: str
    active: bool
    staff_ids: list[int]
    created_at: datetime
    updated_at: datetime


# --- segment templates ------------------------------------------------------------------------------------


class SegmentTemplateOut(BaseModel):
    key: str
    category: str
    name: str
    description: str
    pause_bookable_policy: PausePolicy
    segments: list[SegmentOut]
    duration_min: int
    max_duration_min: int


class TemplateInstantiate(StrictInput):
    branch_id: int
    name: Name | None = Field(default=None, description="Defaults to the template's name.")
    price: Decimal | None = Field(default=None, ge=0, max_digits=10, decimal_places=2)
    staff_ids: list[int] | None = None
