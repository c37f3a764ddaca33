"""Staff correcting what the bot read: a ticket's category (改类别) and a ticket that asks nothing (不是诉求)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlmodel import select

from bot.models import (
    AuthorKind,
    ChatBinding,
    Pledge,
    PledgeKind,
    PledgeRound,
    PledgeState,
    Role,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from bot.policy import Policies
from bot.services import escalation, intake, pledges, tickets
from bot.services.errors import ServiceError
from bot.services.reports import compliance, workload
from bot.services.reports.base import Period, Scope
from tests import factories as make

TZ = ZoneInfo("Asia/Shanghai")
_RULES = {"policies": Policies(), "tz": TZ}


def _pledge(session, ticket_id, kind):
    return session.exec(select(Pledge).where(Pledge.ticket_id == ticket_id, Pledge.kind == kind)).first()


def _events(session, ticket_id, action):
    return session.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id,
                                                  TicketEvent.action == action)).all()


def _recategorise(session, clock, ticket_id, category, agent):
    ticket = intake.recategorise_ticket(session, ticket_id, category, agent, now=clock.now(), **_RULES)
    session.commit()
    return ticket


def _today(clock):
    day = clock.now().astimezone(TZ).date()
    return Period(day, day)


def test_a_complaint_filed_as_other_becomes_one_and_its_visit_is_ordered(session, clock, settings, group):
    """客户经理大半年都没来过店里 read as 其他: the agent corrects it, and the complaint's rule orders the visit
    the bot would have ordered, to the shop's own account manager; the reports count it as a complaint."""
    agent = make.staff(session, clock)
    manager = make.staff(session, clock, Role.MANAGER, chat_user_id="30001", name="李经理")
    shop = make.retailer(session, clock, manager_id=manager.id)
    session.add(ChatBinding(platform="qq", chat_user_id="10001", retailer_id=shop.id, bound_at=clock.now()))
    session.commit()
    opened = make.post(session, clock, settings, "下次培训是哪天")
    assert session.get(Ticket, opened.ticket_id).category == "training"
    assert _pledge(session, opened.ticket_id, PledgeKind.VISIT) is None
    due = _pledge(session, opened.ticket_id, PledgeKind.REPLY).due_at
    clock.advance(minutes=5)

    ticket = _recategorise(session, clock, opened.ticket_id, "complaint", agent)

    assert ticket.category == "complaint"
    changed = _events(session, ticket.id, "category_changed")
    assert [(e.actor_kind, e.actor_id, e.detail["was"], e.detail["to"]) for e in changed] == [
        (AuthorKind.STAFF, str(agent.id), "training", "complaint")]
    visit = _pledge(session, ticket.id, PledgeKind.VISIT)
    assert visit.state == PledgeState.PENDING and visit.owner_staff_id == manager.id
    ordered = _events(session, ticket.id, "visit_needed")
    assert [e.actor_kind for e in ordered] == [AuthorKind.SYSTEM]  # by the rule, not by the agent
    assert {r.category for r in session.exec(select(PledgeRound).where(PledgeRound.ticket_id == ticket.id))} == {
        "complaint"}
    assert _pledge(session, ticket.id, PledgeKind.REPLY).due_at == due  # the retailer has waited since they asked
    work = workload.report(session, _today(clock), Scope(), TZ, Policies().calendar("reply", TZ).is_workday)
    assert [(c.key, c.count) for c in work.by_category] == [("complaint", 1)]


def test_a_false_complaint_loses_the_visit_its_rule_ordered_but_not_one_a_person_ordered(
        session, clock, settings, group):
    agent = make.staff(session, clock)
    by_rule = make.post(session, clock, settings, "我要投诉送货员态度太差", user_id="10001").ticket_id
    by_person = make.post(session, clock, settings, "下次培训是哪天", user_id="10002").ticket_id
    assert session.get(Ticket, by_rule).category == "complaint"
    pledges.need_visit(session, by_person, note="当面讲一下", now=clock.now(), staff_id=agent.id, **_RULES)
    session.commit()
    _recategorise(session, clock, by_person, "complaint", agent)  # its visit already runs

    _recategorise(session, clock, by_rule, "delivery", agent)
    _recategorise(session, clock, by_person, "other", agent)

    cancelled = _pledge(session, by_rule, PledgeKind.VISIT)
    assert cancelled.state == PledgeState.CANCELLED and cancelled.state_reason.endswith("不再需要上门")
    assert _pledge(session, by_person, PledgeKind.VISIT).state == PledgeState.PENDING


