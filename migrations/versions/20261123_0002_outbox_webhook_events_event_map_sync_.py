"""outbox, webhook events, event map sync state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 23:48:25.190064
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column(
            "payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("generation", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "available_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_outbox_company_id_companies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_due", "outbox", ["available_at"], unique=False, postgresql_where=sa.text("done_at IS NULL")
    )
    op.create_index(
        "uq_outbox_pending_kind_dedupe_key",
        "outbox",
        ["kind", "dedupe_key"],
        unique=True,
        postgresql_where=sa.text("done_at IS NULL AND dedupe_key IS NOT NULL"),
    )
    op.create_table(
        "calcom_webhook_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("booking_uid", sa.String(length=128), nullable=True),
        sa.Column("company_id", sa.BigInteger(), nullable=True),
        sa.Column("appointment_id", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=64), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_calcom_webhook_events_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_calcom_webhook_events_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calcom_webhook_events")),
        sa.UniqueConstraint("body_sha256", name=op.f("uq_calcom_webhook_events_body_sha256")),
    )
    op.create_index(
        op.f("ix_calcom_webhook_events_booking_uid"), "calcom_webhook_events", ["booking_uid"], unique=False
    )
    op.add_column("appointments", sa.Column("attention_reason", sa.Text(), nullable=True))
    op.add_column("appointments", sa.Column("attention_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column("calcom_event_map", sa.Column("title", sa.String(length=255), nullable=True))
    op.add_column(
        "calcom_event_map", sa.Column("synced_config", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("calcom_event_map", "synced_config")
    op.drop_column("calcom_event_map", "title")
    op.drop_column("appointments", "attention_since")
    op.drop_column("appointments", "attention_reason")
    op.drop_index(op.f("ix_calcom_webhook_events_booking_uid"), table_name="calcom_webhook_events")
    op.drop_table("calcom_webhook_events")
    op.drop_index(
        "uq_outbox_pending_kind_dedupe_key",
        table_name="outbox",
        postgresql_where=sa.text("done_at IS NULL AND dedupe_key IS NOT NULL"),
    )
    op.drop_index("ix_outbox_due", table_name="outbox", postgresql_where=sa.text("done_at IS NULL"))
    op.drop_table("outbox")
