from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from composite_booking.api.deps import CatalogDep, PaginationDep
from composite_booking.api.problems import problem_responses
from composite_booking.schemas.catalog import ServiceCreate, ServiceOut, ServiceUpdate
from composite_booking.schemas.common import Page

router = APIRouter(prefix="/v1/services", tags=["catalog"], responses=problem_responses(401, 422))


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_service(body: ServiceCreate, catalog: CatalogDep) -> ServiceOut:
    """Create a service. Composite services need ≥ 2 segments; the duration is derived from them."""
    return await catalog.create_service(body)


@router.get("")
async def list_services(
    catalog: CatalogDep,
    page: PaginationDep,
    branch_id: Annotated[int | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
    composite: Annotated[bool | None, Query()] = None,
) -> Page[ServiceOut]:
    return await catalog.list_services(page, branch_id=branch_id, active=active, composite=composite)


@router.get("/{service_id}", responses=problem_responses(404))
async def get_service(service_id: int, catalog: CatalogDep) -> ServiceOut:
    return await catalog.get_service(service_id)


@router.patch("/{service_id}", responses=problem_responses(404))
async def update_service(service_id: int, body: ServiceUpdate, catalog: CatalogDep) -> ServiceOut:
    """Partial update; `segments` replaces the whole list, and the result is validated as a whole."""
    return await catalog.update_service(service_id, body)


@router.delete("/{service_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404))
async def delete_service(service_id: int, catalog: CatalogDep) -> Response:
    """Soft delete: no longer listed or bookable; existing appointments keep their service."""
    await catalog.delete_service(service_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
