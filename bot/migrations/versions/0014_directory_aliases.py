"""directory aliases: header spellings and 业态 names added in the console, read by every instance's import

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("directory_alias",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("target", sa.String(length=32), nullable=False),
    sa.Column("alias", sa.String(length=32), nullable=False),
    sa.Column("alias_key", sa.String(length=32), nullable=False),
    sa.Column("created_by_staff_id", sa.Integer(), nullable=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["created_by_staff_id"], ["staff_member.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("kind", "alias_key")
    )


def downgrade() -> None:
    op.drop_table("directory_alias")
