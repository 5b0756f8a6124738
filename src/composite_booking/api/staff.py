from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from composite_booking.api.deps import CatalogDep, PaginationDep
from composite_booking.api.problems import problem_responses
from composite_booking.schemas.catalog import StaffCreate, StaffOut, StaffUpdate
from composite_booking.schemas.common import Page

router = APIRouter(prefix="/v1/staff", tags=["catalog"], responses=problem_responses(401, 422))


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_staff(body: StaffCreate, catalog: CatalogDep) -> StaffOut:
    return await catalog.create_staff(body)


@router.get("")
async def list_staff(
    catalog: CatalogDep,
    page: PaginationDep,
    branch_id: Annotated[int | None, Query()] = None,
    service_id: Annotated[int | None, Query(description="Only staff who perform this service.")] = None,
    active: Annotated[bool | None, Query()] = None,
) -> Page[StaffOut]:
    return await catalog.list_staff(page, branch_id=branch_id, service_id=service_id, active=active)


@router.get("/{staff_id}", responses=problem_responses(404))
async def get_staff(staff_id: int, catalog: CatalogDep) -> StaffOut:
    return await catalog.get_staff(staff_id)


@router.patch("/{staff_id}", responses=problem_responses(404))
async def update_staff(staff_id: int, body: StaffUpdate, catalog: CatalogDep) -> StaffOut:
    return await catalog.update_staff(staff_id, body)


@router.delete("/{staff_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404))
async def delete_staff(staff_id: int, catalog: CatalogDep) -> Response:
    """Soft delete: the person disappears from lists and availability; past appointments keep them."""
    await catalog.delete_staff(staff_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
