"""Where a booking's segments go: the seam between booking (saga) and availability.

The availability service implements `SlotResolver`; the booking use cases depend only on this protocol, so
they can be tested with any resolver and the search stays in one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from composite_booking.domain.availability import CompositeSlot


class SlotResolver(Protocol):
    async def resolve(
        self,
        company_id: int,
        service_id: int,
        starts_at: datetime,
        *,
        staff_id: int | None = None,
        ignore_appointment_id: int | None = None,
    ) -> CompositeSlot | None:
        """The placement of the whole chain starting exactly at `starts_at` (segments, staff, pauses), or
        None when it does not fit. `staff_id` pins the staff member of the chain; `ignore_appointment_id`
        treats that appointment's own time as free (a reschedule may overlap the chain it replaces)."""
        ...

    async def alternatives(
        self,
        company_id: int,
        service_id: int,
        around: datetime,
        *,
        staff_id: int | None = None,
        count: int = 3,
    ) -> list[CompositeSlot]:
        """Up to `count` nearest slots at or after `around`: with `staff_id`, that staff member's first."""
        ...
