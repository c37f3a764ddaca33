"""pledge ledger: each run of a pledge"s clock (rounds), its pauses, breaches and their corrections

Existing pledges get one round each from what their row still holds (their current clock), and a
breach row charged to their owner when they breached; the working time of those old rounds is
unknown (NULL) and the reports leave it out.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("pledge_round",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("pledge_id", sa.Integer(), nullable=False),
    sa.Column("ticket_id", sa.Integer(), nullable=False),
    sa.Column("round_no", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("reason", sa.String(length=32), nullable=False),
    sa.Column("category", sa.String(length=16), nullable=False),
    sa.Column("chat_group_id", sa.Integer(), nullable=True),
    sa.Column("district", sa.String(length=64), nullable=True),
    sa.Column("owner_staff_id", sa.Integer(), nullable=True),
    sa.Column("started_at", sa.DateTime(), nullable=False),
    sa.Column("due_at", sa.DateTime(), nullable=False),
    sa.Column("warned_at", sa.DateTime(), nullable=True),
    sa.Column("breached_at", sa.DateTime(), nullable=True),
    sa.Column("escalation_level", sa.Integer(), nullable=False),
    sa.Column("ended_at", sa.DateTime(), nullable=True),
    sa.Column("outcome", sa.String(length=16), nullable=False),
    sa.Column("outcome_reason", sa.String(length=128), nullable=True),
    sa.Column("met_by_staff_id", sa.Integer(), nullable=True),
    sa.Column("by_bot", sa.Boolean(), nullable=False),
    sa.Column("business_seconds", sa.Float(), nullable=True),
    sa.Column("paused_seconds", sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(["chat_group_id"], ["chat_group.id"], ),
    sa.ForeignKeyConstraint(["met_by_staff_id"], ["staff_member.id"], ),
    sa.ForeignKeyConstraint(["owner_staff_id"], ["staff_member.id"], ),
    sa.ForeignKeyConstraint(["pledge_id"], ["pledge.id"], ),
    sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], ),
    sa.PrimaryKeyConstraint("id"),
    sa.UniqueConstraint("pledge_id", "round_no")
    )
    with op.batch_alter_table("pledge_round", schema=None) as batch_op:
        batch_op.create_index("ix_pledge_round_period", ["started_at", "kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_pledge_round_ticket_id"), ["ticket_id"], unique=False)

    op.create_table("pledge_breach",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("round_id", sa.Integer(), nullable=False),
    sa.Column("ticket_id", sa.Integer(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("staff_id", sa.Integer(), nullable=True),
    sa.Column("due_at", sa.DateTime(), nullable=False),
    sa.Column("breached_at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["round_id"], ["pledge_round.id"], ),
    sa.ForeignKeyConstraint(["staff_id"], ["staff_member.id"], ),
    sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("pledge_breach", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pledge_breach_breached_at"), ["breached_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_pledge_breach_round_id"), ["round_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pledge_breach_staff_id"), ["staff_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pledge_breach_ticket_id"), ["ticket_id"], unique=False)

    op.create_table("pledge_pause",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("round_id", sa.Integer(), nullable=False),
    sa.Column("ticket_id", sa.Integer(), nullable=False),
    sa.Column("paused_at", sa.DateTime(), nullable=False),
    sa.Column("paused_by_staff_id", sa.Integer(), nullable=True),
    sa.Column("reason", sa.String(length=200), nullable=True),
    sa.Column("resumed_at", sa.DateTime(), nullable=True),
    sa.Column("resumed_by_staff_id", sa.Integer(), nullable=True),
    sa.Column("resume_reason", sa.String(length=200), nullable=True),
    sa.Column("business_seconds", sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(["paused_by_staff_id"], ["staff_member.id"], ),
    sa.ForeignKeyConstraint(["resumed_by_staff_id"], ["staff_member.id"], ),
    sa.ForeignKeyConstraint(["round_id"], ["pledge_round.id"], ),
    sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("pledge_pause", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pledge_pause_round_id"), ["round_id"], unique=False)

    op.create_table("breach_correction",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("breach_id", sa.Integer(), nullable=False),
    sa.Column("excused", sa.Boolean(), nullable=False),
    sa.Column("reason", sa.String(length=200), nullable=False),
    sa.Column("by_staff_id", sa.Integer(), nullable=False),
    sa.Column("at", sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(["breach_id"], ["pledge_breach.id"], ),
    sa.ForeignKeyConstraint(["by_staff_id"], ["staff_member.id"], ),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("breach_correction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_breach_correction_breach_id"), ["breach_id"], unique=False)

    with op.batch_alter_table("callback_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_round_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("visit_round_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reply_staff_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("visit_staff_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reply_kept_in_time", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("visit_kept", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("chat_group_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("district", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_callback_record_recorded_at"), ["recorded_at"], unique=False)
        batch_op.create_foreign_key("fk_callback_record_reply_round_id", "pledge_round", ["reply_round_id"], ["id"])
        batch_op.create_foreign_key("fk_callback_record_visit_round_id", "pledge_round", ["visit_round_id"], ["id"])
        batch_op.create_foreign_key("fk_callback_record_reply_staff_id", "staff_member", ["reply_staff_id"], ["id"])
        batch_op.create_foreign_key("fk_callback_record_visit_staff_id", "staff_member", ["visit_staff_id"], ["id"])
        batch_op.create_foreign_key("fk_callback_record_chat_group_id", "chat_group", ["chat_group_id"], ["id"])

    # what the pledge rows still hold becomes their first round
    op.execute("""
        INSERT INTO pledge_round (pledge_id, ticket_id, round_no, kind, reason, category, chat_group_id, district,
            owner_staff_id, started_at, due_at, warned_at, breached_at, escalation_level, ended_at, outcome,
            outcome_reason, met_by_staff_id, by_bot, business_seconds, paused_seconds)
        SELECT p.id, p.ticket_id, 1, p.kind, 'before ledger', t.category, t.chat_group_id,
            COALESCE(g.district, r.district), p.owner_staff_id, COALESCE(p.started_at, p.created_at),
            COALESCE(p.due_at, p.created_at), p.warned_at, p.breached_at, p.escalation_level,
            CASE WHEN p.state IN ('pending', 'paused') THEN NULL ELSE COALESCE(p.met_at, t.closed_at, t.updated_at) END,
            CASE WHEN p.state = 'paused' THEN 'running' WHEN p.state = 'pending' THEN 'running' ELSE p.state END,
            p.state_reason, p.met_by_staff_id, FALSE, NULL, 0
        FROM pledge p JOIN ticket t ON t.id = p.ticket_id
        LEFT JOIN chat_group g ON g.id = t.chat_group_id
        LEFT JOIN retailer r ON r.id = t.retailer_id""")
    op.execute("""
        INSERT INTO pledge_breach (round_id, ticket_id, kind, staff_id, due_at, breached_at)
        SELECT pr.id, pr.ticket_id, pr.kind, pr.owner_staff_id, pr.due_at, pr.breached_at
        FROM pledge_round pr WHERE pr.breached_at IS NOT NULL""")
    # the calls already made asked about those rounds
    for kind in ("reply", "visit"):
        op.execute(f"""
            UPDATE callback_record SET {kind}_round_id = (
                SELECT pr.id FROM pledge_round pr WHERE pr.ticket_id = callback_record.ticket_id
                AND pr.kind = '{kind}')""")
    op.execute("""
        UPDATE callback_record SET
            reply_staff_id = (SELECT met_by_staff_id FROM pledge_round WHERE id = callback_record.reply_round_id),
            reply_kept_in_time = (SELECT outcome = 'met' AND breached_at IS NULL FROM pledge_round
                                  WHERE id = callback_record.reply_round_id),
            visit_staff_id = (SELECT met_by_staff_id FROM pledge_round WHERE id = callback_record.visit_round_id),
            visit_kept = (SELECT outcome = 'met' FROM pledge_round WHERE id = callback_record.visit_round_id),
            chat_group_id = (SELECT t.chat_group_id FROM ticket t WHERE t.id = callback_record.ticket_id),
            district = (SELECT COALESCE(g.district, r.district) FROM ticket t
                        LEFT JOIN chat_group g ON g.id = t.chat_group_id
                        LEFT JOIN retailer r ON r.id = t.retailer_id WHERE t.id = callback_record.ticket_id)""")


def downgrade() -> None:
    with op.batch_alter_table("callback_record", schema=None) as batch_op:
        batch_op.drop_constraint("fk_callback_record_chat_group_id", type_="foreignkey")
        batch_op.drop_constraint("fk_callback_record_visit_staff_id", type_="foreignkey")
        batch_op.drop_constraint("fk_callback_record_reply_staff_id", type_="foreignkey")
        batch_op.drop_constraint("fk_callback_record_visit_round_id", type_="foreignkey")
        batch_op.drop_constraint("fk_callback_record_reply_round_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_callback_record_recorded_at"))
        for column in ("district", "chat_group_id", "visit_kept", "reply_kept_in_time", "visit_staff_id",
                       "reply_staff_id", "visit_round_id"):
            batch_op.drop_column(column)
        batch_op.drop_column("reply_round_id")

    with op.batch_alter_table("breach_correction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_breach_correction_breach_id"))

    op.drop_table("breach_correction")
    with op.batch_alter_table("pledge_pause", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pledge_pause_round_id"))

    op.drop_table("pledge_pause")
    with op.batch_alter_table("pledge_breach", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pledge_breach_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_pledge_breach_staff_id"))
        batch_op.drop_index(batch_op.f("ix_pledge_breach_round_id"))
        batch_op.drop_index(batch_op.f("ix_pledge_breach_breached_at"))

    op.drop_table("pledge_breach")
    with op.batch_alter_table("pledge_round", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pledge_round_ticket_id"))
        batch_op.drop_index("ix_pledge_round_period")

    op.drop_table("pledge_round")
