"""What the report pages need beyond the figures: a person's breaches with the rulings on them (excused ones
too, so a supervisor can count one again), and satisfaction rows whose drill-down lists only the scored
calls they count, even when the person, group or district is read as the scope."""

from sqlmodel import col, select

from bot.models import ChatBinding, ChatGroup, Role
from bot.policy import Policies
from bot.services import escalation, intake, ledger, pledges
from bot.services.reports import appraisal, drill, runner, satisfaction
from bot.services.reports.base import Period, Scope
from tests import factories as make


def test_a_persons_breaches_come_with_their_rulings_and_stay_listed_once_excused(session, clock, runtime):
    tz, policies = runtime.settings.tz, Policies()
    make.group(session, clock)
    agent = make.staff(session, clock, Role.AGENT, chat_user_id="30001", name="客服1")
    boss = make.staff(session, clock, Role.SUPERVISOR, name="主管")
    late = make.post(session, clock, runtime.settings, "送货时间能不能改到下午", user_id="10002").ticket_id
    clock.advance(minutes=31)
    escalation.sweep(session, now=clock.now(), policies=policies, tz=tz)
    session.commit()
    day = clock.now().astimezone(tz).date()
    period, mine = Period(day, day), Scope(staff_id=agent.id)

    [charged] = appraisal.charged(session, period, mine, tz)
    assert charged.breach.ticket_id == late and not charged.excused and charged.rulings == []
    assert charged.level >= 1
    ledger.correct_breach(session, charged.breach.id, excused=True, reason="订货系统故障", by=boss, now=clock.now())
    session.commit()

    [excused] = appraisal.charged(session, period, mine, tz)
    assert excused.excused and [(r.reason, r.by_staff_id, r.excused) for r in excused.rulings] == [
        ("订货系统故障", boss.id, True)]
    [score] = appraisal.report(session, period, mine, tz, policies.appraisal).scores
    assert (score.breaches, score.excused, score.score) == (0, 1, 100)
    assert appraisal.charged(session, period, Scope(staff_id=boss.id), tz) == []


def test_a_satisfaction_rows_drill_down_lists_the_scored_calls_it_counts(session, clock, runtime):
    tz, policies = runtime.settings.tz, Policies()
    make.group(session, clock, district="芙蓉区")
    agent = make.staff(session, clock, Role.AGENT, chat_user_id="30001", name="客服1")
    caller = make.staff(session, clock, Role.CALLBACK, chat_user_id="70001", name="回访员")
    boss = make.staff(session, clock, Role.SUPERVISOR, name="主管")
    for user, phone in (("10001", "13912345678"), ("10002", "13987654321")):
        shop = make.retailer(session, clock, phone=phone)
        session.add(ChatBinding(platform="qq", chat_user_id=user, retailer_id=shop.id, bound_at=clock.now()))
    session.commit()
    scored, missed = (make.post(session, clock, runtime.settings, text, user_id=user).ticket_id
                      for text, user in (("订货平台登录不上怎么办", "10001"), ("送货时间能不能改到下午", "10002")))
    for ticket_id in (scored, missed):
        intake.reply_via_api(session, ticket_id, agent, "好的", now=clock.now(), policies=policies, tz=tz)
    session.commit()
    clock.advance(minutes=30)
    pledges.record_callback(session, scored, caller, reached=True, score=4, reply_in_time=True, visit_happened=None,
                            comment=None, now=clock.now(), policies=policies, tz=tz)
    pledges.record_callback(session, missed, caller, reached=False, score=None, reply_in_time=None,
                            visit_happened=None, comment=None, now=clock.now(), policies=policies, tz=tz)
    session.commit()
    day = clock.now().astimezone(tz).date()
    period = Period(day, day)
    said = satisfaction.report(session, period, Scope(), tz)
    assert (said.calls, said.reached) == (2, 1)
    group_id = session.exec(select(ChatGroup.id).order_by(col(ChatGroup.id))).first()

    for rows in (said.by_person, said.by_group, said.by_district):
        [row] = rows
        assert row.scores.total == 1 and row.filters["score"] == "scored"
        # a link's query: the period, and the row's filters (a person, group or district is read as the scope)
        asked, filters = runner.ask_details(boss, {"month": "", "start": day.isoformat(), "end": day.isoformat(),
                                                    **row.filters}, today=day)
        total, lines = drill.lines(session, "calls", asked.period, asked.scope, tz, filters)
        assert total == 1 and [line.ticket_id for line in lines] == [scored], row.label
    assert said.by_group[0].filters["group"] == str(group_id)
    assert drill.describe("calls", {"score": "scored"}, satisfaction.names(session)) == "回访 · 已评分"
    assert drill.lines(session, "calls", period, Scope(chat_group_id=group_id), tz, {})[0] == 2  # every call made
