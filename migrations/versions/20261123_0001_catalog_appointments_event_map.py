"""catalog, appointments, event map

Revision ID: 0001
Revises:
Create Date: 2026-11-23 23:31:43.323445
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # btree_gist lets one exclusion constraint mix `staff_id WITH =` and a range overlap.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "companies",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_api_keys_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index(op.f("ix_api_keys_company_id"), "api_keys", ["company_id"], unique=False)
    op.create_table(
        "branches",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("calcom_team_id", sa.BigInteger(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_branches_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_branches")),
    )
    op.create_index(op.f("ix_branches_company_id"), "branches", ["company_id"], unique=False)
    op.create_table(
        "customers",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=8), server_default="de", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_customers_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_index(op.f("ix_customers_company_id"), "customers", ["company_id"], unique=False)
    op.create_index("ix_customers_company_id_email", "customers", ["company_id", "email"], unique=False)
    op.create_table(
        "services",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("branch_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("composite", sa.Boolean(), nullable=False),
        sa.Column("segments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("pause_bookable_policy", sa.String(length=16), nullable=False),
        sa.Column("reminder_policy", sa.String(length=16), server_default="single", nullable=False),
        sa.Column("reschedule_policy", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("price", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), server_default="EUR", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "jsonb_typeof(segments) = 'array' AND jsonb_array_length(segments) >= 1",
            name=op.f("ck_services_segments"),
        ),
        sa.CheckConstraint(
            "pause_bookable_policy IN ('free', 'blocked', 'flexible', 'never')",
            name=op.f("ck_services_pause_policy"),
        ),
        sa.CheckConstraint(
            "reminder_policy IN ('single', 'per_segment', 'none')", name=op.f("ck_services_reminder_policy")
        ),
        sa.CheckConstraint("price IS NULL OR price >= 0", name=op.f("ck_services_price")),
        sa.ForeignKeyConstraint(["branch_id"], ["branches.id"], name=op.f("fk_services_branch_id_branches")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_services_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    op.create_index(op.f("ix_services_branch_id"), "services", ["branch_id"], unique=False)
    op.create_index(op.f("ix_services_company_id"), "services", ["company_id"], unique=False)
    op.create_table(
        "staff",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("branch_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("aliases", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("calcom_user_id", sa.BigInteger(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branches.id"], name=op.f("fk_staff_branch_id_branches")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_staff_company_id_companies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
    )
    op.create_index(op.f("ix_staff_branch_id"), "staff", ["branch_id"], unique=False)
    op.create_index(op.f("ix_staff_company_id"), "staff", ["company_id"], unique=False)
    op.create_table(
        "appointments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("branch_id", sa.BigInteger(), nullable=False),
        sa.Column("composite_uid", sa.UUID(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("confirmation_code", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "source IN ('api', 'voice', 'calcom', 'admin')", name=op.f("ck_appointments_source")
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_appointments_time_order")),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_appointments_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_appointments_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_appointments_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_appointments_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint(
            "company_id", "confirmation_code", name=op.f("uq_appointments_company_id_confirmation_code")
        ),
        sa.UniqueConstraint("composite_uid", name=op.f("uq_appointments_composite_uid")),
    )
    op.create_index(op.f("ix_appointments_company_id"), "appointments", ["company_id"], unique=False)
    op.create_index(
        "ix_appointments_company_id_starts_at", "appointments", ["company_id", "starts_at"], unique=False
    )
    op.create_index(op.f("ix_appointments_customer_id"), "appointments", ["customer_id"], unique=False)
    op.create_index(op.f("ix_appointments_service_id"), "appointments", ["service_id"], unique=False)
    op.create_table(
        "calcom_event_map",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("branch_id", sa.BigInteger(), nullable=False),
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("segment_key", sa.String(length=16), nullable=False),
        sa.Column("staff_id", sa.BigInteger(), nullable=False),
        sa.Column("event_type_id", sa.BigInteger(), nullable=True),
        sa.Column("slug", sa.String(length=128), nullable=False),
        sa.Column("sync_status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sync_error", sa.Text(), nullable=True),
        sa.Column("drift", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("drift_detected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "sync_status IN ('pending', 'synced', 'error', 'drifted', 'deleting')",
            name=op.f("ck_calcom_event_map_sync_status"),
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_calcom_event_map_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_calcom_event_map_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_calcom_event_map_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_calcom_event_map_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calcom_event_map")),
        sa.UniqueConstraint(
            "service_id",
            "segment_key",
            "staff_id",
            name=op.f("uq_calcom_event_map_service_id_segment_key_staff_id"),
        ),
    )
    op.create_index(op.f("ix_calcom_event_map_company_id"), "calcom_event_map", ["company_id"], unique=False)
    op.create_index(op.f("ix_calcom_event_map_service_id"), "calcom_event_map", ["service_id"], unique=False)
    op.create_table(
        "staff_services",
        sa.Column("staff_id", sa.BigInteger(), nullable=False),
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_staff_services_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_staff_services_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_staff_services_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("staff_id", "service_id", name=op.f("pk_staff_services")),
    )
    op.create_index(op.f("ix_staff_services_company_id"), "staff_services", ["company_id"], unique=False)
    op.create_index(op.f("ix_staff_services_service_id"), "staff_services", ["service_id"], unique=False)
    op.create_table(
        "appointment_slots",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("appointment_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("segment_key", sa.String(length=16), nullable=False),
        sa.Column("staff_id", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("calcom_booking_uid", sa.String(length=128), nullable=True),
        sa.Column("calcom_event_type_id", sa.BigInteger(), nullable=True),
        postgresql.ExcludeConstraint(
            (sa.column("staff_id"), "="),
            (sa.text("tstzrange(starts_at, ends_at, '[)')"), "&&"),
            where=sa.text("active"),
            using="gist",
            name="ex_appointment_slots_staff_overlap",
        ),
        sa.CheckConstraint("kind IN ('segment', 'pause')", name=op.f("ck_appointment_slots_kind")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_appointment_slots_time_order")),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_appointment_slots_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_appointment_slots_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_appointment_slots_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_slots")),
        sa.UniqueConstraint(
            "appointment_id",
            "kind",
            "position",
            name=op.f("uq_appointment_slots_appointment_id_kind_position"),
        ),
    )
    op.create_index(
        op.f("ix_appointment_slots_appointment_id"), "appointment_slots", ["appointment_id"], unique=False
    )
    op.create_index(
        op.f("ix_appointment_slots_calcom_booking_uid"),
        "appointment_slots",
        ["calcom_booking_uid"],
        unique=False,
    )
    op.create_index(
        op.f("ix_appointment_slots_company_id"), "appointment_slots", ["company_id"], unique=False
    )
    op.create_index(
        "ix_appointment_slots_staff_id_starts_at",
        "appointment_slots",
        ["staff_id", "starts_at"],
        unique=False,
    )


def downgrade() -> None:
    # The btree_gist extension stays: other schemas in the database may use it.
    op.drop_index("ix_appointment_slots_staff_id_starts_at", table_name="appointment_slots")
    op.drop_index(op.f("ix_appointment_slots_company_id"), table_name="appointment_slots")
    op.drop_index(op.f("ix_appointment_slots_calcom_booking_uid"), table_name="appointment_slots")
    op.drop_index(op.f("ix_appointment_slots_appointment_id"), table_name="appointment_slots")
    op.drop_table("appointment_slots")
    op.drop_index(op.f("ix_staff_services_service_id"), table_name="staff_services")
    op.drop_index(op.f("ix_staff_services_company_id"), table_name="staff_services")
    op.drop_table("staff_services")
    op.drop_index(op.f("ix_calcom_event_map_service_id"), table_name="calcom_event_map")
    op.drop_index(op.f("ix_calcom_event_map_company_id"), table_name="calcom_event_map")
    op.drop_table("calcom_event_map")
    op.drop_index(op.f("ix_appointments_service_id"), table_name="appointments")
    op.drop_index(op.f("ix_appointments_customer_id"), table_name="appointments")
    op.drop_index("ix_appointments_company_id_starts_at", table_name="appointments")
    op.drop_index(op.f("ix_appointments_company_id"), table_name="appointments")
    op.drop_table("appointments")
    op.drop_index(op.f("ix_staff_company_id"), table_name="staff")
    op.drop_index(op.f("ix_staff_branch_id"), table_name="staff")
    op.drop_table("staff")
    op.drop_index(op.f("ix_services_company_id"), table_name="services")
    op.drop_index(op.f("ix_services_branch_id"), table_name="services")
    op.drop_table("services")
    op.drop_index("ix_customers_company_id_email", table_name="customers")
    op.drop_index(op.f("ix_customers_company_id"), table_name="customers")
    op.drop_table("customers")
    op.drop_index(op.f("ix_branches_company_id"), table_name="branches")
    op.drop_table("branches")
    op.drop_index(op.f("ix_api_keys_company_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("companies")
