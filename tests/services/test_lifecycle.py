"""The ticket lifecycle as retailers and staff meet it: threading that never swallows a request,
reopening, owners and claims, staff commands confirmed privately, private chat."""

from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot import texts
from bot.models import (
    ChatBinding,
    Lane,
    LoginLink,
    OutboxMessage,
    Pledge,
    PledgeKind,
    PledgeState,
    Role,
    Ticket,
    TicketEvent,
    TicketMessage,
    TicketStatus,
)
from bot.services import intake, pledges, signin, tickets
from bot.services.errors import Conflict
from bot.services.intake import Result
from tests import factories as make


@pytest.fixture
def agents(session, clock):
    return [make.staff(session, clock, Role.AGENT, chat_user_id=f"3000{n}", name=f"客服{n}") for n in (1, 2)]


def reply_pledge(session, ticket_id):
    return session.exec(select(Pledge).where(Pledge.ticket_id == ticket_id, Pledge.kind == PledgeKind.REPLY)).one()


def to(session, chat_id):
    return [m.text for m in session.exec(select(OutboxMessage).where(OutboxMessage.target_id == chat_id)
                                         .order_by(col(OutboxMessage.id)))]


def private(session, clock, settings, text, user_id="10001", knowledge=None):
    message = intake.PrivateMessage(platform="qq", user_id=user_id, text=text)
    outcome = intake.handle_private_message(session, message, now=clock.now(), settings=settings,
                                            policies=make.Policies(), knowledge=knowledge)
    session.commit()
    return outcome


# -- threading --------------------------------------------------------------------------------

def test_a_new_request_after_an_automatic_answer_gets_a_ticket_of_its_own(session, clock, runtime, group):
    """The first-week report: 返利 and a complaint were silently appended to an answered ticket."""
    ask = {"knowledge": runtime.knowledge, "policies": runtime.policies}
    answered = make.post(session, clock, runtime.settings, "扫码枪扫不出来怎么办", **ask)
    assert session.get(Ticket, answered.ticket_id).status == TicketStatus.ANSWERED
    clock.advance(seconds=10)
    rebate = make.post(session, clock, runtime.settings, "返利什么时候到账", **ask)
    clock.advance(seconds=10)
    complaint = make.post(session, clock, runtime.settings, "我要投诉！送货员态度很差", **ask)
    assert rebate.result == Result.OPENED and complaint.result == Result.OPENED
    assert len({answered.ticket_id, rebate.ticket_id, complaint.ticket_id}) == 3
    assert session.get(Ticket, complaint.ticket_id).category == "complaint"
    assert "visit" in {p.kind for p in session.exec(select(Pledge).where(Pledge.ticket_id == complaint.ticket_id))}
    said = {m.ticket_id for m in session.exec(select(OutboxMessage).where(OutboxMessage.target_id == "900001"))}
    assert {rebate.ticket_id, complaint.ticket_id} <= said  # each answered or acknowledged in the group


def test_more_words_on_an_open_request_join_it_and_show_as_its_latest(session, clock, settings, group):
    first = make.post(session, clock, settings, "终端开不了机")
    for more in ("型号是老款的那个", "怎么办啊", "还是不行", "终端按了电源键也没反应"):
        clock.advance(minutes=1)
        outcome = make.post(session, clock, settings, more)
        assert (outcome.result, outcome.ticket_id) == (Result.FOLLOW_UP, first.ticket_id), more
    ticket = session.get(Ticket, first.ticket_id)
    assert ticket.text == "终端开不了机" and ticket.latest_text == "终端按了电源键也没反应"


@pytest.mark.parametrize("then", ["返利什么时候到账", "订货平台登录不上怎么办", "我要投诉送货员态度差"])
def test_a_different_request_within_the_window_opens_its_own_ticket(session, clock, settings, group, then):
    first = make.post(session, clock, settings, "扫码枪扫不出来怎么办")
    clock.advance(minutes=2)
    other = make.post(session, clock, settings, then)
    assert other.result == Result.OPENED and other.ticket_id != first.ticket_id


