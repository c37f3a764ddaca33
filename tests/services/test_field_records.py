"""What a visit and a callback record keep beyond the pledge: the visit's outcome and photo link, the
retailer's confirmations and the satisfaction items of seed 003 §八; each refusal changes nothing."""

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.models import CallbackRecord, Pledge, PledgeState, Role, Ticket, TicketStatus, VisitRecord
from bot.services import fieldwork, intake, pledges
from bot.services.errors import NotFound, ServiceError
from tests import factories as make


@pytest.fixture
def people(session, clock):
    return {
        "agent": make.staff(session, clock, Role.AGENT, chat_user_id="30001", name="客服"),
        "manager": make.staff(session, clock, Role.MANAGER, chat_user_id="60001", name="刘经理"),
        "other": make.staff(session, clock, Role.MANAGER, chat_user_id="60002", name="王经理"),
        "caller": make.staff(session, clock, Role.CALLBACK, chat_user_id="70001", name="回访员"),
        "supervisor": make.staff(session, clock, Role.SUPERVISOR, chat_user_id="40001", name="督查"),
    }


@pytest.fixture
def shop(session, clock, people):
    return make.bound_shop(session, clock, people["manager"].id)


def pledge_of(session, ticket_id, kind):
    return session.exec(select(Pledge).where(Pledge.ticket_id == ticket_id, Pledge.kind == kind)).one()


def records(session, model, ticket_id):
    return list(session.exec(select(model).where(model.ticket_id == ticket_id)))


@pytest.fixture
def complaint(session, clock, runtime, shop, people):
    """A complaint (always a visit), replied to by the agent: the visit is the manager's to make."""
    opened = make.post(session, clock, runtime.settings, "我要投诉，送货员态度很差", policies=runtime.policies)
    intake.reply_via_api(session, opened.ticket_id, people["agent"], "已转客户经理处理", now=clock.now(),
                         policies=runtime.policies, tz=runtime.settings.tz)
    session.commit()
    clock.advance(hours=2)
    return opened.ticket_id


def visit(session, clock, runtime, ticket_id, staff, **fields):
    values = {"action": "当面致歉并调换了送货员", "notes": None, "visited_at": None, **fields}
    return pledges.record_visit(session, ticket_id, staff, now=clock.now(), policies=runtime.policies,
                                tz=runtime.settings.tz, **values)


def call(session, clock, runtime, ticket_id, staff, **fields):
    values = {"reached": True, "score": 4, "reply_in_time": True, "visit_happened": None, "comment": None, **fields}
    return pledges.record_callback(session, ticket_id, staff, now=clock.now(), policies=runtime.policies,
                                   tz=runtime.settings.tz, **values)


def test_a_visit_keeps_its_outcome_and_photo_link(session, clock, runtime, people, complaint):
    record = visit(session, clock, runtime, complaint, people["manager"], outcome="resolved",
                   photo_url="https://pan.example.com/p/visit-1.jpg", visited_at=clock.now().replace(minute=0))
    session.commit()
    stored = session.get(VisitRecord, record.id)
    assert (stored.outcome, stored.photo_url) == ("resolved", "https://pan.example.com/p/visit-1.jpg")
    assert pledge_of(session, complaint, "visit").state == PledgeState.MET


@pytest.mark.parametrize(("fields", "error"), [
    ({"outcome": "fixed"}, "上门结果须是"),
    ({"photo_url": "pan.example.com/p.jpg"}, "照片链接须是"),
    ({"photo_url": "javascript:alert(1)"}, "照片链接须是"),
    ({"photo_url": "https://example.com/" + "a" * 500}, "最多 500"),
    ({"action": "  "}, "请填写上门做了什么"),
])
def test_a_bad_visit_is_refused_and_nothing_changes(session, clock, runtime, people, complaint, fields, error):
    with pytest.raises(ServiceError, match=error):
        visit(session, clock, runtime, complaint, people["manager"], **fields)
    session.rollback()
    assert records(session, VisitRecord, complaint) == []
    assert pledge_of(session, complaint, "visit").state == PledgeState.PENDING


def test_a_visit_may_not_be_dated_in_the_future_or_before_the_request(session, clock, runtime, people, complaint):
    for when, error in ((clock.now() + timedelta(hours=1), "不能晚于现在"),
                        (clock.now() - timedelta(days=3), "不能早于")):
        with pytest.raises(ServiceError, match=error):
            visit(session, clock, runtime, complaint, people["manager"], visited_at=when)
        session.rollback()
    assert records(session, VisitRecord, complaint) == []


