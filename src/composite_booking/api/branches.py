from __future__ import annotations

from fastapi import APIRouter, Response, status

from composite_booking.api.deps import CatalogDep, PaginationDep
from composite_booking.api.problems import problem_responses
from composite_booking.schemas.catalog import BranchCreate, BranchOut, BranchUpdate
from composite_booking.schemas.common import Page

router = APIRouter(prefix="/v1/branches", tags=["catalog"], responses=problem_responses(401, 422))


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_branch(body: BranchCreate, catalog: CatalogDep) -> BranchOut:
    return await catalog.create_branch(body)


@router.get("")
async def list_branches(catalog: CatalogDep, page: PaginationDep) -> Page[BranchOut]:
    return await catalog.list_branches(page)


@router.get("/{branch_id}", responses=problem_responses(404))
async def get_branch(branch_id: int, catalog: CatalogDep) -> BranchOut:
    return await catalog.get_branch(branch_id)


@router.patch("/{branch_id}", responses=problem_responses(404))
async def update_branch(branch_id: int, body: BranchUpdate, catalog: CatalogDep) -> BranchOut:
    return await catalog.update_branch(branch_id, body)


@router.delete("/{branch_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404, 409))
async def delete_branch(branch_id: int, catalog: CatalogDep) -> Response:
    """Soft delete; refused (409) while staff or services still belong to the branch."""
    await catalog.delete_branch(branch_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
