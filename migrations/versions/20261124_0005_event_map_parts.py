"""event map parts: a held pause gets its own hidden event type

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 10:00:00

A held pause (policy blocked/never) used to be the segment event type's after-event buffer, which nothing can
take back; it is now its own Cal.com booking of a "pause" event type, so releasing it is one cancellation.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "calcom_event_map",
        sa.Column("part", sa.String(length=8), server_default="segment", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_calcom_event_map_part"), "calcom_event_map", "part IN ('segment', 'pause')"
    )
    op.drop_constraint(
        op.f("uq_calcom_event_map_service_id_segment_key_staff_id"), "calcom_event_map", type_="unique"
    )
    op.create_unique_constraint(
        op.f("uq_calcom_event_map_service_id_segment_key_part_staff_id"),
        "calcom_event_map",
        ["service_id", "segment_key", "part", "staff_id"],
    )


def downgrade() -> None:
    op.execute("DELETE FROM calcom_event_map WHERE part = 'pause'")
    op.drop_constraint(
        op.f("uq_calcom_event_map_service_id_segment_key_part_staff_id"), "calcom_event_map", type_="unique"
    )
    op.create_unique_constraint(
        op.f("uq_calcom_event_map_service_id_segment_key_staff_id"),
        "calcom_event_map",
        ["service_id", "segment_key", "staff_id"],
    )
    op.drop_constraint(op.f("ck_calcom_event_map_part"), "calcom_event_map", type_="check")
    op.drop_column("calcom_event_map", "part")