def test_a_post_that_named_nothing_goes_into_the_request_that_says_what_it_was(session, clock, runtime, group):
    """不会弄, then 终端上入库那个: one ticket, answered, with both lines; no agent sent to ask what was meant."""
    ask = {"knowledge": runtime.knowledge, "policies": runtime.policies}
    vague = make.post(session, clock, runtime.settings, "不会弄", **ask)
    assert vague.result == Result.OPENED and "自动回答" not in vague.reply_text
    clock.advance(minutes=1)
    said = make.post(session, clock, runtime.settings, "终端上入库那个", **ask)
    assert said.result == Result.OPENED and said.ticket_id != vague.ticket_id and "自动回答" in said.reply_text
    assert session.get(Ticket, vague.ticket_id).status == TicketStatus.CLOSED
    assert tickets.merged_into(session, session.get(Ticket, vague.ticket_id)) == said.ticket_id
    assert reply_pledge(session, vague.ticket_id).state == PledgeState.CANCELLED
    lines = [m.text for m in session.exec(select(TicketMessage).where(TicketMessage.ticket_id == said.ticket_id)
                                          .order_by(col(TicketMessage.id)))]
    assert lines == ["不会弄", "终端上入库那个"]


@pytest.mark.parametrize("first", ["收银机坏了", "订货平台登录不上怎么办"])
def test_a_post_that_named_its_subject_keeps_its_ticket_when_another_request_follows(session, clock, runtime, group,
                                                                                     first):
    ask = {"knowledge": runtime.knowledge, "policies": runtime.policies}
    named = make.post(session, clock, runtime.settings, first, **ask)
    clock.advance(minutes=1)
    other = make.post(session, clock, runtime.settings, "返利什么时候到账", **ask)
    assert other.ticket_id != named.ticket_id
    assert session.get(Ticket, named.ticket_id).status != TicketStatus.CLOSED


def test_a_vague_post_an_agent_already_replied_to_stays_its_own_ticket(session, clock, runtime, group, agents):
    shop = make.retailer(session, clock)  # bound: the replied ticket waits for its callback instead of closing
    session.add(ChatBinding(platform="qq", chat_user_id="10001", retailer_id=shop.id, bound_at=clock.now()))
    session.commit()
    ask = {"knowledge": runtime.knowledge, "policies": runtime.policies}
    vague = make.post(session, clock, runtime.settings, "弄不了", message_id="v1", **ask)
    make.post(session, clock, runtime.settings, "您好，是哪个弄不了？终端还是订货平台？", user_id="30001",
              reply_to="v1")
    replied = session.get(Ticket, vague.ticket_id).status
    assert replied != TicketStatus.CLOSED
    clock.advance(minutes=1)
    said = make.post(session, clock, runtime.settings, "扫码枪扫不出来", **ask)
    assert said.ticket_id != vague.ticket_id
    assert session.get(Ticket, vague.ticket_id).status == replied


def test_not_solved_after_a_reply_reopens_the_same_ticket_for_the_agent_who_had_it(session, clock, settings,
                                                                                   group, agents):
    opened = make.post(session, clock, settings, "订货平台登录不上怎么办", message_id="q1")
    make.post(session, clock, settings, "请清除缓存后重新登录", user_id="30001", reply_to="q1")
    # an unbound sender: no callback to make, so the replied ticket is already closed; 没解决 still reopens it
    assert session.get(Ticket, opened.ticket_id).status == TicketStatus.CLOSED
    clock.advance(hours=1)
    again = make.post(session, clock, settings, "试了还是不行")
    assert (again.result, again.ticket_id) == (Result.REOPENED, opened.ticket_id)
    assert "重新交给客服" in again.reply_text
    pledge = reply_pledge(session, opened.ticket_id)
    assert (pledge.state, pledge.owner_staff_id, pledge.started_at) == (PledgeState.PENDING, agents[0].id,
                                                                         clock.now())
    assert pledge.due_at == clock.now() + timedelta(minutes=30)
    [task] = [t for t in to(session, "30001") if "待回复" in t]
    assert "客户表示问题没有解决" in task and "订货平台登录不上怎么办" in task
    reasons = [e.detail.get("reason") for e in session.exec(select(TicketEvent).where(
        TicketEvent.action == "reopened"))]
    assert reasons == ["not solved"]


