"""bookings: saga log, idempotency keys, chains of appointment slots

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 00:26:37.015504

A make-before-break reschedule holds the old and the new chain of one appointment at once, and where the
two overlap on one staff member both must stand. Rows that share an `overlap_group` (the old and new chain
of the appointment being moved) may therefore overlap each other; every other overlap is refused as before.
The constraint keeps its name: that name is how a booking conflict is recognised.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OVERLAP = "ex_appointment_slots_staff_overlap"
_OPEN_SAGAS = "state IN ('booking', 'compensating', 'cleaning_up')"


def upgrade() -> None:
    op.create_table(
        "booking_sagas",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("appointment_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("chain", sa.Integer(), nullable=False),
        sa.Column("replaces_chain", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failure", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("recheck_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recoveries", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('book', 'reschedule')", name=op.f("ck_booking_sagas_kind")),
        sa.CheckConstraint(
            "state IN ('booking', 'compensating', 'cleaning_up', 'confirmed', 'compensated')",
            name=op.f("ck_booking_sagas_state"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_booking_sagas_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_booking_sagas_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_sagas")),
    )
    op.create_index(
        op.f("ix_booking_sagas_appointment_id"), "booking_sagas", ["appointment_id"], unique=False
    )
    op.create_index(op.f("ix_booking_sagas_company_id"), "booking_sagas", ["company_id"], unique=False)
    op.create_index(
        "ix_booking_sagas_open_lease_until",
        "booking_sagas",
        ["lease_until"],
        unique=False,
        postgresql_where=sa.text(_OPEN_SAGAS),
    )
    op.create_index(
        "ix_booking_sagas_recheck_at",
        "booking_sagas",
        ["recheck_at"],
        unique=False,
        postgresql_where=sa.text("recheck_at IS NOT NULL"),
    )
    op.create_table(
        "booking_saga_steps",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("saga_id", sa.BigInteger(), nullable=False),
        sa.Column("slot_id", sa.BigInteger(), nullable=False),
        sa.Column("source_slot_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("wave", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("segment_key", sa.String(length=16), nullable=False),
        sa.Column("event_type_id", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("calcom_booking_uid", sa.String(length=128), nullable=True),
        sa.Column("source_booking_uid", sa.String(length=128), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("host_busy", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("uncertain", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("intent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "action IN ('create', 'move', 'cancel')", name=op.f("ck_booking_saga_steps_action")
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'calling', 'done', 'failed', 'unknown', 'undoing', 'undone')",
            name=op.f("ck_booking_saga_steps_state"),
        ),
        sa.ForeignKeyConstraint(
            ["saga_id"],
            ["booking_sagas.id"],
            name=op.f("fk_booking_saga_steps_saga_id_booking_sagas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["appointment_slots.id"],
            name=op.f("fk_booking_saga_steps_slot_id_appointment_slots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_slot_id"],
            ["appointment_slots.id"],
            name=op.f("fk_booking_saga_steps_source_slot_id_appointment_slots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_saga_steps")),
    )
    op.create_index(op.f("ix_booking_saga_steps_saga_id"), "booking_saga_steps", ["saga_id"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("saga_id", sa.BigInteger(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('in_flight', 'completed')", name=op.f("ck_idempotency_keys_state")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_idempotency_keys_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["saga_id"],
            ["booking_sagas.id"],
            name=op.f("fk_idempotency_keys_saga_id_booking_sagas"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("company_id", "key", name=op.f("uq_idempotency_keys_company_id_key")),
    )
    op.create_index(op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"], unique=False)

    op.add_column(
        "appointment_slots", sa.Column("chain", sa.Integer(), server_default=sa.text("1"), nullable=False)
    )
    op.add_column("appointment_slots", sa.Column("overlap_group", sa.BigInteger(), nullable=True))
    op.drop_constraint(
        op.f("uq_appointment_slots_appointment_id_kind_position"), "appointment_slots", type_="unique"
    )
    op.create_unique_constraint(
        op.f("uq_appointment_slots_appointment_id_chain_kind_position"),
        "appointment_slots",
        ["appointment_id", "chain", "kind", "position"],
    )
    op.execute(f"ALTER TABLE appointment_slots DROP CONSTRAINT {_OVERLAP}")
    op.execute(
        f"ALTER TABLE appointment_slots ADD CONSTRAINT {_OVERLAP} EXCLUDE USING gist "
        "(staff_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&, coalesce(overlap_group, -id) WITH <>) "
        "WHERE (active)"
    )


def downgrade() -> None:
    op.execute(f"ALTER TABLE appointment_slots DROP CONSTRAINT {_OVERLAP}")
    op.execute(
        f"ALTER TABLE appointment_slots ADD CONSTRAINT {_OVERLAP} EXCLUDE USING gist "
        "(staff_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) WHERE (active)"
    )
    op.drop_constraint(
        op.f("uq_appointment_slots_appointment_id_chain_kind_position"), "appointment_slots", type_="unique"
    )
    op.create_unique_constraint(
        op.f("uq_appointment_slots_appointment_id_kind_position"),
        "appointment_slots",
        ["appointment_id", "kind", "position"],
    )
    op.drop_column("appointment_slots", "overlap_group")
    op.drop_column("appointment_slots", "chain")
    op.drop_index(op.f("ix_idempotency_keys_expires_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_booking_saga_steps_saga_id"), table_name="booking_saga_steps")
    op.drop_table("booking_saga_steps")
    op.drop_index(
        "ix_booking_sagas_recheck_at",
        table_name="booking_sagas",
        postgresql_where=sa.text("recheck_at IS NOT NULL"),
    )
    op.drop_index(
        "ix_booking_sagas_open_lease_until", table_name="booking_sagas", postgresql_where=sa.text(_OPEN_SAGAS)
    )
    op.drop_index(op.f("ix_booking_sagas_company_id"), table_name="booking_sagas")
    op.drop_index(op.f("ix_booking_sagas_appointment_id"), table_name="booking_sagas")
    op.drop_table("booking_sagas")
