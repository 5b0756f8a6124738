"""What the booking use cases read and write, scoped by company: services, customers, appointments, slots."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from composite_booking.db.models import (
    Appointment,
    AppointmentSlot,
    Branch,
    CalcomEventMap,
    Customer,
    OutboxMessage,
    Service,
    Staff,
)
from composite_booking.domain.segments import PausePolicy, Segment, SlotKind, segment_from_json

# Mappings whose event type exists in Cal.com (a drifted one still books; a deleting one must not).
_BOOKABLE_MAPPINGS = ("synced", "drifted")

# (segment key, part, staff id): what names a Cal.com event type of a service.
EventTypeKey = tuple[str, SlotKind, int]


@dataclass(frozen=True, slots=True)
class BookableService:
    id: int
    name: str
    branch_id: int
    branch_name: str
    time_zone: str
    calcom_team_id: int | None
    policy: PausePolicy
    segments: tuple[Segment, ...]
    reschedule_policy: dict[str, Any]
    active: bool
    deleted: bool


@dataclass(frozen=True, slots=True)
class AppointmentFilters:
    starts_from: datetime | None = None
    starts_before: datetime | None = None
    staff_id: int | None = None
    status: str | None = None
    customer: str | None = None


class BookingRepository:
    def __init__(self, session: AsyncSession, company_id: int) -> None:
        self._session = session
        self.company_id = company_id

    def add(self, row: object) -> None:
        self._session.add(row)

    async def flush(self) -> None:
        await self._session.flush()

    # --- catalog reads ----------------------------------------------------------------------------------

    async def service(self, service_id: int) -> BookableService | None:
        """The service with its branch (deleted ones too: existing appointments still render)."""
        row = (
            await self._session.execute(
                select(Service, Branch)
                .join(Branch, Branch.id == Service.branch_id)
                .where(Service.company_id == self.company_id, Service.id == service_id)
            )
        ).one_or_none()
        if row is None:
            return None
        service, branch = row
        return BookableService(
            id=service.id,
            name=service.name,
            branch_id=branch.id,
            branch_name=branch.name,
            time_zone=branch.timezone,
            calcom_team_id=branch.calcom_team_id,
            policy=PausePolicy(service.pause_bookable_policy),
            segments=tuple(segment_from_json(s) for s in service.segments),
            reschedule_policy=dict(service.reschedule_policy or {}),
            active=service.active,
            deleted=service.deleted_at is not None,
        )

    async def staff_names(self, staff_ids: Iterable[int]) -> dict[int, str]:
        ids = sorted(set(staff_ids))
        if not ids:
            return {}
        rows = await self._session.execute(
            select(Staff.id, Staff.name).where(Staff.company_id == self.company_id, Staff.id.in_(ids))
        )
        return {int(staff_id): str(name) for staff_id, name in rows.all()}

    async def event_types(self, service_id: int, wanted: Iterable[EventTypeKey]) -> dict[EventTypeKey, int]:
        """(segment key, part, staff id) → the Cal.com event type that books it; unsynced ones are absent."""
        keys = set(wanted)
        rows = await self._session.execute(
            select(
                CalcomEventMap.segment_key,
                CalcomEventMap.part,
                CalcomEventMap.staff_id,
                CalcomEventMap.event_type_id,
            ).where(
                CalcomEventMap.company_id == self.company_id,
                CalcomEventMap.service_id == service_id,
                CalcomEventMap.event_type_id.is_not(None),
                CalcomEventMap.sync_status.in_(_BOOKABLE_MAPPINGS),
            )
        )
        found: dict[EventTypeKey, int] = {}
        for key, part, staff_id, event_type_id in rows.all():
            found_key = (str(key), SlotKind(part), int(staff_id))
            if found_key in keys and event_type_id is not None:
                found[found_key] = int(event_type_id)
        return found

    # --- customers --------------------------------------------------------------------------------------

    async def upsert_customer(
        self, *, name: str, email: str | None, phone: str | None, language: str | None
    ) -> Customer:
        """The company's customer with this e-mail (else phone), updated; or a new one."""
        customer: Customer | None = None
        if email:
            customer = await self._first_customer(func.lower(Customer.email) == email.lower())
        if customer is None and phone:
            customer = await self._first_customer(Customer.phone == phone)
        if customer is None:
            customer = Customer(company_id=self.company_id, name=name, email=email, phone=phone)
            if language:
                customer.language = language
            self._session.add(customer)
        else:
            customer.name = name
            customer.email = email or customer.email
            customer.phone = phone or customer.phone
            if language:
                customer.language = language
        await self._session.flush()
        # Read back only what the write did not return (an UPDATE's server-set `updated_at`), so the customer
        # is whole after the transaction; an unchanged one needs no second read.
        expired = inspect(customer).expired_attributes
        if expired:
            await self._session.refresh(customer, sorted(expired))
        return customer

    async def _first_customer(self, condition: Any) -> Customer | None:
        statement = (
            select(Customer)
            .where(Customer.company_id == self.company_id, condition)
            .order_by(Customer.id)
            .limit(1)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def customers(self, customer_ids: Iterable[int]) -> dict[int, Customer]:
        ids = sorted(set(customer_ids))
        if not ids:
            return {}
        rows = await self._session.execute(
            select(Customer).where(Customer.company_id == self.company_id, Customer.id.in_(ids))
        )
        return {c.id: c for c in rows.scalars()}

    # --- appointments -----------------------------------------------------------------------------------

    async def appointment(self, appointment_id: int, *, for_update: bool = False) -> Appointment | None:
        return await self._one(Appointment.id == appointment_id, for_update=for_update)

    async def appointment_by_code(self, code: str) -> Appointment | None:
        return await self._one(Appointment.confirmation_code == code, for_update=False)

    async def _one(self, condition: Any, *, for_update: bool) -> Appointment | None:
        statement = (
            select(Appointment)
            .where(Appointment.company_id == self.company_id, condition)
            .options(selectinload(Appointment.slots))
            .execution_options(populate_existing=True)
        )
        if for_update:
            statement = statement.with_for_update(of=Appointment)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def code_taken(self, code: str) -> bool:
        statement = select(func.count()).where(
            Appointment.company_id == self.company_id, Appointment.confirmation_code == code
        )
        return int((await self._session.execute(statement)).scalar_one()) > 0

    async def list_appointments(
        self, filters: AppointmentFilters, *, limit: int, offset: int
    ) -> tuple[list[Appointment], int]:
        statement = self._filtered(filters)
        total = int(
            (await self._session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
        )
        rows = await self._session.execute(
            statement.options(selectinload(Appointment.slots))
            .order_by(Appointment.starts_at, Appointment.id)
            .limit(limit)
            .offset(offset)
        )
        return list(rows.scalars()), total

    def _filtered(self, filters: AppointmentFilters) -> Select[Appointment]:
        statement = select(Appointment).where(Appointment.company_id == self.company_id)
        if filters.starts_from is not None:
            statement = statement.where(Appointment.starts_at >= filters.starts_from)
        if filters.starts_before is not None:
            statement = statement.where(Appointment.starts_at < filters.starts_before)
        if filters.status is not None:
            statement = statement.where(Appointment.status == filters.status)
        if filters.staff_id is not None:
            # A segment of the appointment's latest chain that did not fail (the chain it stands on).
            other = aliased(AppointmentSlot)
            latest_chain = (
                select(func.max(other.chain))
                .where(other.appointment_id == Appointment.id, other.status != "failed")
                .scalar_subquery()
            )
            statement = statement.where(
                select(AppointmentSlot.id)
                .where(
                    AppointmentSlot.appointment_id == Appointment.id,
                    AppointmentSlot.kind == "segment",
                    AppointmentSlot.staff_id == filters.staff_id,
                    AppointmentSlot.chain == latest_chain,
                )
                .exists()
            )
        if filters.customer:
            needle = filters.customer.strip()
            statement = statement.where(
                Appointment.customer_id.in_(
                    select(Customer.id).where(
                        Customer.company_id == self.company_id,
                        or_(
                            func.lower(Customer.email) == needle.lower(),
                            Customer.phone == needle,
                            Customer.name.ilike(f"%{_escape_like(needle)}%", escape="\\"),
                        ),
                    )
                )
            )
        return statement

    # --- slots ------------------------------------------------------------------------------------------

    async def update_slots(self, slot_ids: Sequence[int], **values: Any) -> None:
        if slot_ids:
            await self._session.execute(
                update(AppointmentSlot)
                .where(AppointmentSlot.company_id == self.company_id, AppointmentSlot.id.in_(slot_ids))
                .values(**values)
            )

    async def slot(self, slot_id: int, *, for_update: bool = False) -> AppointmentSlot | None:
        statement = select(AppointmentSlot).where(
            AppointmentSlot.company_id == self.company_id, AppointmentSlot.id == slot_id
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def bump_version(self, appointment_id: int) -> None:
        """Mark the appointment changed (its version is what a reschedule checks it was read at)."""
        await self._session.execute(
            update(Appointment)
            .where(Appointment.company_id == self.company_id, Appointment.id == appointment_id)
            .values(version=Appointment.version + 1)
        )

    async def update_each_slot(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Each slot its own values (`id` names the slot; every row sets the same columns): one
        executemany, sent to PostgreSQL as one pipelined batch.

        Slot objects already loaded in this session are not updated (SQLAlchemy cannot synchronise a bulk
        update that has a WHERE clause of its own).
        """
        if rows:
            await self._session.execute(
                update(AppointmentSlot)
                .where(AppointmentSlot.company_id == self.company_id)
                .execution_options(synchronize_session=None),
                list(rows),
            )

    async def set_overlap_group(self, appointment_id: int, group: int | None) -> None:
        """Let the active rows of this appointment overlap each other (a reschedule), or not any more."""
        await self._session.execute(
            update(AppointmentSlot)
            .where(
                AppointmentSlot.company_id == self.company_id,
                AppointmentSlot.appointment_id == appointment_id,
                AppointmentSlot.active.is_(True),
            )
            .values(overlap_group=group)
        )

    # --- notifications ----------------------------------------------------------------------------------

    async def message_done(self, kind: str, dedupe_key: str) -> bool:
        """Whether this company's outbox already finished such a message (a notification sent once)."""
        statement = select(func.count()).where(
            OutboxMessage.company_id == self.company_id,
            OutboxMessage.kind == kind,
            OutboxMessage.dedupe_key == dedupe_key,
            OutboxMessage.done_at.is_not(None),
        )
        return int((await self._session.execute(statement)).scalar_one()) > 0


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