def test_a_callback_runs_again_after_the_reply_to_a_reopened_ticket(session, clock, runtime, group, agents):
    policies, tz = runtime.policies, runtime.settings.tz
    caller = make.staff(session, clock, Role.CALLBACK, chat_user_id="70001", name="回访员")
    shop = make.retailer(session, clock)
    session.add(ChatBinding(platform="qq", chat_user_id="10001", retailer_id=shop.id, bound_at=clock.now()))
    session.commit()
    opened = make.post(session, clock, runtime.settings, "订货平台登录不上怎么办")
    intake.reply_via_api(session, opened.ticket_id, agents[0], "请重置密码", now=clock.now(), policies=policies, tz=tz)
    pledges.record_callback(session, opened.ticket_id, caller, reached=True, score=1, reply_in_time=False,
                            visit_happened=None, comment="没用", now=clock.now(), policies=policies, tz=tz)
    session.commit()
    assert session.get(Ticket, opened.ticket_id).status == TicketStatus.OPEN
    assert reply_pledge(session, opened.ticket_id).owner_staff_id == agents[0].id  # back to who had it
    clock.advance(hours=1)
    intake.reply_via_api(session, opened.ticket_id, agents[0], "已为您重置，请再试", now=clock.now(),
                         policies=policies, tz=tz)
    session.commit()
    callback = session.exec(select(Pledge).where(Pledge.ticket_id == opened.ticket_id,
                                                 Pledge.kind == PledgeKind.CALLBACK)).one()
    assert (callback.state, callback.started_at) == (PledgeState.PENDING, clock.now())
    assert len([t for t in to(session, "70001") if "回访任务" in t]) == 2
    assert "回复和上门" not in to(session, "70001")[-1]  # no visit happened: the task does not say so


# -- owners, claims and staff commands ---------------------------------------------------------

def test_an_agent_claims_a_ticket_and_a_second_agent_is_told_it_is_taken(session, clock, settings, group, agents):
    opened = make.post(session, clock, settings, "订货平台登录不上怎么办", message_id="q2")
    claimed = make.post(session, clock, settings, f"#{opened.ticket_id} 接单", user_id="30001")
    assert claimed.result == Result.STAFF_COMMAND
    assert reply_pledge(session, opened.ticket_id).owner_staff_id == agents[0].id
    assert "你已接单" in to(session, "30001")[-1]
    refused = make.post(session, clock, settings, f"#{opened.ticket_id} 接单", user_id="30002")
    assert refused.result == Result.STAFF_COMMAND and "已由 客服1 接单" in to(session, "30002")[-1]
    assert reply_pledge(session, opened.ticket_id).owner_staff_id == agents[0].id
    make.post(session, clock, settings, f"#{opened.ticket_id} 接单 确认", user_id="30002")
    assert reply_pledge(session, opened.ticket_id).owner_staff_id == agents[1].id
    assert to(session, "900001") == [m for m in to(session, "900001") if m.startswith("收到")]  # nothing else there


