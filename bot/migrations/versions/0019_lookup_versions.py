"""lookup_version: the version of each table intake keeps in memory (chat_group, staff_member, chat_binding),
raised by every change to it, so each instance sharing the database forgets its copy within
`LOOKUPS_REFRESH_SECONDS`. The rows exist from the start, so two writers lock a row instead of racing to
create it.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    versions = op.create_table(
        "lookup_version",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind"),
    )
    op.bulk_insert(versions, [{"kind": kind, "version": 0} for kind in ("chat_group", "staff_member", "chat_binding")])


def downgrade() -> None:
    op.drop_table("lookup_version")
