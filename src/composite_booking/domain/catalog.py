"""Catalog use cases: branches, staff and services of one company, with every segment rule enforced."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from composite_booking.db.models import Branch, Service, Staff
from composite_booking.db.repositories.catalog import (
    BranchRepository,
    ServiceRepository,
    StaffRepository,
)
from composite_booking.domain.errors import Conflict, FieldProblem, InvalidInput, NotFound
from composite_booking.domain.segments import (
    PausePolicy,
    ReminderPolicy,
    Segment,
    StaffMode,
    longest_duration_min,
    segment_from_json,
    segment_problems,
    segment_to_json,
    shortest_duration_min,
)
from composite_booking.domain.templates import find_template
from composite_booking.schemas import catalog as schemas
from composite_booking.schemas.common import Page, StrictInput

ServiceChanged = Callable[[Service], Awaitable[None]]


async def _ignore_change(_: Service) -> None:
    return None


@dataclass(frozen=True)
class Pagination:
    limit: int
    offset: int


class CatalogService:
    def __init__(
        self,
        branches: BranchRepository,
        staff: StaffRepository,
        services: ServiceRepository,
        *,
        on_service_changed: ServiceChanged = _ignore_change,
    ) -> None:
        self._branches = branches
        self._staff = staff
        self._services = services
        # Runs in the same unit of work after a service or its staff set changes (the Cal.com sync outbox).
        self._on_service_changed = on_service_changed

    # --- branches ---------------------------------------------------------------------------------------

    async def create_branch(self, data: schemas.BranchCreate) -> schemas.BranchOut:
        branch = Branch(name=data.name, timezone=data.timezone, calcom_team_id=data.calcom_team_id)
        self._branches.add(branch)
        await self._branches.flush()
        await self._branches.refresh(branch)
        return schemas.BranchOut.model_validate(branch)

    async def get_branch(self, branch_id: int) -> schemas.BranchOut:
        return schemas.BranchOut.model_validate(await self._require_branch(branch_id))

    async def list_branches(self, page: Pagination) -> Page[schemas.BranchOut]:
        rows, total = await self._branches.list(limit=page.limit, offset=page.offset)
        items = [schemas.BranchOut.model_validate(row) for row in rows]
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    async def update_branch(self, branch_id: int, data: schemas.BranchUpdate) -> schemas.BranchOut:
        branch = await self._require_branch(branch_id)
        for field, value in _explicit_fields(data, non_nullable={"name", "timezone"}).items():
            setattr(branch, field, value)
        await self._branches.flush()
        await self._branches.refresh(branch)
        return schemas.BranchOut.model_validate(branch)

    async def delete_branch(self, branch_id: int) -> None:
        branch = await self._require_branch(branch_id)
        staff_count, service_count = await self._branches.count_members(branch_id)
        if staff_count or service_count:
            raise Conflict(
                f"branch {branch_id} still has {staff_count} staff and {service_count} services; "
                "delete or move them first"
            )
        await self._branches.soft_delete(branch)

    # --- staff ------------------------------------------------------------------------------------------

    async def create_staff(self, data: schemas.StaffCreate) -> schemas.StaffOut:
        await self._require_reference(self._branches, data.branch_id, "branch_id", "branch")
        await self._check_services_of_branch(data.service_ids, data.branch_id, "service_ids")
        staff = Staff(
            branch_id=data.branch_id,
            name=data.name,
            email=data.email,
            aliases=list(data.aliases),
            calcom_user_id=data.calcom_user_id,
            active=data.active,
        )
        self._staff.add(staff)
        await self._staff.flush()
        await self._staff.set_services_of_staff(staff, data.service_ids)
        await self._notify_services(data.service_ids)
        return await self.get_staff(staff.id)

    async def get_staff(self, staff_id: int) -> schemas.StaffOut:
        return _staff_out(await self._require_staff(staff_id))

    async def list_staff(
        self,
        page: Pagination,
        *,
        branch_id: int | None = None,
        service_id: int | None = None,
        active: bool | None = None,
    ) -> Page[schemas.StaffOut]:
        filters: list[Any] = []
        if branch_id is not None:
            filters.append(Staff.branch_id == branch_id)
        if active is not None:
            filters.append(Staff.active.is_(active))
        if service_id is not None:
            filters.append(Staff.service_links.any(service_id=service_id))
        rows, total = await self._staff.list(limit=page.limit, offset=page.offset, filters=filters)
        return Page(items=[_staff_out(r) for r in rows], total=total, limit=page.limit, offset=page.offset)

    async def update_staff(self, staff_id: int, data: schemas.StaffUpdate) -> schemas.StaffOut:
        staff = await self._require_staff(staff_id)
        previous_services = [link.service_id for link in staff.service_links]
        changes = _explicit_fields(data, non_nullable={"name", "aliases", "active", "service_ids"})
        service_ids = changes.pop("service_ids", None)
        if service_ids is not None:
            await self._check_services_of_branch(service_ids, staff.branch_id, "service_ids")
        for field, value in changes.items():
            setattr(staff, field, value)
        await self._staff.flush()
        if service_ids is not None:
            await self._staff.set_services_of_staff(staff, service_ids)
        if service_ids is not None or {"active", "calcom_user_id", "name"} & changes.keys():
            await self._notify_services(sorted(set(previous_services) | set(service_ids or [])))
        return await self.get_staff(staff_id)

    async def delete_staff(self, staff_id: int) -> None:
        staff = await self._require_staff(staff_id)
        service_ids = [link.service_id for link in staff.service_links]
        await self._staff.soft_delete(staff)
        await self._notify_services(service_ids)

    # --- services ---------------------------------------------------------------------------------------

    async def create_service(self, data: schemas.ServiceCreate) -> schemas.ServiceOut:
        await self._require_reference(self._branches, data.branch_id, "branch_id", "branch")
        segments = _resolve_segments(data.composite, data.segments, data.duration_min, data.name)
        _check_segments(segments, composite=data.composite, policy=data.pause_bookable_policy)
        if data.staff_ids is not None:
            await self._check_staff_of_branch(data.staff_ids, data.branch_id)
        service = Service(
            branch_id=data.branch_id,
            name=data.name,
            description=data.description,
            composite=data.composite,
            segments=[segment_to_json(s) for s in segments],
            pause_bookable_policy=data.pause_bookable_policy.value,
            reminder_policy=data.reminder_policy.value,
            reschedule_policy=data.reschedule_policy.model_dump(),
            price=data.price,
            currency=data.currency,
            active=data.active,
        )
        self._services.add(service)
        await self._services.flush()
        if data.staff_ids is not None:
            await self._staff.set_staff_of_service(service.id, data.staff_ids)
        await self._on_service_changed(service)
        return await self.get_service(service.id)

    async def get_service(self, service_id: int) -> schemas.ServiceOut:
        service = await self._require_service(service_id)
        staff_ids = (await self._staff.staff_ids_by_service([service.id]))[service.id]
        return _service_out(service, staff_ids)

    async def list_services(
        self,
        page: Pagination,
        *,
        branch_id: int | None = None,
        active: bool | None = None,
        composite: bool | None = None,
    ) -> Page[schemas.ServiceOut]:
        filters: list[Any] = []
        if branch_id is not None:
            filters.append(Service.branch_id == branch_id)
        if active is not None:
            filters.append(Service.active.is_(active))
        if composite is not None:
            filters.append(Service.composite.is_(composite))
        rows, total = await self._services.list(limit=page.limit, offset=page.offset, filters=filters)
        staff_by_service = await self._staff.staff_ids_by_service([row.id for row in rows])
        items = [_service_out(row, staff_by_service[row.id]) for row in rows]
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    async def update_service(self, service_id: int, data: schemas.ServiceUpdate) -> schemas.ServiceOut:
        service = await self._require_service(service_id)
        changes = _explicit_fields(
            data,
            non_nullable={
                "name",
                "composite",
                "segments",
                "pause_bookable_policy",
                "reminder_policy",
                "reschedule_policy",
                "currency",
                "active",
                "staff_ids",
            },
        )
        composite = bool(changes.get("composite", service.composite))
        policy = PausePolicy(changes.get("pause_bookable_policy", service.pause_bookable_policy))
        if data.segments is not None or data.duration_min is not None:
            segments = _resolve_segments(
                composite, data.segments, data.duration_min, str(changes.get("name", service.name))
            )
        else:
            segments = tuple(segment_from_json(s) for s in service.segments)
        # The whole service is re-validated: changing only the policy can invalidate stored segments.
        _check_segments(segments, composite=composite, policy=policy)
        if data.staff_ids is not None:
            await self._check_staff_of_branch(data.staff_ids, service.branch_id)

        changes.pop("duration_min", None)
        changes.pop("segments", None)
        staff_ids = changes.pop("staff_ids", None)
        for field, value in changes.items():
            if field == "reschedule_policy":
                value = data.reschedule_policy.model_dump() if data.reschedule_policy else value
            elif field in ("pause_bookable_policy", "reminder_policy"):
                value = str(value)
            setattr(service, field, value)
        service.segments = [segment_to_json(s) for s in segments]
        await self._services.flush()
        if staff_ids is not None:
            await self._staff.set_staff_of_service(service.id, staff_ids)
        await self._services.refresh(service)
        await self._on_service_changed(service)
        return await self.get_service(service.id)

    async def delete_service(self, service_id: int) -> None:
        service = await self._require_service(service_id)
        await self._services.soft_delete(service)
        await self._on_service_changed(service)

    async def instantiate_template(
        self, template_key: str, data: schemas.TemplateInstantiate
    ) -> schemas.ServiceOut:
        template = find_template(template_key)
        if template is None:
            raise NotFound("segment template", template_key)
        segments = [schemas.SegmentIn.model_validate(segment_to_json(s)) for s in template.segments]
        return await self.create_service(
            schemas.ServiceCreate(
                branch_id=data.branch_id,
                name=data.name or template.name,
                description=template.description,
                composite=True,
                segments=segments,
                pause_bookable_policy=template.pause_bookable_policy,
                price=data.price,
                staff_ids=data.staff_ids,
            )
        )

    # --- helpers ----------------------------------------------------------------------------------------

    async def _require_branch(self, branch_id: int) -> Branch:
        branch = await self._branches.get(branch_id)
        if branch is None:
            raise NotFound("branch", branch_id)
        return branch

    async def _require_staff(self, staff_id: int) -> Staff:
        staff = await self._staff.get(staff_id)
        if staff is None:
            raise NotFound("staff member", staff_id)
        return staff

    async def _require_service(self, service_id: int) -> Service:
        service = await self._services.get(service_id)
        if service is None:
            raise NotFound("service", service_id)
        return service

    @staticmethod
    async def _require_reference(
        repository: BranchRepository, row_id: int, field: str, resource: str
    ) -> None:
        if not await repository.existing_ids([row_id]):
            raise InvalidInput.single(field, f"{resource} {row_id} does not exist")

    async def _check_services_of_branch(self, service_ids: Sequence[int], branch_id: int, field: str) -> None:
        problems = []
        for index, service_id in enumerate(service_ids):
            service = await self._services.get(service_id)
            if service is None:
                problems.append(FieldProblem(f"{field}[{index}]", f"service {service_id} does not exist"))
            elif service.branch_id != branch_id:
                problems.append(
                    FieldProblem(f"{field}[{index}]", f"service {service_id} belongs to another branch")
                )
        if problems:
            raise InvalidInput(problems)

    async def _check_staff_of_branch(self, staff_ids: Sequence[int], branch_id: int) -> None:
        problems = []
        for index, staff_id in enumerate(staff_ids):
            staff = await self._staff.get(staff_id)
            if staff is None:
                problems.append(
                    FieldProblem(f"staff_ids[{index}]", f"staff member {staff_id} does not exist")
                )
            elif staff.branch_id != branch_id:
                problems.append(
                    FieldProblem(f"staff_ids[{index}]", f"staff member {staff_id} works at another branch")
                )
        if problems:
            raise InvalidInput(problems)

    async def _notify_services(self, service_ids: Sequence[int]) -> None:
        for service_id in sorted(set(service_ids)):
            service = await self._services.get(service_id)
            if service is not None:
                await self._on_service_changed(service)


def _explicit_fields(data: StrictInput, *, non_nullable: set[str]) -> dict[str, Any]:
    """The fields a PATCH body actually sent; `null` for a field that cannot be empty is a 422."""
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    nulls = [
        FieldProblem(f, "may not be null") for f, v in changes.items() if v is None and f in non_nullable
    ]
    if nulls:
        raise InvalidInput(nulls)
    return changes


def _resolve_segments(
    composite: bool,
    segments: Sequence[schemas.SegmentIn] | None,
    duration_min: int | None,
    service_name: str,
) -> tuple[Segment, ...]:
    if segments is not None and duration_min is not None:
        raise InvalidInput.single("duration_min", "give either segments or duration_min, not both")
    if duration_min is not None:
        if composite:
            raise InvalidInput.single("duration_min", "a composite service is defined by its segments")
        return (Segment(key="A", name=service_name, duration_min=duration_min),)
    if segments is None:
        raise InvalidInput.single("segments", "segments (or duration_min for a simple service) are required")
    return tuple(
        Segment(
            key=s.key,
            name=s.name,
            duration_min=s.duration_min,
            gap_after_min=s.gap_after_min,
            gap_after_max_min=s.gap_after_max_min,
            staff_mode=StaffMode(s.staff_mode),
        )
        for s in segments
    )


def _check_segments(segments: Sequence[Segment], *, composite: bool, policy: PausePolicy) -> None:
    problems = segment_problems(segments, composite=composite, policy=policy)
    if problems:
        raise InvalidInput(problems)


def _segment_out(segment: Segment) -> schemas.SegmentOut:
    return schemas.SegmentOut(
        key=segment.key,
        name=segment.name,
        duration_min=segment.duration_min,
        gap_after_min=segment.gap_after_min,
        gap_after_max_min=segment.gap_after_max_min,
        staff_mode=segment.staff_mode,
    )


def _service_out(service: Service, staff_ids: list[int]) -> schemas.ServiceOut:
    segments = [segment_from_json(s) for s in service.segments]
    return schemas.ServiceOut(
        id=service.id,
        branch_id=service.branch_id,
        name=service.name,
        description=service.description,
        composite=service.composite,
        segments=[_segment_out(s) for s in segments],
        pause_bookable_policy=PausePolicy(service.pause_bookable_policy),
        reminder_policy=ReminderPolicy(service.reminder_policy),
        reschedule_policy=schemas.ReschedulePolicy.model_validate(service.reschedule_policy),
        duration_min=shortest_duration_min(segments),
        max_duration_min=longest_duration_min(segments),
        price=service.price,
        currency=service.currency,
        active=service.active,
        staff_ids=staff_ids,
        created_at=service.created_at,
        updated_at=service.updated_at,
    )


def _staff_out(staff: Staff) -> schemas.StaffOut:
    return schemas.StaffOut(
        id=staff.id,
        branch_id=staff.branch_id,
        name=staff.name,
        email=staff.email,
        aliases=list(staff.aliases),
        calcom_user_id=staff.calcom_user_id,
        active=staff.active,
        service_ids=[link.service_id for link in staff.service_links],
        created_at=staff.created_at,
        updated_at=staff.updated_at,
    )


def template_out(key: str) -> schemas.SegmentTemplateOut:
    template = find_template(key)
    if template is None:
        raise NotFound("segment template", key)
    return schemas.SegmentTemplateOut(
        key=template.key,
        category=template.category,
        name=template.name,
        description=template.description,
        pause_bookable_policy=template.pause_bookable_policy,
        segments=[_segment_out(s) for s in template.segments],
        duration_min=shortest_duration_min(template.segments),
        max_duration_min=longest_duration_min(template.segments),
    )
