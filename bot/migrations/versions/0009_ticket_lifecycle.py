"""ticket lifecycle: private-chat tickets, the latest request, why a pledge was not kept

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("platform", sa.String(length=16), nullable=False, server_default="qq"))
        batch.add_column(sa.Column("latest_text", sa.Text(), nullable=True))
        batch.alter_column("chat_group_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("ticket_message") as batch:
        batch.alter_column("chat_group_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("pledge") as batch:
        batch.add_column(sa.Column("state_reason", sa.String(length=128), nullable=True))
    # the server default only filled the existing rows; the models give every new row its platform
    with op.batch_alter_table("ticket") as batch:
        batch.alter_column("platform", existing_type=sa.String(length=16), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("pledge") as batch:
        batch.drop_column("state_reason")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("latest_text")
        batch.drop_column("platform")
