"""Configuration safety and riding out a database that goes away for a moment."""

import asyncio
import signal
import sqlite3
import subprocess
import sys

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.config import Settings, UnsafeConfigError
from bot.db import make_engine, migrate
from bot.models import ChatGroup
from bot.runtime import Runtime
from bot.services import directory, intake


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "bot.example.com"])
def test_a_public_address_needs_an_access_token(host):
    with pytest.raises(UnsafeConfigError, match="ONEBOT_ACCESS_TOKEN"):
        Settings(_env_file=None, host=host).check_safe_to_serve()
    Settings(_env_file=None, host=host, onebot_access_token="t").check_safe_to_serve()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_needs_no_token(host):
    Settings(_env_file=None, host=host).check_safe_to_serve()


def test_the_outbox_worker_name_survives_a_restart_and_tells_processes_on_one_host_apart(monkeypatch):
    monkeypatch.setattr("socket.gethostname", lambda: "h" * 64)  # Linux allows 64 characters
    first, restarted = Settings(_env_file=None, port=8080), Settings(_env_file=None, port=8080)
    assert first.worker == restarted.worker == "h" * 59 + ":8080"
    assert Settings(_env_file=None, port=8081).worker != first.worker
    named = Settings(_env_file=None, port=8080, instance_name="bot-a" * 6)
    assert named.worker == "h" * 33 + ":" + "bot-a" * 6 and len(named.worker) == 64  # as claimed_by stores


def test_the_service_refuses_to_start_and_says_why(tmp_path):
    result = subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": "", "HOST": "0.0.0.0", "ONEBOT_ACCESS_TOKEN": ""}, timeout=60)
    assert result.returncode == 2
    assert "ONEBOT_ACCESS_TOKEN" in result.stderr and "拒绝启动" in result.stderr
    assert not (tmp_path / "data").exists()  # refused before touching anything


def outage_of(tmp_path, connections: int):
    """A migrated SQLite store whose next `connections` connection attempts fail, as while its disk is away."""
    engine = make_engine(f"sqlite:///{tmp_path / 'outage.db'}")
    migrate(engine)
    engine.dispose()
    outage = {"left": connections}

    @event.listens_for(engine, "do_connect")
    def refuse(*_):
        if outage["left"]:
            outage["left"] -= 1
            raise sqlite3.OperationalError("unable to open database file")

    return engine, outage


def test_a_unit_of_work_waits_out_a_short_database_outage(tmp_path, clock):
    engine, outage = outage_of(tmp_path, 3)
    runtime = Runtime(Settings(_env_file=None), engine=engine, clock=clock, outage_seconds=10)
    group = runtime.unit_of_work(directory.create_group, {"group_id": "900001"}, now=clock.now())
    assert outage["left"] == 0 and group.id == 1
    assert runtime.unit_of_work(lambda s: s.exec(select(ChatGroup)).one().group_id) == "900001"
    runtime.close()


async def test_a_job_from_the_event_loop_waits_out_a_short_outage_and_commits_once(tmp_path, clock):
    # The writer retries with AsyncRetrying, which awaits what it calls: the unit of work is wrapped
    # in a coroutine (a plain function would commit and then fail on older tenacity releases).
    engine, outage = outage_of(tmp_path, 3)
    runtime = Runtime(Settings(_env_file=None), engine=engine, clock=clock, outage_seconds=10)

    def add_group(session, number):
        session.add(ChatGroup(group_id=number, created_at=clock.now()))
        return number

    assert await runtime.run(add_group, "900001") == "900001"
    assert outage["left"] == 0
    assert runtime.unit_of_work(lambda s: s.exec(select(ChatGroup.group_id)).all()) == ["900001"]
    runtime.close()


def test_a_broken_rule_is_not_retried_and_changes_nothing(tmp_path, clock):
    runtime = Runtime(Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'rule.db'}"), clock=clock)
    migrate(runtime.engine)
    calls = []

    def insert_twice(session):
        calls.append(1)
        session.add(ChatGroup(group_id="1", created_at=clock.now()))
        session.add(ChatGroup(group_id="1", created_at=clock.now()))
        session.flush()

    with pytest.raises(IntegrityError):
        runtime.unit_of_work(insert_twice)
    assert len(calls) == 1
    assert runtime.unit_of_work(lambda s: s.exec(select(ChatGroup)).all()) == []
    runtime.close()


async def test_a_failing_job_does_not_sink_the_others_in_its_batch(runtime, clock):
    def add_group(session, number):
        session.add(ChatGroup(group_id=number, created_at=clock.now()))
        return number

    def broken(session):
        add_group(session, "999")
        raise ValueError("a broken rule")

    results = await asyncio.gather(runtime.run(add_group, "1"), runtime.run(broken),
                                   runtime.run(add_group, "2"), return_exceptions=True)
    assert results[0] == "1" and isinstance(results[1], ValueError) and results[2] == "2"
    stored = runtime.unit_of_work(lambda s: sorted(s.exec(select(ChatGroup.group_id)).all()))
    assert stored == ["1", "2"]


