from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CalcomMappingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    segment_key: str
    part: str = Field(
        description="`segment`: books the segment; `pause`: holds the pause after it (blocked/never services)"
    )
    staff_id: int
    event_type_id: int | None
    slug: str
    title: str | None
    sync_status: str = Field(description="pending, synced, error or drifted")
    last_synced_at: datetime | None
    sync_error: str | None
    drift: dict[str, Any] | None = Field(
        description="`{deleted, fields: {name: {expected, actual}}}` when Cal.com differs from what we wrote."
    )
    drift_detected_at: datetime | None
