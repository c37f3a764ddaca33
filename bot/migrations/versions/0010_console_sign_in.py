"""console sign-in: staff web console sessions and one-time login links sent in private chat

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("console_session",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("token_hash", sa.String(length=64), nullable=False),
    sa.Column("staff_id", sa.Integer(), nullable=False),
    sa.Column("csrf_token", sa.String(length=64), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("expires_at", sa.DateTime(), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(), nullable=False),
    sa.Column("ended_at", sa.DateTime(), nullable=True),
    sa.Column("address", sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(["staff_id"], ["staff_member.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("token_hash")
    )
    with op.batch_alter_table("console_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_console_session_staff_id"), ["staff_id"], unique=False)

    op.create_table("login_link",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("code_hash", sa.String(length=64), nullable=False),
    sa.Column("staff_id", sa.Integer(), nullable=False),
    sa.Column("platform", sa.String(length=16), nullable=False),
    sa.Column("chat_user_id", sa.String(length=32), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("expires_at", sa.DateTime(), nullable=False),
    sa.Column("used_at", sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(["staff_id"], ["staff_member.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("code_hash")
    )
    with op.batch_alter_table("login_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_link_staff_id"), ["staff_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_link_staff_id"))
    op.drop_table("login_link")
    with op.batch_alter_table("console_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_session_staff_id"))
    op.drop_table("console_session")
