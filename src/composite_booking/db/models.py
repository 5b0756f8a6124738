"""All tables in one place. Every tenant-owned row carries `company_id`; repositories always filter on it."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from composite_booking.db.base import Base, TimestampMixin

# The name a 409 is recognised by (SQLSTATE 23P01 on this constraint).
STAFF_OVERLAP_CONSTRAINT = "ex_appointment_slots_staff_overlap"


class Company(TimestampMixin, Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class ApiKey(Base):
    """API keys are stored as SHA-256 digests: they are long random tokens, so a fast hash is enough."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Branch(TimestampMixin, Base):
    __tablename__ = "branches"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    calcom_team_id: Mapped[int | None] = mapped_column(BigInteger)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StaffService(Base):
    """Which services a staff member performs."""

    __tablename__ = "staff_services"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)


class Staff(TimestampMixin, Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    aliases: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    calcom_user_id: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    service_links: Mapped[list[StaffService]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by=StaffService.service_id
    )


class Customer(TimestampMixin, Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8), server_default="de")

    __table_args__ = (Index("ix_customers_company_id_email", "company_id", "email"),)


class Service(TimestampMixin, Base):
    """A bookable service. `segments` is validated JSON; the duration is always derived from it."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    composite: Mapped[bool] = mapped_column(Boolean)
    segments: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    pause_bookable_policy: Mapped[str] = mapped_column(String(16))
    reminder_policy: Mapped[str] = mapped_column(String(16), server_default="single")
    reschedule_policy: Mapped[dict[str, Any]] = mapped_column(JSONB)
    price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    currency: Mapped[str] = mapped_column(String(3), server_default="EUR")
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "pause_bookable_policy IN ('free', 'blocked', 'flexible', 'never')", name="pause_policy"
        ),
        CheckConstraint("reminder_policy IN ('single', 'per_segment', 'none')", name="reminder_policy"),
        CheckConstraint(
            "jsonb_typeof(segments) = 'array' AND jsonb_array_length(segments) >= 1", name="segments"
        ),
        CheckConstraint("price IS NULL OR price >= 0", name="price"),
    )


class Appointment(TimestampMixin, Base):
    """One booking of a service: the whole chain of segments, booked whole or not at all."""

    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    composite_uid: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    status: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    confirmation_code: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    # Set when the calendar changed under us (e.g. a segment cancelled in Cal.com) and a person should look.
    attention_reason: Mapped[str | None] = mapped_column(Text)
    attention_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    slots: Mapped[list[AppointmentSlot]] = relationship(
        lazy="raise", back_populates="appointment", order_by="AppointmentSlot.position"
    )

    __table_args__ = (
        UniqueConstraint("company_id", "confirmation_code"),
        CheckConstraint("ends_at > starts_at", name="time_order"),
        CheckConstraint(
            "source IN ('api', 'voice', 'calcom', 'admin')",
            name="source",
        ),
        Index("ix_appointments_company_id_starts_at", "company_id", "starts_at"),
    )


class AppointmentSlot(Base):
    """One segment booking or one held pause of an appointment: a span of a staff member's time.

    Active rows of one staff member never overlap: PostgreSQL refuses it (the exclusion constraint), so no
    race in the application can double-book a staff member. The one exception is a make-before-break
    reschedule: the old and the new chain of one appointment (rows sharing an `overlap_group`) may overlap
    each other while both stand, never anyone else's rows. `chain` numbers the chains of an appointment
    (1 when booked, +1 per reschedule attempt).
    """

    __tablename__ = "appointment_slots"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    position: Mapped[int] = mapped_column(Integer)
    segment_key: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    calcom_booking_uid: Mapped[str | None] = mapped_column(String(128), index=True)
    calcom_event_type_id: Mapped[int | None] = mapped_column(BigInteger)
    chain: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    overlap_group: Mapped[int | None] = mapped_column(BigInteger)

    appointment: Mapped[Appointment] = relationship(lazy="raise", back_populates="slots")

    __table_args__ = (
        CheckConstraint("kind IN ('segment', 'pause')", name="kind"),
        CheckConstraint("ends_at > starts_at", name="time_order"),
        UniqueConstraint("appointment_id", "chain", "kind", "position"),
        ExcludeConstraint(
            ("staff_id", "="),
            (func.tstzrange(text("starts_at"), text("ends_at"), text("'[)'")), "&&"),
            # Rows without a group never equal another row here, so every overlap conflicts.
            (func.coalesce(text("overlap_group"), text("-id")), "<>"),
            name=STAFF_OVERLAP_CONSTRAINT,
            using="gist",
            where=text("active"),
        ),
        Index("ix_appointment_slots_staff_id_starts_at", "staff_id", "starts_at"),
    )


class CalcomEventMap(TimestampMixin, Base):
    """(service, segment, part, staff member) → the hidden Cal.com event type that books it.

    `part` is `segment` (the work itself) or `pause` (the pause after it, held under blocked/never).
    """

    __tablename__ = "calcom_event_map"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    segment_key: Mapped[str] = mapped_column(String(16))
    part: Mapped[str] = mapped_column(String(8), server_default="segment")
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    event_type_id: Mapped[int | None] = mapped_column(BigInteger)
    slug: Mapped[str] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(String(255))
    # The configuration last written to Cal.com: a sync with nothing changed makes no call at all.
    synced_config: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    sync_status: Mapped[str] = mapped_column(String(16), server_default="pending")
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sync_error: Mapped[str | None] = mapped_column(Text)
    drift: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    drift_detected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("service_id", "segment_key", "part", "staff_id"),
        CheckConstraint(
            "sync_status IN ('pending', 'synced', 'error', 'drifted', 'deleting')", name="sync_status"
        ),
        CheckConstraint("part IN ('segment', 'pause')", name="part"),
    )


class CalcomStaffProbe(TimestampMixin, Base):
    """A staff member's hidden 5-minute "probe" event type: its free slots are that person's free time.

    Any Cal.com booking is busy time on all of a host's event types, so one `GET /v2/slots` of the probe
    per window tells the person's free time, whatever event types the bookings were made on.
    """

    __tablename__ = "calcom_staff_probes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), unique=True)
    team_id: Mapped[int] = mapped_column(BigInteger)
    event_type_id: Mapped[int | None] = mapped_column(BigInteger)
    slug: Mapped[str] = mapped_column(String(128))


class OutboxMessage(TimestampMixin, Base):
    """Durable work written in the same transaction as the change that caused it (Cal.com sync, e-mails, ...).

    Workers claim due rows with `FOR UPDATE SKIP LOCKED`, so any number of them can run. At most one pending
    row exists per (kind, dedupe_key); a change while it is being processed raises its `generation`, and the
    worker runs it again instead of marking it done.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    generation: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    available_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "uq_outbox_pending_kind_dedupe_key",
            "kind",
            "dedupe_key",
            unique=True,
            postgresql_where=text("done_at IS NULL AND dedupe_key IS NOT NULL"),
        ),
        Index("ix_outbox_due", "available_at", postgresql_where=text("done_at IS NULL")),
    )


