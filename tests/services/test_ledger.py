"""The pledge ledger: each run of a clock is a round with its owner, pauses, breaches and end, written
as it happens; a breach is never changed, only ruled on."""

import pytest
from sqlmodel import col, select

from bot.models import BreachCorrection, CallbackRecord, PledgeBreach, PledgePause, PledgeRound, Role
from bot.policy import Policies
from bot.services import escalation, intake, ledger, pledges
from bot.services.errors import NotFound, ServiceError
from tests import factories as make


@pytest.fixture
def policies():
    return Policies()


def rounds(session, ticket_id, kind="reply"):
    return list(session.exec(select(PledgeRound).where(PledgeRound.ticket_id == ticket_id, PledgeRound.kind == kind)
                             .order_by(col(PledgeRound.round_no))))


def sweep(session, clock, runtime, policies):
    escalation.sweep(session, now=clock.now(), policies=policies, tz=runtime.settings.tz)
    session.commit()


def reply(session, clock, runtime, policies, ticket_id, agent):
    intake.reply_via_api(session, ticket_id, agent, "已处理，请再试试", now=clock.now(), policies=policies,
                         tz=runtime.settings.tz)
    session.commit()


def test_a_reply_round_records_where_it_is_counted_who_kept_it_and_the_working_time(session, clock, runtime,
                                                                                      policies):
    make.group(session, clock, district="芙蓉区")
    agent = make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    ticket_id = make.post(session, clock, runtime.settings, "订货平台登录不上怎么办").ticket_id
    (opened,) = rounds(session, ticket_id)
    assert (opened.round_no, opened.reason, opened.outcome, opened.district) == (1, "opened", "running", "芙蓉区")
    assert opened.category == "marketing" and opened.business_seconds is None

    clock.advance(minutes=12)
    reply(session, clock, runtime, policies, ticket_id, agent)
    session.refresh(opened)
    assert (opened.outcome, opened.met_by_staff_id, opened.owner_staff_id) == ("met", agent.id, agent.id)
    assert opened.business_seconds == 12 * 60 and opened.breached_at is None


def test_working_time_leaves_out_pauses_and_the_pause_says_who_why_and_how_long(session, clock, runtime, policies):
    make.group(session, clock)
    agent = make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    ticket_id = make.post(session, clock, runtime.settings, "订货平台登录不上怎么办").ticket_id
    clock.advance(minutes=5)
    pledges.pause_on_ticket(session, ticket_id, "reply", reason="等客户发截图", staff_id=agent.id, now=clock.now(),
                            policies=policies, tz=runtime.settings.tz)
    session.commit()
    clock.advance(minutes=40)
    pledges.resume_on_ticket(session, ticket_id, "reply", reason="截图收到了", staff_id=agent.id, now=clock.now(),
                             policies=policies, tz=runtime.settings.tz)
    session.commit()
    clock.advance(minutes=3)
    reply(session, clock, runtime, policies, ticket_id, agent)

    (kept,) = rounds(session, ticket_id)
    (pause,) = session.exec(select(PledgePause)).all()
    assert (pause.paused_by_staff_id, pause.reason, pause.resume_reason) == (agent.id, "等客户发截图", "截图收到了")
    assert pause.business_seconds == 40 * 60 and kept.paused_seconds == 40 * 60
    assert kept.business_seconds == 8 * 60  # 5 before the pause, 3 after
    assert kept.due_at == pledges.one(session, ticket_id, "reply").due_at  # the deadline moved with the pause


def test_an_unclaimed_breach_is_charged_to_each_agent_on_duty_and_the_round_keeps_its_levels(session, clock, runtime,
                                                                                           policies):
    make.group(session, clock)
    agents = [make.staff(session, clock, Role.AGENT, chat_user_id=f"3000{n}", name=f"客服{n}") for n in (1, 2)]
    make.staff(session, clock, Role.SUPERVISOR, chat_user_id="40001", name="督查")
    ticket_id = make.post(session, clock, runtime.settings, "订货平台登录不上怎么办").ticket_id
    clock.advance(minutes=30)
    sweep(session, clock, runtime, policies)  # due: breached, level 1
    clock.advance(minutes=30)
    sweep(session, clock, runtime, policies)  # level 2: the supervisors
    breaches = session.exec(select(PledgeBreach).order_by(col(PledgeBreach.staff_id))).all()
    assert [b.staff_id for b in breaches] == [a.id for a in agents]
    assert {(b.ticket_id, b.kind) for b in breaches} == {(ticket_id, "reply")}

    clock.advance(minutes=10)
    reply(session, clock, runtime, policies, ticket_id, agents[1])
    (late,) = rounds(session, ticket_id)
    assert late.outcome == "met" and late.breached_at is not None and late.escalation_level == 2
    assert late.business_seconds == 70 * 60
    assert len(session.exec(select(PledgeBreach)).all()) == 2  # meeting it late adds no breach and removes none