async def test_a_concurrent_burst_from_one_sender_becomes_one_ticket(runtime, clock):
    from bot.models import Ticket

    runtime.unit_of_work(directory.create_group, {"group_id": "900001"}, now=clock.now())
    burst = [intake.GroupMessage(platform="qq", group_id="900001", user_id="10001",
                                  text=f"终端坏了怎么办 {n}", message_id=str(n)) for n in range(40)]
    outcomes = await asyncio.gather(*(runtime.run(intake.handle_group_message, message, now=clock.now(),
                                                  settings=runtime.settings, policies=runtime.policies)
                                  for message in burst))
    assert [o.result for o in outcomes].count(intake.Result.OPENED) == 1
    assert runtime.unit_of_work(lambda s: len(s.exec(select(Ticket)).all())) == 1


async def test_the_outboxs_work_goes_ahead_of_queued_chat_messages(runtime):
    """An answer already decided is recorded and sent before a burst of new questions is handled."""
    order = []

    def note(session, label):
        order.append(label)

    first = asyncio.ensure_future(runtime.run(note, "running"))  # the writer takes this batch at once
    await asyncio.sleep(0)
    queued = [asyncio.ensure_future(runtime.run(note, f"question {n}")) for n in range(40)]
    urgent = asyncio.ensure_future(runtime.run_first(note, "claim"))
    await asyncio.gather(first, *queued, urgent)
    assert order.index("claim") < order.index("question 0")
    assert [label for label in order if label.startswith("question")] == [f"question {n}" for n in range(40)]


async def test_a_unit_whose_caller_gave_up_before_it_began_is_not_run(runtime):
    """Shutdown cancels the sender while its claim waits for the writer: the claim must not run for nobody."""
    done = []
    abandoned = asyncio.ensure_future(runtime.run(lambda session: done.append("abandoned")))
    await asyncio.sleep(0)  # queued, the writer gathering its batch
    abandoned.cancel()
    await asyncio.gather(abandoned, return_exceptions=True)
    await runtime.run(lambda session: done.append("next"))
    assert done == ["next"]


async def test_the_knowledge_built_in_the_background_is_awaited_and_a_failed_build_raises(runtime):
    """`Runtime.build_knowledge` (the service's start): readers wait for the index; a broken build raises for
    them and is reported, so the service stops instead of answering without its knowledge base."""
    import threading

    base, gate = runtime.knowledge, threading.Event()
    try:
        runtime.build_knowledge(lambda: gate.wait(10) and base)
        waiting = asyncio.ensure_future(runtime.knowledge_ready())
        await asyncio.sleep(0)
        assert not waiting.done()
        gate.set()
        assert await waiting is base and runtime.knowledge is base

        def broken():
            raise ValueError("thresholds.yaml: posterior missing")

        built = runtime.build_knowledge(broken)
        with pytest.raises(ValueError, match="thresholds"):
            await runtime.knowledge_ready()
        assert isinstance(built.exception(), ValueError)
        with pytest.raises(ValueError, match="thresholds"):
            runtime.knowledge  # noqa: B018
    finally:
        runtime.knowledge = base


def test_the_service_with_a_broken_knowledge_file_stops_and_says_why(tmp_path):
    import shutil
    from pathlib import Path

    from tests.support.service import free_port

    knowledge = tmp_path / "knowledge"
    shutil.copytree(Path(__file__).resolve().parents[1] / "knowledge", knowledge)
    (knowledge / "thresholds.yaml").write_text("posterior: [unclosed", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={"PATH": "", "HOST": "127.0.0.1", "PORT": str(free_port()),
                                 "KNOWLEDGE_DIR": str(knowledge), "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"})
    assert result.returncode == -signal.SIGTERM  # as systemd stops it: a clean stop, not restarted in a loop
    assert "知识库加载失败" in result.stdout + result.stderr and "thresholds.yaml" in result.stdout + result.stderr


def _drop_the_services_connections(url: str) -> int:
    """What a PostgreSQL restart or a failover does to the pool: every other backend of the database ends."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
        return len(admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall())


async def test_connections_the_server_dropped_are_replaced_and_the_work_commits_once(runtime, database_url, clock,
                                                                                    caplog):
    """Without a ping before each use (a round trip a request): a unit of work on a connection the server closed
    fails as transient, the pool is renewed and the work runs again, once."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a server's dropped connections: PostgreSQL only")
    runtime.unit_of_work(directory.create_group, {"group_id": "900001"}, now=clock.now())
    await runtime.run(directory.create_group, {"group_id": "900002"}, now=clock.now())  # the writer's connection
    assert _drop_the_services_connections(database_url) >= 1
    await runtime.run(directory.create_group, {"group_id": "900003"}, now=clock.now())
    assert _drop_the_services_connections(database_url) >= 1
    runtime.unit_of_work(directory.create_group, {"group_id": "900004"}, now=clock.now())
    numbers = runtime.unit_of_work(lambda s: s.exec(select(ChatGroup.group_id).order_by(ChatGroup.group_id)).all())
    assert numbers == ["900001", "900002", "900003", "900004"]
    assert sum("database unavailable, retrying" in record.getMessage() for record in caplog.records) == 2
