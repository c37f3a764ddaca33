"""bot accounts and which groups each is in: group messages go out only through an account in the group

Seeded from chat_group.bot_id (the account each group's last message came through).

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("bot_account",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("platform", sa.String(length=16), nullable=False),
    sa.Column("bot_id", sa.String(length=32), nullable=False),
    sa.Column("first_seen_at", sa.DateTime(), nullable=False),
    sa.Column("groups_listed_at", sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("platform", "bot_id")
    )
    op.create_table("bot_membership",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("platform", sa.String(length=16), nullable=False),
    sa.Column("group_id", sa.String(length=32), nullable=False),
    sa.Column("bot_id", sa.String(length=32), nullable=False),
    sa.Column("source", sa.String(length=16), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("platform", "group_id", "bot_id")
    )
    op.create_index(op.f("ix_bot_membership_bot_id"), "bot_membership", ["bot_id"], unique=False)
    op.execute("INSERT INTO bot_account (platform, bot_id, first_seen_at) "
               "SELECT platform, bot_id, MIN(created_at) FROM chat_group WHERE bot_id IS NOT NULL "
               "GROUP BY platform, bot_id")
    op.execute("INSERT INTO bot_membership (platform, group_id, bot_id, source, created_at) "
               "SELECT platform, group_id, bot_id, 'message', created_at FROM chat_group WHERE bot_id IS NOT NULL")


def downgrade() -> None:
    op.drop_index(op.f("ix_bot_membership_bot_id"), table_name="bot_membership")
    op.drop_table("bot_membership")
    op.drop_table("bot_account")