def test_an_api_reply_on_a_ticket_another_agent_took_needs_confirmation(session, clock, settings, group, agents):
    opened = make.post(session, clock, settings, "订货平台登录不上怎么办")
    pledges.claim(session, session.get(Ticket, opened.ticket_id), agents[0], now=clock.now(), confirm=False)
    session.commit()
    with pytest.raises(Conflict, match="客服1"):
        intake.reply_via_api(session, opened.ticket_id, agents[1], "我来回", now=clock.now(),
                             policies=make.Policies(), tz=settings.tz)
    session.rollback()
    assert reply_pledge(session, opened.ticket_id).state == PledgeState.PENDING  # the refusal changed nothing
    intake.reply_via_api(session, opened.ticket_id, agents[1], "我来回", now=clock.now(), policies=make.Policies(),
                         tz=settings.tz, confirm=True)
    session.commit()
    assert reply_pledge(session, opened.ticket_id).met_by_staff_id == agents[1].id


def test_the_first_agent_to_reply_owns_the_reply_pledge(session, clock, settings, group, agents):
    opened = make.post(session, clock, settings, "订货平台登录不上怎么办", message_id="q3")
    make.post(session, clock, settings, "请重新登录", user_id="30002", reply_to="q3")
    assert reply_pledge(session, opened.ticket_id).owner_staff_id == agents[1].id


def test_a_breach_of_an_unclaimed_reply_is_attributed_to_the_agents_on_duty(session, clock, runtime, group, agents):
    from bot.services import escalation

    make.post(session, clock, runtime.settings, "订货平台登录不上怎么办")
    clock.advance(minutes=31)
    escalation.sweep(session, now=clock.now(), policies=runtime.policies, tz=runtime.settings.tz)
    on_duty = runtime.policies.model_copy(update={"agents_on_duty": [agents[1].id]})
    session.commit()
    [breach] = session.exec(select(TicketEvent).where(TicketEvent.action == "pledge_breached")).all()
    assert breach.detail["attributed_to"] == sorted(a.id for a in agents) and breach.detail["owner_staff_id"] is None
    second = make.post(session, clock, runtime.settings, "送货少送了两条", user_id="10002")
    clock.advance(minutes=31)
    escalation.sweep(session, now=clock.now(), policies=on_duty, tz=runtime.settings.tz)
    session.commit()
    later = session.exec(select(TicketEvent).where(TicketEvent.action == "pledge_breached",
                                                   TicketEvent.ticket_id == second.ticket_id)).one()
    assert later.detail["attributed_to"] == [agents[1].id]


def test_notices_name_the_store_the_request_and_what_to_do(session, clock, runtime, group, agents):
    from bot.services import escalation

    shop = make.retailer(session, clock)
    session.add(ChatBinding(platform="qq", chat_user_id="10001", retailer_id=shop.id, bound_at=clock.now()))
    session.commit()
    make.post(session, clock, runtime.settings, "订货平台登录不上怎么办", policies=runtime.policies)
    clock.advance(minutes=24)
    escalation.sweep(session, now=clock.now(), policies=runtime.policies, tz=runtime.settings.tz)
    session.commit()
    warning = to(session, "30001")[-1]
    assert shop.store_name in warning and "订货平台登录不上怎么办" in warning and "10:30" in warning
    assert "#1 回复内容" in warning  # the next step


def test_a_ticket_number_that_does_not_exist_is_answered_privately(session, clock, settings, group, agents):
    outcome = make.post(session, clock, settings, "#999 回复一下", user_id="30001")
    assert outcome.result == Result.STAFF_COMMAND
    assert to(session, "30001") == [texts.NO_SUCH_TICKET.format(ticket_id=999)]
    assert to(session, "900001") == []


def test_a_supervisor_assigns_a_ticket_and_the_agent_is_told(session, clock, runtime, group, agents):
    opened = make.post(session, clock, runtime.settings, "订货平台登录不上怎么办")
    pledge = reply_pledge(session, opened.ticket_id)
    pledges.reassign(session, pledge.id, agents[1].id, now=clock.now(), policies=runtime.policies,
                     tz=runtime.settings.tz)
    session.commit()
    assert reply_pledge(session, opened.ticket_id).owner_staff_id == agents[1].id
    assert "督导把这个工单指派给你" in to(session, "30002")[-1]