class CalcomWebhookEvent(Base):
    """Every verified Cal.com webhook delivery; an identical redelivery is recognised by its body digest."""

    __tablename__ = "calcom_webhook_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    body_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    trigger: Mapped[str] = mapped_column(String(64))
    booking_uid: Mapped[str | None] = mapped_column(String(128), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BookingSaga(TimestampMixin, Base):
    """The persisted log of one booking or reschedule: driven to a final state by its request or by recovery.

    Whoever drives it holds a lease (`lease_until`); recovery takes over sagas whose lease expired and bumps
    `version`, so a slow original driver notices (its writes are fenced on the version it started with).
    """

    __tablename__ = "booking_sagas"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    # The chain being booked, and for a reschedule the chain it replaces.
    chain: Mapped[int] = mapped_column(Integer)
    replaces_chain: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    lease_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Why it failed, as the problem the caller got (or gets when it retries with the same Idempotency-Key).
    failure: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # After an outcome that stayed unknown, look once more for a late booking at this time.
    recheck_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recoveries: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    steps: Mapped[list[BookingSagaStep]] = relationship(
        lazy="raise", back_populates="saga", order_by="BookingSagaStep.id"
    )

    __table_args__ = (
        CheckConstraint("kind IN ('book', 'reschedule')", name="kind"),
        CheckConstraint(
            "state IN ('booking', 'compensating', 'cleaning_up', 'confirmed', 'compensated')", name="state"
        ),
        Index(
            "ix_booking_sagas_open_lease_until",
            "lease_until",
            postgresql_where=text("state IN ('booking', 'compensating', 'cleaning_up')"),
        ),
        Index("ix_booking_sagas_recheck_at", "recheck_at", postgresql_where=text("recheck_at IS NOT NULL")),
    )


class BookingSagaStep(Base):
    """One Cal.com write of a saga: its intent is committed before the call and its result after.

    `create` books a new segment, `move` reschedules an old segment's booking onto the new chain (where the
    two overlap), `cancel` removes an old segment once the new chain stands. A step that was done and must
    be taken back goes `undoing` → `undone` (cancelled, or moved back).
    """

    __tablename__ = "booking_saga_steps"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    saga_id: Mapped[int] = mapped_column(ForeignKey("booking_sagas.id", ondelete="CASCADE"), index=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("appointment_slots.id", ondelete="CASCADE"))
    # The old chain's slot a `move` takes its booking from.
    source_slot_id: Mapped[int | None] = mapped_column(ForeignKey("appointment_slots.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(8))
    # Moves run in waves: a move waits for the moves of earlier waves to free its time.
    wave: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    state: Mapped[str] = mapped_column(String(16))
    segment_key: Mapped[str] = mapped_column(String(16))
    event_type_id: Mapped[int] = mapped_column(BigInteger)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The booking this step made (create, move), or the one it cancels (cancel).
    calcom_booking_uid: Mapped[str | None] = mapped_column(String(128))
    # A move's booking before it moved; after an undo, the booking it was moved back to.
    source_booking_uid: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text)
    # Set when Cal.com refused because the host is busy (the caller gets a 409, not a 502).
    host_busy: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # The outcome was once unknown and judged "not made": recheck later that nothing landed late.
    uncertain: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    intent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    saga: Mapped[BookingSaga] = relationship(lazy="raise", back_populates="steps")

    __table_args__ = (
        CheckConstraint("action IN ('create', 'move', 'cancel')", name="action"),
        CheckConstraint(
            "state IN ('pending', 'calling', 'done', 'failed', 'unknown', 'undoing', 'undone')",
            name="state",
        ),
    )


class IdempotencyKey(Base):
    """An `Idempotency-Key` a company used: the request it named and, once known, the response it got.

    Kept 24 hours (`expires_at`); a key whose request is still running is `in_flight`. A booking's key is
    claimed in the transaction that claims the time, and completed when its saga reaches a final state.
    """

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    operation: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    saga_id: Mapped[int | None] = mapped_column(ForeignKey("booking_sagas.id", ondelete="SET NULL"))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # An in-flight claim without a saga is abandoned (its request died) once this passes.
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    __table_args__ = (
        UniqueConstraint("company_id", "key"),
        CheckConstraint("state IN ('in_flight', 'completed')", name="state"),
    )


__all__ = [
    "STAFF_OVERLAP_CONSTRAINT",
    "ApiKey",
    "Appointment",
    "AppointmentSlot",
    "BookingSaga",
    "BookingSagaStep",
    "Branch",
    "CalcomEventMap",
    "CalcomStaffProbe",
    "CalcomWebhookEvent",
    "Company",
    "Customer",
    "IdempotencyKey",
    "OutboxMessage",
    "Service",
    "Staff",
    "StaffService",
]
