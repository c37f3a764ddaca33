"""media file: pictures staff upload (a launch's image), in the database so every instance serves them

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("media_file",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("content_type", sa.String(length=32), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.Column("created_by_staff_id", sa.Integer(), nullable=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["created_by_staff_id"], ["staff_member.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("sha256")
    )


def downgrade() -> None:
    op.drop_table("media_file")
