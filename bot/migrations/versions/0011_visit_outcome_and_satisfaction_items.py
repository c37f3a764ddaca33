"""visit outcome and photo link; the callback's satisfaction items (seed 003 section 八)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ITEMS = ("supply_satisfaction", "manager_satisfaction", "handling_satisfaction")


def upgrade() -> None:
    with op.batch_alter_table("visit_record") as batch:
        batch.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("photo_url", sa.String(length=500), nullable=True))
    with op.batch_alter_table("callback_record") as batch:
        for item in ITEMS:
            batch.add_column(sa.Column(item, sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callback_record") as batch:
        for item in reversed(ITEMS):
            batch.drop_column(item)
    with op.batch_alter_table("visit_record") as batch:
        batch.drop_column("photo_url")
        batch.drop_column("outcome")
