"""knowledge_entry and knowledge_state: the knowledge base stored where every instance reads it

The YAML files under knowledge/entries/ become the seed (loaded at start into an empty store, and
new files of a later release added); curation writes here and raises the version each instance
watches. The state row exists from the start, so two instances starting at once lock it instead of
racing to create it.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_entry",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("column", sa.String(length=16), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("similar", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("personal_answer", sa.Text(), nullable=True),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("reviewed", sa.Date(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["staff_member.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("knowledge_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_knowledge_entry_column"), ["column"], unique=False)
    state = op.create_table(
        "knowledge_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(state, [{"id": 1, "version": 0, "changed_at": None}])


def downgrade() -> None:
    op.drop_table("knowledge_state")
    with op.batch_alter_table("knowledge_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledge_entry_column"))
    op.drop_table("knowledge_entry")
