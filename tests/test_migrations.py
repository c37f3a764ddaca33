"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""

from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from bot.db import MIGRATIONS

ROOT = Path(__file__).resolve().parents[1]


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


PREVIOUS_RELEASE = "0013"  # the schema of the release before the knowledge store, aliases and media files


def test_a_store_of_the_previous_release_upgrades_to_head_with_its_data(tmp_path):
    """The upgrade path (stop, back up, install, start): a store the previous release made, with a ticket, its
    messages, pledge, round, trail and a queued notice in it, migrates to head at start and every row reads back
    through the models; the new tables start empty and the knowledge files seed the store."""
    from alembic import command
    from sqlalchemy import text
    from sqlmodel import Session, select

    from bot.db import alembic_config, make_engine, migrate
    from bot.models import (
        ChatGroup,
        OutboxMessage,
        Pledge,
        PledgeRound,
        Retailer,
        StaffMember,
        Ticket,
        TicketEvent,
        TicketMessage,
    )
    from bot.services import knowledge
    from tests.support.databases import fresh_database

    at = "'2026-11-02 02:00:00'"
    with fresh_database(tmp_path, "upgrade") as url:
        engine = make_engine(url)
        try:
            command.upgrade(alembic_config(engine), PREVIOUS_RELEASE)
            with engine.begin() as connection:
                for statement in (
                    f"INSERT INTO chat_group (id, platform, group_id, name, district, active, created_at) "
                    f"VALUES (1, 'qq', '900001', '芙蓉区零售户服务群', '芙蓉区', TRUE, {at})",
                    f"INSERT INTO staff_member (id, name, roles, chat_user_id, active, created_at) "
                    f"VALUES (7, '李客服', '[\"agent\", \"supervisor\"]', '10086', TRUE, {at})",
                    f"INSERT INTO retailer (id, license_no, store_name, phone, grade, active, created_at, updated_at) "
                    f"VALUES (3, '430102100001', '好邻居便利店', '13912345678', 18, TRUE, {at}, {at})",
                    f"INSERT INTO ticket (id, platform, chat_group_id, retailer_id, sender_user_id, category, status, "
                    f"trading_flag, text, created_at, updated_at, last_message_at) VALUES (1, 'qq', 1, 3, '10001', "
                    f"'terminal', 'open', FALSE, '扫码枪扫不出来怎么办', {at}, {at}, {at})",
                    f"INSERT INTO ticket_message (id, ticket_id, author_kind, text, created_at) "
                    f"VALUES (1, 1, 'retailer', '扫码枪扫不出来怎么办', {at})",
                    f"INSERT INTO pledge (id, ticket_id, kind, owner_role, owner_staff_id, state, due_at, created_at, "
                    f"started_at, escalation_level) VALUES (1, 1, 'reply', 'agent', 7, 'pending', "
                    f"'2026-11-02 02:30:00', {at}, {at}, 0)",
                    f"INSERT INTO pledge_round (id, pledge_id, ticket_id, round_no, kind, reason, category, district, "
                    f"owner_staff_id, started_at, due_at, escalation_level, outcome, by_bot, paused_seconds) VALUES "
                    f"(1, 1, 1, 1, 'reply', 'opened', 'terminal', '芙蓉区', 7, {at}, '2026-11-02 02:30:00', 0, "
                    f"'running', FALSE, 0)",
                    f"INSERT INTO ticket_event (id, ticket_id, at, actor_kind, action, detail) "
                    f"VALUES (1, 1, {at}, 'retailer', 'opened', '{{\"via\": \"group\"}}')",
                    f"INSERT INTO outbox_message (id, platform, target_kind, target_id, text, status, attempts, "
                    f"next_attempt_at, created_at, lane, kind, ticket_id, pledge_id) VALUES (1, 'qq', 'group', "
                    f"'900001', '收到，已登记为工单 #1，客服将尽快回复。', 'pending', 0, {at}, {at}, 0, 'ack', 1, 1)",
                ):
                    connection.execute(text(statement))
            migrate(engine)  # what the service does at start
            with engine.connect() as connection:
                assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == \
                    ScriptDirectory(str(MIGRATIONS)).get_current_head()
                assert connection.execute(text("SELECT version FROM knowledge_state")).scalar_one() == 0
                for table in ("knowledge_entry", "directory_alias", "media_file"):
                    assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
            with Session(engine) as session:
                group, member, shop = session.get_one(ChatGroup, 1), session.get_one(StaffMember, 7), \
                    session.get_one(Retailer, 3)
                assert (group.group_id, group.district) == ("900001", "芙蓉区")
                assert member.roles == ["agent", "supervisor"] and member.active
                assert (shop.license_no, shop.grade) == ("430102100001", 18)
                ticket = session.get_one(Ticket, 1)
                assert (ticket.text, ticket.status, ticket.retailer_id, ticket.chat_group_id) == \
                    ("扫码枪扫不出来怎么办", "open", 3, 1)
                assert [m.text for m in session.exec(select(TicketMessage))] == ["扫码枪扫不出来怎么办"]
                pledge = session.get_one(Pledge, 1)
                assert (pledge.kind, pledge.state, pledge.owner_staff_id) == ("reply", "pending", 7)
                assert session.get_one(PledgeRound, 1).outcome == "running"
                assert session.get_one(TicketEvent, 1).detail == {"via": "group"}
                queued = session.get_one(OutboxMessage, 1)
                assert (queued.status, queued.lane, queued.kind, queued.ticket_id) == ("pending", 0, "ack", 1)
                added = knowledge.seed(session, ROOT / "knowledge", now=datetime.now(UTC))
                session.commit()
                assert added >= 60  # the knowledge files fill the new store at the first start
        finally:
            engine.dispose()


