"""Pledges two and three: the account manager's visit and the district's callback."""

import pytest
from sqlmodel import select

from bot.models import ChatBinding, OutboxMessage, Pledge, PledgeState, Role, Ticket, TicketStatus
from bot.services import intake, pledges
from bot.services.errors import ServiceError
from tests import factories as make


@pytest.fixture
def people(session, clock):
    return {
        "agent": make.staff(session, clock, Role.AGENT, chat_user_id="30001", name="客服"),
        "manager": make.staff(session, clock, Role.MANAGER, chat_user_id="60001", name="刘经理"),
        "caller": make.staff(session, clock, Role.CALLBACK, chat_user_id="70001", name="回访员"),
        "supervisor": make.staff(session, clock, Role.SUPERVISOR, chat_user_id="40001", name="督查"),
    }


@pytest.fixture
def shop(session, clock, people):
    return make.bound_shop(session, clock, people["manager"].id)


def kinds(session, ticket_id):
    return {p.kind: p for p in session.exec(select(Pledge).where(Pledge.ticket_id == ticket_id))}


def messages_to(session, chat_id):
    return [m.text for m in session.exec(select(OutboxMessage).where(OutboxMessage.target_id == chat_id))]


def test_a_hardware_fault_sends_a_visit_task_to_the_retailers_own_manager(session, clock, runtime, shop, people):
    opened = make.post(session, clock, runtime.settings, "终端黑屏了开不了机", policies=runtime.policies)
    visit = kinds(session, opened.ticket_id)["visit"]
    assert (visit.owner_staff_id, visit.state) == (people["manager"].id, PledgeState.PENDING)
    [task] = messages_to(session, "60001")
    assert "芙蓉路1号" in task and "13912345678" in task and "终端黑屏了开不了机" in task  # private, to staff
    in_group = messages_to(session, "900001")  # the acknowledgement only: the shop's details stay private
    assert len(in_group) == 1 and "芙蓉路1号" not in in_group[0] and "13912345678" not in in_group[0]


def test_the_full_round_reply_visit_then_callback_closes_the_ticket(session, clock, runtime, shop, people):
    policies, tz = runtime.policies, runtime.settings.tz
    opened = make.post(session, clock, runtime.settings, "终端坏了怎么办", policies=policies)
    intake.reply_via_api(session, opened.ticket_id, people["agent"], "经理马上上门", now=clock.now(),
                          policies=policies, tz=tz)
    session.commit()
    assert "callback" not in kinds(session, opened.ticket_id)  # the visit is still open
    clock.advance(hours=3)
    pledges.record_visit(session, opened.ticket_id, people["manager"], action="更换了电源适配器", notes=None,
                         visited_at=None, now=clock.now(), policies=policies, tz=tz)
    session.commit()
    callback = kinds(session, opened.ticket_id)["callback"]
    assert callback.state == PledgeState.PENDING
    assert any("回访任务" in text for text in messages_to(session, "70001"))

    with pytest.raises(ServiceError, match="未参与"):  # the manager who visited may not call back
        pledges.record_callback(session, opened.ticket_id, people["manager"], reached=True, score=5,
                                reply_in_time=True, visit_happened=True, comment=None, now=clock.now(),
                                policies=policies, tz=tz)
    pledges.record_callback(session, opened.ticket_id, people["caller"], reached=True, score=5,
                            reply_in_time=True, visit_happened=True, comment="很满意", now=clock.now(),
                            policies=policies, tz=tz)
    session.commit()
    assert kinds(session, opened.ticket_id)["callback"].state == PledgeState.MET
    assert session.get(Ticket, opened.ticket_id).status == TicketStatus.CLOSED


def test_a_low_score_reopens_the_ticket_and_tells_the_supervisor(session, clock, runtime, shop, people):
    policies, tz = runtime.policies, runtime.settings.tz
    opened = make.post(session, clock, runtime.settings, "订货平台登录不上怎么办", policies=policies)
    intake.reply_via_api(session, opened.ticket_id, people["agent"], "请重置密码", now=clock.now(),
                          policies=policies, tz=tz)
    session.commit()
    pledges.record_callback(session, opened.ticket_id, people["caller"], reached=True, score=2,
                            reply_in_time=False, visit_happened=None, comment="回复太慢", now=clock.now(),
                            policies=policies, tz=tz)
    session.commit()
    assert session.get(Ticket, opened.ticket_id).status == TicketStatus.OPEN
    [alert] = messages_to(session, "40001")
    assert "2 分" in alert and "回复太慢" in alert


