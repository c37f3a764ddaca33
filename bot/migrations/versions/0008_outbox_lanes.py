"""outbox lanes: lane, kind, pledge_id, mention_user_id, and the sent-message index

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        # rows queued before lanes existed go last, as a broadcast would
        batch.add_column(sa.Column("lane", sa.Integer(), server_default="3", nullable=False))
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("pledge_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("mention_user_id", sa.String(length=32), nullable=True))
        batch.create_foreign_key("fk_outbox_message_pledge_id_pledge", "pledge", ["pledge_id"], ["id"])
        batch.create_index("ix_outbox_message_pledge_id", ["pledge_id"], unique=False)
        batch.create_index("ix_outbox_sent_message", ["target_id", "sent_message_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_index("ix_outbox_sent_message")
        batch.drop_index("ix_outbox_message_pledge_id")
        batch.drop_constraint("fk_outbox_message_pledge_id_pledge", type_="foreignkey")
        batch.drop_column("mention_user_id")
        batch.drop_column("pledge_id")
        batch.drop_column("kind")
        batch.drop_column("lane")