def test_a_visit_task_never_goes_to_a_manager_without_a_chat_account_or_to_a_group(session, clock, runtime, group,
                                                                                  agents):
    runtime_policies = runtime.policies.model_copy(update={"agents_group_id": "123456"})
    quiet = make.staff(session, clock, Role.MANAGER, name="无账号经理")
    other = make.staff(session, clock, Role.MANAGER, name="别的经理", chat_user_id="60009")
    supervisor = make.staff(session, clock, Role.SUPERVISOR, name="督导", chat_user_id="40001")
    shop = make.retailer(session, clock, address="芙蓉路9号", manager_id=quiet.id)
    session.add(ChatBinding(platform="qq", chat_user_id="10001", retailer_id=shop.id, bound_at=clock.now()))
    session.commit()
    make.post(session, clock, runtime.settings, "我要投诉送货员", policies=runtime_policies)
    assert any("芙蓉路9号" in t for t in to(session, supervisor.chat_user_id))
    assert to(session, other.chat_user_id) == [] and to(session, "123456") == []
    assert all("芙蓉路9号" not in t for t in to(session, "900001"))


# -- private chat ------------------------------------------------------------------------------

def test_private_help_answers_each_role(session, clock, settings, agents):
    make.staff(session, clock, Role.MANAGER, chat_user_id="60001", name="刘经理")
    assert "上门 #工单号" in private(session, clock, settings, "帮助", user_id="60001").reply_text
    assert "接单" in private(session, clock, settings, "帮助", user_id="30001").reply_text
    assert "绑定 许可证号" in private(session, clock, settings, "帮助", user_id="10001").reply_text


def test_a_managers_tasks_list_their_open_visits(session, clock, runtime, group):
    manager = make.staff(session, clock, Role.MANAGER, chat_user_id="60001", name="刘经理")
    shop = make.retailer(session, clock, manager_id=manager.id)
    session.add(ChatBinding(platform="qq", chat_user_id="10001", retailer_id=shop.id, bound_at=clock.now()))
    session.commit()
    opened = make.post(session, clock, runtime.settings, "终端黑屏了开不了机", policies=runtime.policies)
    tasks = private(session, clock, runtime.settings, "我的任务", user_id="60001").reply_text
    assert f"工单 #{opened.ticket_id}" in tasks and "上门服务" in tasks and shop.store_name in tasks
    assert private(session, clock, runtime.settings, "我的任务", user_id="60001").result == Result.STAFF_COMMAND


def test_a_retailers_question_in_private_is_answered_or_becomes_a_ticket(session, clock, runtime, agents):
    answered = private(session, clock, runtime.settings, "扫码枪扫不出来怎么办", knowledge=runtime.knowledge)
    assert answered.result == Result.OPENED and "自动回答" in answered.reply_text
    handed = private(session, clock, runtime.settings, "店里的烟柜玻璃裂了能不能帮忙换", user_id="10002",
                     knowledge=runtime.knowledge)
    assert handed.result == Result.OPENED and "前回复您" in handed.reply_text
    ticket = session.get(Ticket, handed.ticket_id)
    assert (ticket.chat_group_id, ticket.platform, ticket.sender_user_id) == (None, "qq", "10002")
    assert private(session, clock, runtime.settings, "谢谢", user_id="10002").reply_text is None
    intake.reply_via_api(session, ticket.id, agents[0], "已安排", now=clock.now(), policies=runtime.policies,
                         tz=runtime.settings.tz)
    session.commit()
    reply = session.exec(select(OutboxMessage).where(OutboxMessage.target_id == "10002",
                                                     OutboxMessage.lane == Lane.REPLY)).one()
    assert reply.target_kind == "private" and reply.text.endswith("已安排")


