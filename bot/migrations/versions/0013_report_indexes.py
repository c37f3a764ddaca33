"""report indexes: a person's rounds of a period (the reports scoped to one staff member)

A person's compliance and workload read the rounds they owned that started in the period; without
this index they read every round of the period (bench/reports_month.py: 390,000 rounds in a month).

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pledge_round", schema=None) as batch_op:
        batch_op.create_index("ix_pledge_round_owner_period", ["owner_staff_id", "started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pledge_round", schema=None) as batch_op:
        batch_op.drop_index("ix_pledge_round_owner_period")