def test_unreachable_calls_are_retried_up_to_the_limit(session, clock, runtime, shop, people):
    policies, tz = runtime.policies, runtime.settings.tz
    opened = make.post(session, clock, runtime.settings, "订货平台登录不上怎么办", policies=policies)
    intake.reply_via_api(session, opened.ticket_id, people["agent"], "请重置密码", now=clock.now(),
                          policies=policies, tz=tz)
    for _attempt in range(policies.callback_attempts):
        assert kinds(session, opened.ticket_id)["callback"].state == PledgeState.PENDING
        pledges.record_callback(session, opened.ticket_id, people["caller"], reached=False, score=None,
                                reply_in_time=None, visit_happened=None, comment="无人接听", now=clock.now(),
                                policies=policies, tz=tz)
        session.commit()
    callback = kinds(session, opened.ticket_id)["callback"]
    assert (callback.state, callback.state_reason) == (PledgeState.NOT_APPLICABLE, "多次电话联系不上")
    assert session.get(Ticket, opened.ticket_id).status == TicketStatus.CLOSED  # nothing left to keep
    with pytest.raises(ServiceError):
        pledges.record_callback(session, opened.ticket_id, people["caller"], reached=True, score=4,
                                reply_in_time=True, visit_happened=None, comment=None, now=clock.now(),
                                policies=policies, tz=tz)


def test_a_visit_for_an_unbound_sender_asks_an_agent_to_identify_the_shop(session, clock, runtime, shop, people):
    opened = make.post(session, clock, runtime.settings, "我要投诉送货员", user_id="10099", policies=runtime.policies)
    visit = kinds(session, opened.ticket_id)["visit"]
    assert visit.owner_staff_id is None
    [ask] = messages_to(session, "30001")
    assert "请确认店铺" in ask and f"#{opened.ticket_id} 绑定" in ask and "10099" in ask
    assert messages_to(session, "60001") == [] and messages_to(session, "40001") == []

    outcome = make.post(session, clock, runtime.settings, f"#{opened.ticket_id} 绑定 430102100001", user_id="30001",
                        policies=runtime.policies)
    assert outcome.result == intake.Result.STAFF_COMMAND
    assert session.get(Ticket, opened.ticket_id).retailer_id == shop.id
    assert session.exec(select(ChatBinding).where(ChatBinding.chat_user_id == "10099")).one().retailer_id == shop.id
    assert kinds(session, opened.ticket_id)["visit"].owner_staff_id == people["manager"].id
    [task] = messages_to(session, "60001")
    assert "上门任务" in task and "芙蓉路1号" in task
    confirmation = messages_to(session, "30001")[-1]
    assert "刘经理" in confirmation and shop.store_name in confirmation
    assert len(messages_to(session, "900001")) == 1  # only the retailer's acknowledgement, never a command's answer


def test_a_visit_for_a_retailer_without_a_manager_goes_to_the_supervisors_to_assign(session, clock, runtime, people):
    make.group(session, clock)
    orphan = make.retailer(session, clock, license_no="430102100002", address="五一路2号")
    session.add(ChatBinding(platform="qq", chat_user_id="10098", retailer_id=orphan.id, bound_at=clock.now()))
    session.commit()
    opened = make.post(session, clock, runtime.settings, "我要投诉送货员", user_id="10098", policies=runtime.policies)
    visit = kinds(session, opened.ticket_id)["visit"]
    assert visit.owner_staff_id is None
    [ask] = messages_to(session, "40001")
    assert "待指派" in ask and "五一路2号" in ask and "没有登记客户经理" in ask
    pledges.reassign(session, visit.id, people["manager"].id, now=clock.now(), policies=runtime.policies,
                     tz=runtime.settings.tz)
    session.commit()
    assert any("上门任务" in text for text in messages_to(session, "60001"))
    with pytest.raises(ServiceError):  # only someone who can do the task
        pledges.reassign(session, visit.id, people["agent"].id, now=clock.now(), policies=runtime.policies,
                         tz=runtime.settings.tz)


def test_an_agent_orders_a_visit_in_the_group(session, clock, runtime, shop, people):
    opened = make.post(session, clock, runtime.settings, "订货平台登录不上怎么办", policies=runtime.policies)
    outcome = make.post(session, clock, runtime.settings, f"#{opened.ticket_id} 上门 帮忙看看电脑",
                        user_id="30001", policies=runtime.policies)
    assert outcome.result == intake.Result.STAFF_COMMAND
    assert "刘经理" in messages_to(session, "30001")[-1]  # confirmed privately
    assert len(messages_to(session, "900001")) == 1  # the group has only the acknowledgement
    assert kinds(session, opened.ticket_id)["visit"].owner_staff_id == people["manager"].id
    assert any("帮忙看看电脑" in text for text in messages_to(session, "60001"))
    assert kinds(session, opened.ticket_id)["reply"].state == PledgeState.PENDING  # ordering is not replying
