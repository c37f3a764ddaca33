"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel


def test_the_migrated_store_matches_the_models(runtime):
    with runtime.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_pledges_stored_before_the_ledger_get_a_round_and_their_breach(tmp_path):
    """Upgrading a store from 0011 keeps what each pledge row holds as its first round."""
    from alembic import command
    from sqlalchemy import text

    from bot.db import alembic_config, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(engine)
    command.upgrade(config, "0011")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO chat_group (id, platform, group_id, district, active, created_at) "
            "VALUES (1, 'qq', '900001', '芙蓉区', 1, '2026-11-02 02:00:00')"))
        connection.execute(text(
            "INSERT INTO staff_member (id, name, roles, active, created_at) "
            "VALUES (7, '客服', '[\"agent\"]', 1, '2026-11-02 02:00:00')"))
        for ticket_id in (1, 2):
            connection.execute(text(
                "INSERT INTO ticket (id, platform, chat_group_id, sender_user_id, category, status, trading_flag, "
                "text, created_at, updated_at, last_message_at) VALUES (:id, 'qq', 1, '10001', 'terminal', 'open', "
                "0, '终端开不了机', '2026-11-02 02:00:00', '2026-11-02 02:00:00', '2026-11-02 02:00:00')"),
                {"id": ticket_id})
        connection.execute(text(
            "INSERT INTO pledge (id, ticket_id, kind, owner_role, owner_staff_id, state, due_at, met_at, "
            "met_by_staff_id, created_at, started_at, breached_at, escalation_level) VALUES "
            "(1, 1, 'reply', 'agent', 7, 'met', '2026-11-02 02:30:00', '2026-11-02 03:00:00', 7, "
            "'2026-11-02 02:00:00', '2026-11-02 02:00:00', '2026-11-02 02:31:00', 1), "
            "(2, 2, 'reply', 'agent', NULL, 'pending', '2026-11-02 02:30:00', NULL, NULL, "
            "'2026-11-02 02:00:00', '2026-11-02 02:00:00', NULL, 0)"))
        connection.execute(text(
            "INSERT INTO callback_record (ticket_id, staff_id, reached, score, recorded_at) "
            "VALUES (1, 7, 1, 4, '2026-11-03 02:00:00')"))
    command.upgrade(config, "head")
    with engine.connect() as connection:
        rounds = connection.execute(text(
            "SELECT pledge_id, round_no, outcome, district, owner_staff_id, met_by_staff_id, ended_at, "
            "business_seconds FROM pledge_round ORDER BY pledge_id")).all()
        breaches = connection.execute(text("SELECT ticket_id, kind, staff_id FROM pledge_breach")).all()
        call = connection.execute(text(
            "SELECT reply_round_id, reply_staff_id, reply_kept_in_time, visit_round_id, visit_kept, chat_group_id, "
            "district FROM callback_record")).one()
    assert [tuple(r) for r in rounds] == [
        (1, 1, "met", "芙蓉区", 7, 7, "2026-11-02 03:00:00", None),
        (2, 1, "running", "芙蓉区", None, None, None, None)]
    assert [tuple(b) for b in breaches] == [(1, "reply", 7)]
    assert tuple(call) == (1, 7, 0, None, None, 1, "芙蓉区")  # the reply it asked about was late


def test_the_account_each_group_last_spoke_through_is_recorded_as_in_it(tmp_path):
    """Upgrading from 0016: a group's recorded account (chat_group.bot_id) becomes a member of it, so its
    messages keep going through that account only."""
    from alembic import command
    from sqlalchemy import text

    from bot.db import alembic_config, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(engine)
    command.upgrade(config, "0016")
    with engine.begin() as connection:
        for pk, group_id, bot_id in ((1, "900001", "20000"), (2, "900002", "20000"), (3, "900003", None)):
            connection.execute(text(
                "INSERT INTO chat_group (id, platform, group_id, bot_id, active, created_at) "
                "VALUES (:pk, 'qq', :group_id, :bot_id, 1, '2026-11-02 02:00:00')"),
                {"pk": pk, "group_id": group_id, "bot_id": bot_id})
    command.upgrade(config, "head")
    with engine.connect() as connection:
        members = connection.execute(text(
            "SELECT platform, group_id, bot_id, source FROM bot_membership ORDER BY group_id")).all()
        accounts = connection.execute(text("SELECT platform, bot_id FROM bot_account")).all()
    engine.dispose()
    assert [tuple(row) for row in members] == [("qq", "900001", "20000", "message"),
                                               ("qq", "900002", "20000", "message")]
    assert [tuple(row) for row in accounts] == [("qq", "20000")]
