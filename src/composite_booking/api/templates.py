from __future__ import annotations

from fastapi import APIRouter, status

from composite_booking.api.deps import CatalogDep, CompanyDep
from composite_booking.api.problems import problem_responses
from composite_booking.domain.catalog import template_out
from composite_booking.domain.templates import TEMPLATES
from composite_booking.schemas.catalog import SegmentTemplateOut, ServiceOut, TemplateInstantiate

router = APIRouter(prefix="/v1/segment-templates", tags=["catalog"], responses=problem_responses(401))


@router.get("")
async def list_segment_templates(_: CompanyDep) -> list[SegmentTemplateOut]:
    """Ready-made segment layouts (hair, therapy, spa, beauty), each instantiable into a service."""
    return [template_out(t.key) for t in TEMPLATES]


@router.get("/{template_key}", responses=problem_responses(404))
async def get_segment_template(template_key: str, _: CompanyDep) -> SegmentTemplateOut:
    return template_out(template_key)


@router.post(
    "/{template_key}/instantiate",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 422),
)
async def instantiate_segment_template(
    template_key: str, body: TemplateInstantiate, catalog: CatalogDep
) -> ServiceOut:
    """Create a composite service from a template (its segments and pause policy)."""
    return await catalog.instantiate_template(template_key, body)