@pytest.mark.parametrize(("category", "error"), [("chatter", "没有这个类别"), ("training", "已经是这个类别")])
def test_a_wrong_category_is_refused_and_changes_nothing(session, clock, settings, group, category, error):
    agent = make.staff(session, clock)
    ticket_id = make.post(session, clock, settings, "下次培训是哪天").ticket_id
    with pytest.raises(ServiceError, match=error):
        intake.recategorise_ticket(session, ticket_id, category, agent, now=clock.now(), **_RULES)
    session.rollback()
    assert session.get(Ticket, ticket_id).category == "training"
    assert _events(session, ticket_id, "category_changed") == []


def test_a_closed_tickets_category_is_corrected_for_the_reports_without_a_visit(session, clock, settings, group):
    agent = make.staff(session, clock)
    ticket_id = make.post(session, clock, settings, "下次培训是哪天").ticket_id
    intake.close_ticket(session, ticket_id, agent, None, now=clock.now(), **_RULES)
    session.commit()

    assert _recategorise(session, clock, ticket_id, "complaint", agent).category == "complaint"
    assert _pledge(session, ticket_id, PledgeKind.VISIT) is None


def test_chatter_taken_for_a_request_is_closed_and_not_counted(session, clock, settings, group):
    """服务态度没话说 给你们送面锦旗都行 opened a ticket: one click closes it, stops its clocks and keeps it out of
    the month's requests, which say how many were so marked."""
    agent = make.staff(session, clock)
    chatter = make.post(session, clock, settings, "扫码枪扫不出来怎么办", user_id="10001").ticket_id
    kept = make.post(session, clock, settings, "终端开不了机", user_id="10002").ticket_id

    ticket = intake.mark_not_a_request(session, chatter, agent, "夸我们的", now=clock.now(), **_RULES)
    session.commit()

    assert ticket.asked_nothing and ticket.status == TicketStatus.CLOSED
    assert _pledge(session, chatter, PledgeKind.REPLY).state == PledgeState.CANCELLED
    assert [(e.actor_id, e.detail["note"]) for e in _events(session, chatter, "not_a_request")] == [
        (str(agent.id), "夸我们的")]
    work = workload.report(session, _today(clock), Scope(), TZ, Policies().calendar("reply", TZ).is_workday)
    assert (work.requests, work.asked_nothing) == (1, 1)
    assert [(c.key, c.count) for c in work.by_category] == [("terminal", 1)]
    assert _pledge(session, kept, PledgeKind.REPLY).state == PledgeState.PENDING

    for again in (lambda: intake.mark_not_a_request(session, chatter, agent, None, now=clock.now(), **_RULES),
                  lambda: intake.recategorise_ticket(session, chatter, "other", agent, now=clock.now(), **_RULES)):
        with pytest.raises(ServiceError, match="不是诉求"):
            again()
        session.rollback()


def test_a_breach_stays_charged_until_a_supervisor_excuses_it(session, clock, settings, group):
    """Marking is not a way out of a late reply: the breach it had is still counted."""
    agent = make.staff(session, clock)
    ticket_id = make.post(session, clock, settings, "终端开不了机").ticket_id
    clock.advance(minutes=31)
    escalation.sweep(session, now=clock.now(), **_RULES)
    session.commit()

    intake.mark_not_a_request(session, ticket_id, agent, None, now=clock.now(), **_RULES)
    session.commit()

    reply = compliance.report(session, _today(clock), Scope(), TZ).by_kind[0].tally
    assert reply.breached_open == 1


def test_the_corrections_are_lines_labelled_for_the_intake_model(session, clock, settings, group):
    """Each corrected ticket once, under the label it ended with: the category it was last given, or chatter."""
    agent = make.staff(session, clock)
    twice = make.post(session, clock, settings, "下次培训是哪天", user_id="10001").ticket_id
    chatter = make.post(session, clock, settings, "终端开不了机", user_id="10002").ticket_id
    make.post(session, clock, settings, "扫码枪扫不出来怎么办", user_id="10003")  # not corrected
    since = clock.now()
    clock.advance(minutes=1)
    _recategorise(session, clock, twice, "complaint", agent)
    _recategorise(session, clock, twice, "marketing", agent)
    intake.mark_not_a_request(session, chatter, agent, None, now=clock.now(), **_RULES)
    session.commit()

    assert tickets.corrected_lines(session, since) == {"marketing": ["下次培训是哪天"], "chatter": ["终端开不了机"]}
    assert tickets.corrected_lines(session, clock.now() + timedelta(seconds=1)) == {}
    exported = tickets.corrections_file(session, since)
    assert exported.startswith("# 工作人员纠正的机器人判读（") and "，2 条）" in exported.splitlines()[0]
    assert yaml.safe_load(exported) == {"chatter_corrected": ["终端开不了机"],
                                        "marketing_corrected": ["下次培训是哪天"]}
    assert yaml.safe_load(tickets.corrections_file(session, clock.now() + timedelta(seconds=1))) == {}
