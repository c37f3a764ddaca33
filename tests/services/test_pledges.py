"""The pledge clocks: warning, breach, escalation ladder and apology, each exactly once."""

import threading
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from bot.db import make_engine
from tests.support.databases import ON_POSTGRES

from bot.models import Lane, OutboxMessage, Pledge, PledgeState, Role
from bot.policy import Policies
from bot.services import escalation, intake, pledges
from tests import factories as make


@pytest.fixture
def policies():
    return Policies()


@pytest.fixture
def crew(session, clock):
    """Two agents, a supervisor and an admin, all on QQ."""
    return {
        "agents": [make.staff(session, clock, Role.AGENT, chat_user_id=f"3000{n}", name=f"客服{n}") for n in (1, 2)],
        "supervisor": make.staff(session, clock, Role.SUPERVISOR, chat_user_id="40001", name="督查"),
        "admin": make.staff(session, clock, Role.ADMIN, chat_user_id="50001", name="主任"),
    }


@pytest.fixture
def ticket(session, clock, runtime, policies):
    make.group(session, clock)
    return make.post(session, clock, runtime.settings, "订货平台登录不上怎么办", message_id="m1", policies=policies)


def run_sweep(session, clock, runtime, policies):
    result = escalation.sweep(session, now=clock.now(), policies=policies, tz=runtime.settings.tz)
    session.commit()
    return result


def sent(session):
    """The notices (the retailer's acknowledgement aside)."""
    return [(m.target_kind, m.target_id, m.text) for m in session.exec(
        select(OutboxMessage).where(OutboxMessage.lane != Lane.REPLY).order_by(OutboxMessage.id))]


def test_a_late_reply_is_warned_breached_escalated_and_apologised_for_once(session, clock, runtime, policies, crew, ticket):
    # Opened Monday 10:00; due 10:30; warned at 10:24 (80 %).
    assert run_sweep(session, clock, runtime, policies).examined == 0
    clock.advance(minutes=24)
    assert run_sweep(session, clock, runtime, policies).warnings == 1
    warnings = sent(session)
    assert {(kind, to) for kind, to, _ in warnings} == {("private", "30001"), ("private", "30002")}
    assert all("即将超时" in text and "10:30" in text for _, _, text in warnings)

    clock.advance(minutes=6)  # 10:30: breached; ladder level 1 (agents) at once
    result = run_sweep(session, clock, runtime, policies)
    assert (result.breaches, result.escalations) == (1, 1)
    apology = [m for m in sent(session) if m[0] == "group"]
    assert apology == [("group", "900001", next(t for k, _, t in sent(session) if k == "group"))]
    assert "加急" in apology[0][2]
    queued = session.exec(select(OutboxMessage).where(OutboxMessage.target_kind == "group",
                                                      OutboxMessage.lane != Lane.REPLY)).one()
    assert queued.reply_to == "m1"  # the apology quotes the retailer

    for _ in range(3):  # sweeping again sends nothing new
        run_sweep(session, clock, runtime, policies)
    count = len(sent(session))
    clock.advance(minutes=30)  # level 2: supervisors
    run_sweep(session, clock, runtime, policies)
    assert [to for _, to, text in sent(session)[count:]] == ["40001"]
    clock.advance(hours=1, minutes=30)  # 12:30 local: lunch, so level 3 (2 business hours) waits
    run_sweep(session, clock, runtime, policies)
    assert len(sent(session)) == count + 1
    clock.advance(hours=2)  # 14:30 local: 2 business hours after 10:30 is 14:00
    run_sweep(session, clock, runtime, policies)
    assert [to for _, to, text in sent(session)[count + 1:]] == ["50001"]
    assert "第3级" in sent(session)[-1][2]
    pledge = session.exec(select(Pledge)).one()
    assert (pledge.escalation_level, pledge.next_check_at) == (3, None)
    clock.advance(days=3)
    assert run_sweep(session, clock, runtime, policies).examined == 0
    keys = session.exec(select(OutboxMessage.dedupe_key)).all()
    assert len(keys) == len(set(keys))


def test_a_met_pledge_is_left_alone(session, clock, runtime, policies, crew, ticket):
    intake.reply_via_api(session, ticket.ticket_id, crew["agents"][0], "已处理", now=clock.now(),
                          policies=runtime.policies, tz=runtime.settings.tz)
    session.commit()
    clock.advance(hours=5)
    assert run_sweep(session, clock, runtime, policies).examined == 0
    assert [m for m in sent(session) if "超时" in m[2]] == []


def test_after_downtime_the_sweep_catches_up_without_a_stale_warning(session, clock, runtime, policies, crew, ticket):
    clock.advance(hours=3)  # the service was down past warning, breach and two levels
    result = run_sweep(session, clock, runtime, policies)
    assert (result.warnings, result.breaches, result.escalations) == (0, 1, 2)


def test_an_agents_group_takes_the_owner_and_first_level_notices(session, clock, runtime, crew, ticket):
    policies = Policies(agents_group_id="123456")
    clock.advance(minutes=30)
    run_sweep(session, clock, runtime, policies)
    to_group = [text for kind, to, text in sent(session) if (kind, to) == ("group", "123456")]
    assert len(to_group) == 2 and any("已超时" in t for t in to_group) and any("第1级" in t for t in to_group)


def test_a_paused_pledge_resumes_with_the_time_it_had_left(session, clock, runtime, policies, ticket):
    pledge = session.exec(select(Pledge)).one()
    clock.advance(minutes=10)  # 20 business minutes left
    pledges.pause(session, pledge, now=clock.now(), policies=policies, tz=runtime.settings.tz)
    session.commit()
    clock.advance(days=1)
    assert run_sweep(session, clock, runtime, policies).examined == 0
    pledge = session.exec(select(Pledge)).one()
    assert pledge.state == PledgeState.PAUSED
    pledges.resume(session, pledge, now=clock.now(), policies=policies, tz=runtime.settings.tz)
    session.commit()
    pledge = session.exec(select(Pledge)).one()
    assert pledge.due_at == clock.now() + timedelta(minutes=20)
    assert pledge.warn_at == clock.now() + timedelta(minutes=14)


@pytest.mark.skipif(not ON_POSTGRES, reason="two instances share one PostgreSQL database")
def test_two_instances_sweeping_at_once_send_each_notice_exactly_once(session, clock, runtime, policies, crew):
    make.group(session, clock)
    for n in range(40):
        make.post(session, clock, runtime.settings, "订货平台登录不上怎么办", user_id=str(21_000 + n), policies=policies)
    clock.advance(minutes=31)  # every reply pledge breached, level 1 due
    instances = [make_engine(runtime.settings.database_url) for _ in range(2)]
    start = threading.Barrier(2)
    totals = []

    def instance(engine):
        start.wait()
        result = escalation.SweepResult()
        while True:
            with Session(engine) as own:
                step = escalation.sweep(own, now=clock.now(), policies=policies, tz=runtime.settings.tz, limit=3)
                own.commit()
            result.breaches += step.breaches
            if step.examined == 0:
                break
        totals.append(result.breaches)

    threads = [threading.Thread(target=instance, args=(engine,)) for engine in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(totals) == 40 and all(totals)  # both took part, nobody took a pledge twice
    keys = session.exec(select(OutboxMessage.dedupe_key).where(OutboxMessage.lane != Lane.REPLY)).all()
    # per pledge: breach to 2 agents, level 1 to 2 agents, the apology (the acknowledgements aside)
    assert len(keys) == 40 * 5 == len(set(keys))
    for engine in instances:
        engine.dispose()
