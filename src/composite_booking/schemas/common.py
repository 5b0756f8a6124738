from __future__ import annotations

from typing import Annotated, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _valid_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


TimeZoneName = Annotated[
    str, Field(examples=["Europe/Berlin"], max_length=64), AfterValidator(_valid_time_zone)
]


class StrictInput(BaseModel):
    """Request bodies refuse unknown fields, so a typo is a 422 naming it instead of a silent no-op."""

    model_config = ConfigDict(extra="forbid")


ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    total: int = Field(description="Number of items matching the filters, across all pages.")
    limit: int
    offset: int
