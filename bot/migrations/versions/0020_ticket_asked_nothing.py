"""ticket.asked_nothing: staff marked the ticket as chatter the bot took for a request (不是诉求); the
month's workload does not count it as a request.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("asked_nothing", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_index("ix_ticket_asked_nothing", ["asked_nothing"])


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.drop_index("ix_ticket_asked_nothing")
        batch.drop_column("asked_nothing")
