"""staff alerts beyond QQ: a staff member's mobile (a WeCom or DingTalk robot @-mentions by it) and the
mobiles an outbox row to a robot mentions

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_member") as batch:
        batch.add_column(sa.Column("mobile", sa.String(length=20), nullable=True))
    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(sa.Column("mentions", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("mentions")
    with op.batch_alter_table("staff_member") as batch:
        batch.drop_column("mobile")