def test_a_reopening_starts_a_new_round_and_keeps_the_first(session, clock, runtime, policies):
    make.group(session, clock)
    agent = make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    ticket_id = make.post(session, clock, runtime.settings, "订货平台登录不上怎么办").ticket_id
    clock.advance(minutes=10)
    reply(session, clock, runtime, policies, ticket_id, agent)
    clock.advance(minutes=5)
    make.post(session, clock, runtime.settings, "还是没解决")
    first, second = rounds(session, ticket_id)
    assert (first.outcome, first.business_seconds) == ("met", 600)
    assert (second.round_no, second.reason, second.outcome, second.owner_staff_id) == (2, "not solved", "running",
                                                                                       agent.id)


def test_a_bot_answer_meets_the_first_round_at_once_and_a_handover_opens_the_next(session, clock, runtime, policies):
    make.group(session, clock)
    knowledge = runtime.knowledge
    ticket_id = make.post(session, clock, runtime.settings, "扫码枪扫不出来怎么办", knowledge=knowledge).ticket_id
    (answered,) = rounds(session, ticket_id)
    assert (answered.by_bot, answered.outcome, answered.business_seconds, answered.met_by_staff_id) == (
        True, "met", 0, None)
    clock.advance(minutes=2)
    make.post(session, clock, runtime.settings, "转人工", knowledge=knowledge)
    assert [(r.reason, r.outcome) for r in rounds(session, ticket_id)] == [("opened", "met"), ("handover", "running")]


def test_closing_a_ticket_ends_its_running_rounds_as_cancelled_with_the_reason(session, clock, runtime, policies):
    make.group(session, clock)
    agent = make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    ticket_id = make.post(session, clock, runtime.settings, "我要投诉！送货员态度很差").ticket_id
    clock.advance(minutes=7)
    intake.close_ticket(session, ticket_id, agent, "重复", now=clock.now(), policies=policies, tz=runtime.settings.tz)
    session.commit()
    (cancelled,) = rounds(session, ticket_id)
    (visit,) = rounds(session, ticket_id, "visit")
    assert (cancelled.outcome, cancelled.outcome_reason, cancelled.business_seconds) == (
        "cancelled", "工作人员关闭了工单", 420)
    assert (visit.outcome, visit.reason) == ("cancelled", "visit needed")


def test_a_callback_names_the_rounds_it_asked_about(session, clock, runtime, policies):
    manager = make.staff(session, clock, Role.MANAGER, chat_user_id="60001", name="李经理")
    agent = make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    caller = make.staff(session, clock, Role.CALLBACK, chat_user_id="70001", name="回访员")
    make.bound_shop(session, clock, manager.id)
    ticket_id = make.post(session, clock, runtime.settings, "我要投诉！送货员态度很差").ticket_id
    clock.advance(minutes=10)
    reply(session, clock, runtime, policies, ticket_id, agent)
    clock.advance(hours=2)
    pledges.record_visit(session, ticket_id, manager, action="当面沟通", notes=None, visited_at=None,
                         now=clock.now(), policies=policies, tz=runtime.settings.tz)
    session.commit()
    clock.advance(hours=1)
    pledges.record_callback(session, ticket_id, caller, reached=True, score=5, reply_in_time=True,
                            visit_happened=True, comment=None, now=clock.now(), policies=policies,
                            tz=runtime.settings.tz)
    session.commit()
    (call,) = session.exec(select(CallbackRecord)).all()
    (reply_round,), (visit_round,) = rounds(session, ticket_id), rounds(session, ticket_id, "visit")
    assert (call.reply_round_id, call.visit_round_id) == (reply_round.id, visit_round.id)
    assert visit_round.met_by_staff_id == manager.id and visit_round.business_seconds == 2 * 3600
    (callback_round,) = rounds(session, ticket_id, "callback")
    assert (callback_round.reason, callback_round.outcome, callback_round.met_by_staff_id) == (
        "callback due", "met", caller.id)


