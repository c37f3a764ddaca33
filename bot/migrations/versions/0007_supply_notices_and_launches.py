"""supply notices, products and launches, broadcasts and their deliveries, interest

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("broadcast",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("subject", sa.String(length=16), nullable=False),
    sa.Column("subject_id", sa.Integer(), nullable=False),
    sa.Column("purpose", sa.String(length=16), nullable=False),
    sa.Column("revision", sa.Integer(), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_broadcast_subject_id"), ["subject_id"], unique=False)

    op.create_table("product",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(length=64), nullable=False),
    sa.Column("brand", sa.String(length=32), nullable=False),
    sa.Column("spec", sa.String(length=64), nullable=True),
    sa.Column("aliases", sa.JSON(), nullable=False),
    sa.Column("wholesale_price", sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column("retail_price", sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column("price_class", sa.String(length=1), nullable=True),
    sa.Column("manufacturer", sa.String(length=64), nullable=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("name")
    )
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_product_brand"), ["brand"], unique=False)

    op.create_table("delivery",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("broadcast_id", sa.Integer(), nullable=False),
    sa.Column("chat_group_id", sa.Integer(), nullable=False),
    sa.Column("parts", sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(["broadcast_id"], ["broadcast.id"], ),
    sa.ForeignKeyConstraint(["chat_group_id"], ["chat_group.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("broadcast_id", "chat_group_id")
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_broadcast_id"), ["broadcast_id"], unique=False)

    op.create_table("launch",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("product_id", sa.Integer(), nullable=False),
    sa.Column("launch_date", sa.Date(), nullable=False),
    sa.Column("selling_points", sa.Text(), nullable=False),
    sa.Column("image_url", sa.String(length=512), nullable=True),
    sa.Column("source", sa.String(length=16), nullable=False),
    sa.Column("approval", sa.String(length=16), nullable=False),
    sa.Column("approved_by_staff_id", sa.Integer(), nullable=True),
    sa.Column("approved_at", sa.DateTime(), nullable=True),
    sa.Column("districts", sa.JSON(), nullable=False),
    sa.Column("group_ids", sa.JSON(), nullable=False),
    sa.Column("created_by_staff_id", sa.Integer(), nullable=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["approved_by_staff_id"], ["staff_member.id"], ),
    sa.ForeignKeyConstraint(["created_by_staff_id"], ["staff_member.id"], ),
    sa.ForeignKeyConstraint(["product_id"], ["product.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("launch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_launch_product_id"), ["product_id"], unique=False)

    op.create_table("supply_notice",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("title", sa.String(length=128), nullable=False),
    sa.Column("period_start", sa.Date(), nullable=False),
    sa.Column("period_end", sa.Date(), nullable=False),
    sa.Column("order_opens_at", sa.DateTime(), nullable=False),
    sa.Column("order_closes_at", sa.DateTime(), nullable=False),
    sa.Column("notes", sa.Text(), nullable=True),
    sa.Column("districts", sa.JSON(), nullable=False),
    sa.Column("group_ids", sa.JSON(), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("publish_at", sa.DateTime(), nullable=True),
    sa.Column("published_at", sa.DateTime(), nullable=True),
    sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
    sa.Column("revision", sa.Integer(), nullable=False),
    sa.Column("created_by_staff_id", sa.Integer(), nullable=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["created_by_staff_id"], ["staff_member.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("supply_notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supply_notice_publish_at"), ["publish_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_supply_notice_state"), ["state"], unique=False)

    op.create_table("interest",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("subject", sa.String(length=16), nullable=False),
    sa.Column("subject_id", sa.Integer(), nullable=False),
    sa.Column("product_id", sa.Integer(), nullable=True),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("chat_group_id", sa.Integer(), nullable=True),
    sa.Column("platform", sa.String(length=16), nullable=False),
    sa.Column("chat_user_id", sa.String(length=32), nullable=False),
    sa.Column("retailer_id", sa.Integer(), nullable=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["chat_group_id"], ["chat_group.id"], ),
    sa.ForeignKeyConstraint(["product_id"], ["product.id"], ),
    sa.ForeignKeyConstraint(["retailer_id"], ["retailer.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("interest", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_interest_subject_id"), ["subject_id"], unique=False)

    op.create_table("publicity_post",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("launch_id", sa.Integer(), nullable=False),
    sa.Column("send_at", sa.DateTime(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("note", sa.String(length=256), nullable=True),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("sent_at", sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(["launch_id"], ["launch.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("publicity_post", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_publicity_post_launch_id"), ["launch_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_publicity_post_send_at"), ["send_at"], unique=False)

    op.create_table("supply_item",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("notice_id", sa.Integer(), nullable=False),
    sa.Column("product_id", sa.Integer(), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("quotas", sa.JSON(), nullable=False),
    sa.Column("scarce", sa.Boolean(), nullable=False),
    sa.Column("note", sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(["notice_id"], ["supply_notice.id"], ),
    sa.ForeignKeyConstraint(["product_id"], ["product.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("notice_id", "product_id")
    )
    with op.batch_alter_table("supply_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supply_item_notice_id"), ["notice_id"], unique=False)

    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image_url", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("via_group_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("delivery_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_message_delivery_id"), ["delivery_id"], unique=False)
        batch_op.create_foreign_key("fk_outbox_message_delivery_id", "delivery", ["delivery_id"], ["id"])



def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint("fk_outbox_message_delivery_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_message_delivery_id"))
        batch_op.drop_column("delivery_id")
        batch_op.drop_column("via_group_id")
        batch_op.drop_column("image_url")

    with op.batch_alter_table("supply_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supply_item_notice_id"))

    op.drop_table("supply_item")
    with op.batch_alter_table("publicity_post", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_publicity_post_send_at"))
        batch_op.drop_index(batch_op.f("ix_publicity_post_launch_id"))

    op.drop_table("publicity_post")
    with op.batch_alter_table("interest", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interest_subject_id"))

    op.drop_table("interest")
    with op.batch_alter_table("supply_notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supply_notice_state"))
        batch_op.drop_index(batch_op.f("ix_supply_notice_publish_at"))

    op.drop_table("supply_notice")
    with op.batch_alter_table("launch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_launch_product_id"))

    op.drop_table("launch")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_broadcast_id"))

    op.drop_table("delivery")
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_brand"))

    op.drop_table("product")
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcast_subject_id"))

    op.drop_table("broadcast")
