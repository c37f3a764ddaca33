"""pledge clocks: warning, breach, escalation level, pause, and the next moment to check

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = ("started_at", "warn_at", "warned_at", "breached_at", "next_check_at", "paused_at")


def upgrade() -> None:
    with op.batch_alter_table("pledge") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("remaining_seconds", sa.Float(), nullable=True))
        batch.drop_index("ix_pledge_due")
        batch.create_index("ix_pledge_next_check", ["state", "next_check_at"])
    # Pledges opened before this revision: their next check is their deadline.
    op.execute("UPDATE pledge SET started_at = created_at, next_check_at = due_at WHERE state = 'pending'")


def downgrade() -> None:
    with op.batch_alter_table("pledge") as batch:
        batch.drop_index("ix_pledge_next_check")
        batch.create_index("ix_pledge_due", ["state", "due_at"])
        for name in (*COLUMNS, "escalation_level", "remaining_seconds"):
            batch.drop_column(name)