def test_an_agent_replies_privately_and_the_bot_posts_it_in_the_group(session, clock, settings, group, agents):
    opened = make.post(session, clock, settings, "订货平台登录不上怎么办", message_id="q5")
    answer = private(session, clock, settings, f"#{opened.ticket_id} 请重置密码后再试", user_id="30001")
    assert answer.reply_text == texts.REPLY_POSTED.format(ticket_id=opened.ticket_id)
    posted = session.exec(select(OutboxMessage).where(OutboxMessage.target_id == "900001",
                                                      col(OutboxMessage.kind).is_(None))).one()
    assert posted.reply_to == "q5" and posted.text.endswith("请重置密码后再试")
    assert reply_pledge(session, opened.ticket_id).state == PledgeState.MET


def test_the_pledge_list_filters_by_an_inclusive_due_window(session, clock, settings, group):
    first = make.post(session, clock, settings, "订货平台登录不上怎么办")
    due = reply_pledge(session, first.ticket_id).due_at
    total, rows = pledges.list_pledges(session, kinds=None, state=None, owner_staff_id=None, breached=None,
                                       due_before=due, due_after=due, offset=0, limit=10)
    assert total == 1 and rows[0].ticket_id == first.ticket_id
    total, _ = pledges.list_pledges(session, kinds=["visit"], state=None, owner_staff_id=None, breached=None,
                                    due_before=None, due_after=None, offset=0, limit=10)
    assert total == 0


def test_quoting_a_combined_acknowledgement_asks_which_ticket(session, clock, settings, group, agents):
    first = make.post(session, clock, settings, "订货平台登录不上怎么办", user_id="10001")
    second = make.post(session, clock, settings, "送货少送了两条", user_id="10002")
    rows = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "ack")).all()
    from bot.services import outbox

    outbox.mark_sent(session, [row.id for row in rows], now=clock.now(), sent_message_id="combined-1")
    session.commit()
    outcome = make.post(session, clock, settings, "马上处理", user_id="30001", reply_to="combined-1")
    assert outcome.result == Result.STAFF_COMMAND and to(session, "30001") == [texts.AMBIGUOUS_QUOTE]
    assert reply_pledge(session, first.ticket_id).state == reply_pledge(session, second.ticket_id).state == "pending"
    retailer = make.post(session, clock, settings, "补充：是昨天开始的", user_id="10002", reply_to="combined-1")
    assert (retailer.result, retailer.ticket_id) == (Result.FOLLOW_UP, second.ticket_id)  # their own ticket


def test_a_retailer_asking_about_a_visit_in_private_is_not_told_it_is_a_managers_command(session, clock, runtime):
    asked = private(session, clock, runtime.settings, "上门维修一般要等几天？", knowledge=runtime.knowledge)
    assert asked.result == Result.OPENED and asked.reply_text != texts.VISIT_NOT_STAFF
    command = private(session, clock, runtime.settings, "上门 #1 已处理", user_id="10002")
    assert command.reply_text == texts.VISIT_NOT_STAFF


# -- 登录: the web console link ----------------------------------------------------------------

def test_a_staff_member_gets_a_one_time_console_link_in_private(session, clock, runtime, agents):
    answer = private(session, clock, runtime.settings, "登录", user_id="30001", knowledge=runtime.knowledge)
    assert answer.result == Result.STAFF_COMMAND
    prefix = f"{runtime.settings.console_url}/console/login/"
    assert prefix in answer.reply_text and "10 分钟" in answer.reply_text and "一次" in answer.reply_text
    link = session.exec(select(LoginLink)).one()
    assert (link.staff_id, link.chat_user_id) == (agents[0].id, "30001")
    code = answer.reply_text.split(prefix, 1)[1].split()[0]
    assert signin.redeem_link(session, code, now=clock.now(), address=None).token
    assert session.exec(select(OutboxMessage)).all() == []  # said in this chat only, never queued
    for spelling in ("登陆", "控制台"):
        assert prefix in private(session, clock, runtime.settings, spelling, user_id="30002").reply_text
    assert len(session.exec(select(LoginLink)).all()) == 3
    assert "「登录」" in private(session, clock, runtime.settings, "帮助", user_id="30001").reply_text


