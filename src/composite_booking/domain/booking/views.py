"""What a booking looks like to its readers: the API's `BookingOut`, the notifications' `AppointmentView`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from composite_booking.db.models import Appointment, AppointmentSlot, Customer
from composite_booking.db.repositories.bookings import BookableService, BookingRepository
from composite_booking.db.repositories.sagas import SagaRepository
from composite_booking.domain.booking.chain import ChainSlots, displayed_chain
from composite_booking.domain.booking.states import SagaKind
from composite_booking.domain.statuses import AppointmentStatus, SlotStatus
from composite_booking.notifications import AppointmentView, CustomerView, Language, PauseView, SegmentView
from composite_booking.schemas import bookings as schemas

# A pause being released holds its time until Cal.com confirms the release.
_HOLDING = (SlotStatus.HELD, SlotStatus.BOOKED, SlotStatus.CANCELLING)


@dataclass(frozen=True, slots=True)
class PauseSpan:
    number: int
    after: AppointmentSlot
    starts_at: datetime
    ends_at: datetime
    held_row: AppointmentSlot | None

    @property
    def held(self) -> bool:
        row = self.held_row
        return row is not None and row.active and row.status in _HOLDING


def pauses_of(chain: ChainSlots) -> list[PauseSpan]:
    """The gaps between consecutive segments, numbered from 1, with the row holding each (if any)."""
    spans: list[PauseSpan] = []
    for before, after in zip(chain.segments, chain.segments[1:], strict=False):
        if after.starts_at > before.ends_at:
            spans.append(
                PauseSpan(
                    len(spans) + 1, before, before.ends_at, after.starts_at, chain.held_pause_after(before)
                )
            )
    return spans


class BookingRenderer:
    def __init__(self, bookings: BookingRepository, sagas: SagaRepository) -> None:
        self._bookings = bookings
        self._sagas = sagas
        self._services: dict[int, BookableService] = {}

    async def render(
        self, appointment: Appointment, *, customer: Customer | None = None, reschedules: int | None = None
    ) -> schemas.BookingOut:
        """`customer` and `reschedules`, when the caller knows them, save their queries."""
        known = {customer.id: customer} if customer is not None else None
        return (await self.render_many([appointment], customers=known, reschedules=reschedules))[0]

    async def render_many(
        self,
        appointments: Sequence[Appointment],
        *,
        customers: dict[int, Customer] | None = None,
        reschedules: int | None = None,
    ) -> list[schemas.BookingOut]:
        if customers is None:
            customers = await self._bookings.customers(a.customer_id for a in appointments)
        chains = {a.id: displayed_chain(a) for a in appointments}
        names = await self._bookings.staff_names(
            s.staff_id for chain in chains.values() for s in chain.segments
        )
        rendered = []
        for appointment in appointments:
            service = await self._service(appointment.service_id)
            count = reschedules
            if count is None:
                count = await self._sagas.count_confirmed(appointment.id, SagaKind.RESCHEDULE)
            rendered.append(
                _booking_out(
                    appointment,
                    chains[appointment.id],
                    service,
                    customers[appointment.customer_id],
                    names,
                    count,
                )
            )
        return rendered

    async def notification_view(
        self,
        appointment: Appointment,
        *,
        organizer_email: str,
        organizer_name: str | None,
        placeholder_email: str | None = None,
    ) -> AppointmentView | None:
        """The appointment as its e-mail and ICS show it.

        None when it is in no state a customer is told about, or when the customer has no e-mail address
        and no `placeholder_email` stands in (an ICS download needs an attendee, an e-mail a recipient).
        """
        status = AppointmentStatus(appointment.status)
        if status not in (AppointmentStatus.CONFIRMED, AppointmentStatus.CANCELLED):
            return None
        customer = (await self._bookings.customers([appointment.customer_id]))[appointment.customer_id]
        email = customer.email or placeholder_email
        if not email:
            return None
        service = await self._service(appointment.service_id)
        chain = displayed_chain(appointment)
        names = await self._bookings.staff_names(s.staff_id for s in chain.segments)
        segment_names = {s.key: s.name for s in service.segments}
        sequence = await self._sagas.count_confirmed(appointment.id, SagaKind.RESCHEDULE)
        if status is AppointmentStatus.CANCELLED:
            sequence += 1
        return AppointmentView(
            composite_uid=appointment.composite_uid,
            confirmation_code=appointment.confirmation_code,
            status=status,
            sequence=sequence,
            service_name=service.name,
            branch_name=service.branch_name,
            branch_time_zone=service.time_zone,
            customer=_customer_view(customer, email),
            segments=tuple(
                SegmentView(
                    key=s.segment_key,
                    name=segment_names.get(s.segment_key, s.segment_key),
                    starts_at=s.starts_at,
                    ends_at=s.ends_at,
                    staff_name=names.get(s.staff_id),
                )
                for s in chain.segments
            ),
            pauses=tuple(
                PauseView(
                    after_key=p.after.segment_key,
                    starts_at=p.starts_at,
                    ends_at=p.ends_at,
                    policy=service.policy,
                    held=p.held,
                )
                for p in pauses_of(chain)
            ),
            organizer_email=organizer_email,
            organizer_name=organizer_name or service.branch_name,
            notes=appointment.notes,
        )

    async def _service(self, service_id: int) -> BookableService:
        if service_id not in self._services:
            service = await self._bookings.service(service_id)
            assert service is not None  # an appointment's service is soft-deleted at most
            self._services[service_id] = service
        return self._services[service_id]


def _customer_view(customer: Customer, email: str) -> CustomerView:
    language = Language.EN if customer.language == Language.EN else Language.DE
    return CustomerView(name=customer.name, email=email, language=language)


def _booking_out(
    appointment: Appointment,
    chain: ChainSlots,
    service: BookableService,
    customer: Customer,
    names: dict[int, str],
    reschedules: int,
) -> schemas.BookingOut:
    zone = ZoneInfo(appointment.timezone)
    segment_names = {s.key: s.name for s in service.segments}

    def local(moment: datetime) -> datetime:
        return moment.astimezone(zone)

    segments = [
        schemas.SegmentBookingOut(
            key=s.segment_key,
            name=segment_names.get(s.segment_key, s.segment_key),
            staff=schemas.StaffBrief(id=s.staff_id, name=names.get(s.staff_id, "")),
            starts_at=local(s.starts_at),
            ends_at=local(s.ends_at),
            calcom_booking_uid=s.calcom_booking_uid,
            status=s.status,
        )
        for s in chain.segments
    ]
    pauses = [
        schemas.PauseOut(
            number=p.number,
            after_key=p.after.segment_key,
            starts_at=local(p.starts_at),
            ends_at=local(p.ends_at),
            policy=service.policy,
            held=p.held,
            staff_id=p.held_row.staff_id if p.held_row is not None else None,
            calcom_booking_uid=p.held_row.calcom_booking_uid if p.held_row is not None and p.held else None,
        )
        for p in pauses_of(chain)
    ]
    return schemas.BookingOut(
        id=appointment.id,
        composite_uid=appointment.composite_uid,
        confirmation_code=appointment.confirmation_code,
        status=AppointmentStatus(appointment.status),
        source=appointment.source,
        service=schemas.ServiceBrief(id=service.id, name=service.name),
        customer=schemas.CustomerOut(
            id=customer.id,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            language=customer.language,
        ),
        timezone=appointment.timezone,
        starts_at=local(appointment.starts_at),
        ends_at=local(appointment.ends_at),
        notes=appointment.notes,
        segments=segments,
        pauses=pauses,
        reschedule_count=reschedules,
        attention_reason=appointment.attention_reason,
        created_at=appointment.created_at,
        updated_at=appointment.updated_at,
    )
