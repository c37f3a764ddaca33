"""unticketed_line: a retailer's group line the bot opened no ticket for, kept a week so staff can make a ticket of
one the bot misread (建单 in the group or on the console's 未建单 page).

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("unticketed_line",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("platform", sa.String(length=16), nullable=False),
    sa.Column("chat_group_id", sa.Integer(), nullable=False),
    sa.Column("message_id", sa.String(length=64), nullable=True),
    sa.Column("sender_user_id", sa.String(length=32), nullable=False),
    sa.Column("sender_name", sa.String(length=64), nullable=True),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("reason", sa.String(length=16), nullable=False),
    sa.Column("said_at", sa.DateTime(), nullable=False),
    sa.Column("ticket_id", sa.Integer(), nullable=True),
    sa.Column("ticketed_by", sa.Integer(), nullable=True),
    sa.Column("ticketed_at", sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(["chat_group_id"], ["chat_group.id"]),
    sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
    sa.ForeignKeyConstraint(["ticketed_by"], ["staff_member.id"]),
    sa.PrimaryKeyConstraint("id")
    )
    op.create_index("ix_unticketed_line_message", "unticketed_line", ["chat_group_id", "message_id"], unique=False)
    op.create_index(op.f("ix_unticketed_line_said_at"), "unticketed_line", ["said_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_unticketed_line_said_at"), table_name="unticketed_line")
    op.drop_index("ix_unticketed_line_message", table_name="unticketed_line")
    op.drop_table("unticketed_line")