def test_another_managers_visit_is_not_found_in_their_tasks(session, clock, runtime, people, complaint):
    assert [t.ticket.id for t in fieldwork.visit_tasks(session, people["manager"])] == [complaint]
    assert fieldwork.visit_tasks(session, people["other"]) == []
    assert [t.ticket.id for t in fieldwork.visit_tasks(session, people["supervisor"])] == [complaint]
    task = fieldwork.visit_task(session, people["manager"], complaint)
    assert task.retailer.address == "芙蓉路1号" and task.note == "按类别规则需要上门"
    with pytest.raises(NotFound):
        fieldwork.record_visit(session, complaint, people["other"], action="去了", notes=None, outcome="resolved",
                               photo_url=None, visited_at=None, now=clock.now(), policies=runtime.policies,
                               tz=runtime.settings.tz)
    session.rollback()
    assert records(session, VisitRecord, complaint) == []


def test_a_call_keeps_the_confirmations_and_the_satisfaction_items(session, clock, runtime, people, complaint):
    visit(session, clock, runtime, complaint, people["manager"], outcome="resolved")
    session.commit()
    items = pledges.Items(supply="satisfied", manager="fair", handling="not_involved")
    record = call(session, clock, runtime, complaint, people["caller"], visit_happened=True, items=items)
    session.commit()
    stored = session.get(CallbackRecord, record.id)
    assert (stored.score, stored.reply_in_time, stored.visit_happened) == (4, True, True)
    assert (stored.supply_satisfaction, stored.manager_satisfaction, stored.handling_satisfaction) == (
        "satisfied", "fair", "not_involved")
    assert session.get(Ticket, complaint).status == TicketStatus.CLOSED


@pytest.fixture
def replied(session, clock, runtime, shop, people):
    """A question without a visit, replied to: the callback runs."""
    opened = make.post(session, clock, runtime.settings, "订货平台登录不上怎么办", policies=runtime.policies)
    intake.reply_via_api(session, opened.ticket_id, people["agent"], "请重置密码", now=clock.now(),
                         policies=runtime.policies, tz=runtime.settings.tz)
    session.commit()
    assert pledge_of(session, opened.ticket_id, "callback").state == PledgeState.PENDING
    return opened.ticket_id


@pytest.mark.parametrize(("fields", "error"), [
    ({"score": 0}, "1 到 5 分"),
    ({"score": 6}, "1 到 5 分"),
    ({"score": None}, "必须填写满意度"),
    ({"reached": False, "score": 3}, "未接通的电话不能填写满意度评分"),
    ({"reached": False, "score": None, "reply_in_time": True}, "未接通的电话不能填写客户的确认"),
    ({"reached": False, "score": None, "reply_in_time": None, "items": pledges.Items(supply="fair")},
     "未接通的电话不能填写客户的确认"),
    ({"visit_happened": True}, "没有上门记录"),
    ({"items": pledges.Items(manager="great")}, "「客户经理服务」须是"),
])
def test_a_bad_call_is_refused_and_nothing_changes(session, clock, runtime, people, replied, fields, error):
    with pytest.raises(ServiceError, match=error):
        call(session, clock, runtime, replied, people["caller"], **fields)
    session.rollback()
    assert records(session, CallbackRecord, replied) == []
    assert pledge_of(session, replied, "callback").state == PledgeState.PENDING
    assert session.get(Ticket, replied).status != TicketStatus.CLOSED


def test_the_calls_list_counts_this_rounds_unreachable_tries(session, clock, runtime, people, replied):
    for _ in range(2):
        recorded = fieldwork.record_call(session, replied, people["caller"], reached=False, score=None,
                                         reply_in_time=None, visit_happened=None, items=pledges.Items(),
                                         comment="无人接听", now=clock.now(), policies=runtime.policies,
                                         tz=runtime.settings.tz)
        session.commit()
    assert "已记录第 2 次" in recorded.message and f"最多 {runtime.policies.callback_attempts} 次" in recorded.message
    [task] = fieldwork.call_tasks(session, people["caller"], policies=runtime.policies)
    assert (task.ticket.id, task.tries, task.limit, task.visit_met) == (
        replied, 2, runtime.policies.callback_attempts, False)
    assert task.replied.who == "客服" and task.retailer.phone == "13912345678"
    low = fieldwork.record_call(session, replied, people["caller"], reached=True, score=2, reply_in_time=False,
                                visit_happened=None, items=pledges.Items(), comment="太慢", now=clock.now(),
                                policies=runtime.policies, tz=runtime.settings.tz)
    session.commit()
    assert low.message == f"工单 #{replied} 评分 2 分：工单已重新打开，回复承诺重新计时，已通知主管"
    assert session.get(Ticket, replied).status == TicketStatus.OPEN