def test_a_retailer_asking_for_the_console_link_is_refused_without_a_link(session, clock, runtime, agents):
    answer = private(session, clock, runtime.settings, "登录", user_id="10001", knowledge=runtime.knowledge)
    assert answer.reply_text == texts.CONSOLE_NOT_STAFF and "/console/login/" not in answer.reply_text
    assert session.exec(select(LoginLink)).all() == []
    assert session.exec(select(Ticket)).all() == [] and session.exec(select(OutboxMessage)).all() == []


def test_login_written_in_a_group_by_staff_says_nothing_anywhere(session, clock, runtime, group, agents):
    for spelling in ("登录", "登陆", "控制台"):
        outcome = make.post(session, clock, runtime.settings, spelling, user_id="30001",
                            knowledge=runtime.knowledge, policies=runtime.policies)
        assert outcome.result == Result.IGNORED and outcome.reply_text is None
    assert session.exec(select(OutboxMessage)).all() == []
    assert session.exec(select(LoginLink)).all() == []


@pytest.mark.parametrize(("text", "category", "entry"), [
    ("终端黑屏了开不了机怎么办", "terminal", "terminal.no-boot"),  # a fault whose words order a visit
    ("客户经理电话一直打不通 我要投诉他 怎么投诉", "complaint", "general.complaint"),  # a complaint always does
])
def test_a_ticket_a_person_must_deal_with_gets_the_known_answer_as_first_aid(session, clock, runtime, group, text,
                                                                            category, entry):
    """The base's answer goes out under the acknowledgement; the ticket still waits for its reply and visit."""
    opened = make.post(session, clock, runtime.settings, text, policies=runtime.policies, knowledge=runtime.knowledge)

    assert (opened.result, opened.reason, opened.entry_id) == (Result.OPENED, "first aid", entry)
    ticket = session.get(Ticket, opened.ticket_id)
    assert (ticket.category, ticket.status, ticket.knowledge_entry_id) == (category, TicketStatus.OPEN, None)
    pledge_states = dict(session.exec(select(Pledge.kind, Pledge.state).where(Pledge.ticket_id == ticket.id)).all())
    assert pledge_states == {PledgeKind.REPLY: PledgeState.PENDING, PledgeKind.VISIT: PledgeState.PENDING}
    answer = next(known for known in runtime.knowledge.index.entries if known.id == entry).answer
    acknowledgement, first_aid = opened.reply_text.split("\n", 1)
    assert acknowledgement.startswith(f"收到，已登记为工单 #{ticket.id}") and "前回复您" in acknowledgement
    assert first_aid.startswith(texts.first_aid(answer))
    # the ticket is with staff already: the answer does not tell the retailer to ask for a person
    assert "转人工" not in first_aid and ("转人工" in answer) == ("等客服联系您" in first_aid)
    [shown] = session.exec(select(TicketEvent).where(TicketEvent.action == "first_aid_from_knowledge")).all()
    assert shown.detail["entry"] == entry
    # a first aid goes with the acknowledgements it may be combined with in a burst
    assert session.exec(select(OutboxMessage.kind).where(OutboxMessage.target_kind == "group")).one() == "ack"


def test_no_first_aid_tells_the_retailer_to_ask_for_a_person(runtime):
    """Under first aid a person has the ticket already: each entry's offer of 转人工 reads as staff getting in touch."""
    offering = [known.answer for known in runtime.knowledge.index.entries if "转人工" in known.answer]
    assert len(offering) > 20
    for answer in offering:
        assert "转人工" not in texts.first_aid(answer)


def test_a_fault_the_base_does_not_know_gets_no_first_aid(session, clock, runtime, group):
    opened = make.post(session, clock, runtime.settings, "店里的烟柜玻璃摔坏了 能派人来看看吗",
                       policies=runtime.policies, knowledge=runtime.knowledge)
    assert (opened.reason, opened.entry_id) == ("acknowledged", None)
    assert "在等待期间" not in opened.reply_text