def test_a_ruling_on_a_breach_is_a_new_entry_and_the_breach_stays_as_it_was(session, clock, runtime, policies):
    make.group(session, clock)
    agent = make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    supervisor = make.staff(session, clock, Role.SUPERVISOR, chat_user_id="40001", name="督查")
    make.post(session, clock, runtime.settings, "订货平台登录不上怎么办")
    clock.advance(minutes=31)
    sweep(session, clock, runtime, policies)
    (breach,) = session.exec(select(PledgeBreach)).all()
    before = breach.model_dump()

    for blank in ("", "   "):
        with pytest.raises(ServiceError):
            ledger.correct_breach(session, breach.id, excused=True, reason=blank, by=supervisor, now=clock.now())
    with pytest.raises(ServiceError):  # it already counts
        ledger.correct_breach(session, breach.id, excused=False, reason="复核", by=supervisor, now=clock.now())
    with pytest.raises(NotFound):
        ledger.correct_breach(session, 99_999, excused=True, reason="系统故障", by=supervisor, now=clock.now())
    session.rollback()
    assert session.exec(select(BreachCorrection)).all() == []

    ledger.correct_breach(session, breach.id, excused=True, reason="当天系统故障，客户消息未推送", by=supervisor,
                          now=clock.now())
    session.commit()
    assert ledger.is_excused(session, breach.id)
    with pytest.raises(ServiceError):
        ledger.correct_breach(session, breach.id, excused=True, reason="再次免责", by=supervisor, now=clock.now())
    clock.advance(minutes=1)
    ledger.correct_breach(session, breach.id, excused=False, reason="复核后仍计入", by=supervisor, now=clock.now())
    session.commit()
    assert not ledger.is_excused(session, breach.id)
    assert [(c.excused, c.by_staff_id) for c in ledger.corrections(session, breach.id)] == [
        (True, supervisor.id), (False, supervisor.id)]
    session.refresh(breach)
    assert breach.model_dump() == before
    assert agent.id == breach.staff_id


def test_a_reply_kept_after_its_deadline_before_any_sweep_is_still_a_breach(session, clock, runtime, policies):
    make.group(session, clock)
    agent = make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    console_only = make.staff(session, clock, Role.AGENT, name="只用工作台的客服")  # no QQ: still on duty
    ticket_id = make.post(session, clock, runtime.settings, "订货平台登录不上怎么办").ticket_id
    clock.advance(minutes=35)  # due at 30; the sweep never ran
    reply(session, clock, runtime, policies, ticket_id, agent)
    (late,) = rounds(session, ticket_id)
    assert late.outcome == "met" and late.breached_at == clock.now()
    charged = sorted(b.staff_id for b in session.exec(select(PledgeBreach)))
    assert charged == sorted([agent.id, console_only.id])  # it was nobody's when it fell due
    assert pledges.one(session, ticket_id, "reply").breached_at == clock.now()


def test_a_reply_kept_in_time_or_while_paused_is_no_breach(session, clock, runtime, policies):
    make.group(session, clock)
    agent = make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    ticket_id = make.post(session, clock, runtime.settings, "订货平台登录不上怎么办").ticket_id
    clock.advance(minutes=10)
    pledges.pause_on_ticket(session, ticket_id, "reply", reason="等客户回话", staff_id=agent.id, now=clock.now(),
                            policies=policies, tz=runtime.settings.tz)
    session.commit()
    clock.advance(hours=3)  # long past the old deadline, but the clock stood still
    reply(session, clock, runtime, policies, ticket_id, agent)
    assert session.exec(select(PledgeBreach)).all() == []
    assert rounds(session, ticket_id)[0].outcome == "met"


def test_the_first_caller_takes_the_callback_and_a_callback_nobody_took_is_the_pools_breach(session, clock,
                                                                                          runtime, policies):
    manager = make.staff(session, clock, Role.MANAGER, chat_user_id="60001", name="李经理")
    agent = make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    callers = [make.staff(session, clock, Role.CALLBACK, chat_user_id=f"7000{n}", name=f"回访员{n}") for n in (1, 2)]
    make.bound_shop(session, clock, manager.id)
    ticket_id = make.post(session, clock, runtime.settings, "订货平台登录不上怎么办").ticket_id
    clock.advance(minutes=10)
    reply(session, clock, runtime, policies, ticket_id, agent)
    clock.advance(days=7)  # three desk days have long passed
    sweep(session, clock, runtime, policies)
    assert sorted(b.staff_id for b in session.exec(select(PledgeBreach).where(PledgeBreach.kind == "callback"))) == [
        c.id for c in callers]
    pledges.record_callback(session, ticket_id, callers[1], reached=False, score=None, reply_in_time=None,
                            visit_happened=None, comment=None, now=clock.now(), policies=policies,
                            tz=runtime.settings.tz)
    session.commit()
    (callback,) = rounds(session, ticket_id, "callback")
    assert callback.owner_staff_id == callers[1].id == pledges.one(session, ticket_id, "callback").owner_staff_id
