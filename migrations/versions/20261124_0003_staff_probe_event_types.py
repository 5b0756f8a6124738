"""staff probe event types

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 00:20:23.762467
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calcom_staff_probes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.BigInteger(), nullable=False),
        sa.Column("staff_id", sa.BigInteger(), nullable=False),
        sa.Column("team_id", sa.BigInteger(), nullable=False),
        sa.Column("event_type_id", sa.BigInteger(), nullable=True),
        sa.Column("slug", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_calcom_staff_probes_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_calcom_staff_probes_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calcom_staff_probes")),
        sa.UniqueConstraint("staff_id", name=op.f("uq_calcom_staff_probes_staff_id")),
    )
    op.create_index(
        op.f("ix_calcom_staff_probes_company_id"), "calcom_staff_probes", ["company_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_calcom_staff_probes_company_id"), table_name="calcom_staff_probes")
    op.drop_table("calcom_staff_probes")