def test_a_store_at_head_is_recognised_without_alembic_and_any_other_is_migrated(tmp_path):
    """The start-up shortcut (`bot.db.at_head`): the head read from the files is Alembic's own; a new store and
    one a revision behind are not at head, and `migrate` brings them there."""
    from alembic import command
    from alembic.config import Config

    from bot.db import alembic_config, at_head, make_engine, migrate, script_head

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    [head] = ScriptDirectory.from_config(config).get_heads()
    assert script_head() == head
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    assert not at_head(engine)
    migrate(engine)
    assert at_head(engine)
    command.downgrade(alembic_config(engine), "-1")
    assert not at_head(engine)
    migrate(engine)
    assert at_head(engine)
    engine.dispose()


def test_a_migration_file_the_shortcut_cannot_read_leaves_it_to_alembic(tmp_path, monkeypatch):
    import shutil

    import bot.db

    shutil.copytree(MIGRATIONS, tmp_path / "migrations")
    (tmp_path / "migrations" / "versions" / "9999_odd.py").write_text(
        'revision = make_revision()\ndown_revision = "0001"\n', encoding="utf-8")
    monkeypatch.setattr(bot.db, "MIGRATIONS", tmp_path / "migrations")
    assert bot.db.script_head() is None


def test_the_serving_start_migrates_in_a_child_process_and_stops_when_that_fails(tmp_path):
    """`ChildMigration` (how `python -m bot` serves): a new store is brought to head by `python -m bot migrate`
    in a child, which keeps Alembic out of the long-lived service; a child that fails stops the start, saying so."""
    import pytest

    from bot.db import ChildMigration, at_head, make_engine

    url = f"sqlite:///{tmp_path / 'store.db'}"
    ChildMigration(url).wait()
    engine = make_engine(url)
    assert at_head(engine)
    engine.dispose()
    with pytest.raises(RuntimeError, match="could not be migrated"):
        ChildMigration("postgresql+psycopg://postgres@127.0.0.1:1/test").wait()


def test_the_service_itself_never_loads_alembic(tmp_path):
    """What `ChildMigration` is for: after serving's start on a new store, no Alembic module in the process."""
    import os
    import subprocess
    import sys

    probe = ("from bot.app import open_runtime, prepare_store\nfrom bot.config import Settings\nimport sys\n"
             "from bot.db import ChildMigration\n"
             "migration = ChildMigration(Settings().database_url)\n"
             "runtime = open_runtime(Settings())\nprepare_store(runtime, migration)\n"
             "print(sorted(name for name in sys.modules if name.split('.')[0] == 'alembic'))\nruntime.close()\n")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}", "ADMIN_TOKEN": ""}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
