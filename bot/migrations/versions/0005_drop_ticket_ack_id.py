"""drop ticket.ack_message_id: the acknowledgement's ticket_message row already records it

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("ack_message_id")


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("ack_message_id", sa.String(length=64), nullable=True))
