from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.models import (
    ChatBinding,
    Lane,
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
from bot.policy import Policies
from bot.services import intake, tickets
from bot.services.errors import NotFound, ServiceError
from bot.services.intake import Result
from tests import factories as make

_RULES = {"policies": Policies(), "tz": ZoneInfo("Asia/Shanghai")}  # what the services' clocks run on


def all_tickets(session):
    return session.exec(select(Ticket)).all()


def reply_pledge(session, ticket_id):
    return session.exec(select(Pledge).where(Pledge.ticket_id == ticket_id,
                                             Pledge.kind == PledgeKind.REPLY)).one()


def test_a_question_opens_a_ticket_with_a_reply_pledge_and_an_acknowledgement(session, clock, settings, group):
    outcome = make.post(session, clock, settings, "扫码枪扫不出来怎么办", message_id="777")

    assert outcome.result == Result.OPENED
    ticket = session.get(Ticket, outcome.ticket_id)
    assert (ticket.category, ticket.status, ticket.retailer_id) == ("terminal", "open", None)
    assert ticket.text == "扫码枪扫不出来怎么办"
    pledge = reply_pledge(session, ticket.id)
    assert pledge.state == PledgeState.PENDING
    assert pledge.due_at == clock.now() + timedelta(minutes=30)
    # 10:00 in Shanghai plus 30 minutes; the number is the ticket's.
    assert f"#{ticket.id}" in outcome.reply_text and "10:30 前回复" in outcome.reply_text
    assert "功能终端" in outcome.reply_text
    assert session.exec(select(TicketMessage.message_id)).all() == ["777"]
    assert [e.action for e in session.exec(select(TicketEvent))] == ["opened"]


def test_the_acknowledgement_contains_no_personal_data(session, clock, settings, group):
    make.retailer(session, clock, license_no="430102100001", phone="13912345678")
    outcome = make.post(session, clock, settings, "我的手机13912345678 许可证430102100001 怎么延续")
    assert "13912345678" not in outcome.reply_text and "430102100001" not in outcome.reply_text
    assert "老王" not in outcome.reply_text


@pytest.mark.parametrize("text", ["你好", "谢谢！", "👍", "", "哈哈哈"])
def test_greetings_thanks_and_stickers_are_not_tickets(session, clock, settings, group, text):
    assert make.post(session, clock, settings, text).result == Result.IGNORED
    assert all_tickets(session) == []


def test_messages_in_unregistered_groups_are_ignored(session, clock, settings, group):
    outcome = make.post(session, clock, settings, "终端坏了怎么办", group_id="123456")
    assert outcome.result == Result.IGNORED and all_tickets(session) == []


def test_the_bots_own_messages_are_ignored(session, clock, settings, group):
    outcome = make.post(session, clock, settings, "终端坏了怎么办", user_id="20000", self_id="20000")
    assert outcome.result == Result.IGNORED


def test_follow_ups_within_the_window_join_the_open_ticket(session, clock, settings, group):
    first = make.post(session, clock, settings, "终端开不了机")
    clock.advance(minutes=9)
    second = make.post(session, clock, settings, "型号是老款的那个")
    assert second.result == Result.FOLLOW_UP and second.ticket_id == first.ticket_id
    assert second.reply_text is None
    clock.advance(minutes=9)  # the window counts from the last message
    assert make.post(session, clock, settings, "还是不行").ticket_id == first.ticket_id
    clock.advance(minutes=11)
    later = make.post(session, clock, settings, "订货平台登录不上怎么办")
    assert later.result == Result.OPENED and later.ticket_id != first.ticket_id


def test_another_retailer_in_the_window_gets_a_ticket_of_their_own(session, clock, settings, group):
    first = make.post(session, clock, settings, "终端开不了机", user_id="10001")
    other = make.post(session, clock, settings, "终端开不了机", user_id="10002")
    assert other.result == Result.OPENED and other.ticket_id != first.ticket_id


def test_quoting_the_acknowledgement_joins_the_ticket_after_the_window(session, clock, settings, group):
    first = make.post(session, clock, settings, "终端开不了机")
    make.sent(session, first.ticket_id, "ack-1", clock)
    session.commit()
    clock.advance(hours=3)
    follow = make.post(session, clock, settings, "补充一下", reply_to="ack-1")
    assert follow.result == Result.FOLLOW_UP and follow.ticket_id == first.ticket_id


def test_a_flood_from_one_user_becomes_one_ticket_and_keeps_every_message(session, clock, settings, group):
    for n in range(300):
        make.post(session, clock, settings, f"终端坏了怎么办 第{n}遍")
        clock.advance(seconds=1)
    assert len(all_tickets(session)) == 1
    assert len(session.exec(select(TicketMessage)).all()) == 300


def test_a_redelivered_event_is_not_stored_twice(session, clock, settings, group):
    make.post(session, clock, settings, "终端坏了怎么办", message_id="42")
    again = make.post(session, clock, settings, "终端坏了怎么办", message_id="42")
    assert again.result == Result.IGNORED
    assert len(session.exec(select(TicketMessage)).all()) == 1


def test_huge_and_code_like_messages_are_stored_verbatim(session, clock, settings, group):
    huge = "终端坏了怎么办" + "很" * 10_000
    outcome = make.post(session, clock, settings, huge)
    assert session.get(Ticket, outcome.ticket_id).text == huge
    clock.advance(hours=1)
    code = make.post(session, clock, settings, "[CQ:at,qq=all] 订货平台登录不上", user_id="10009")
    assert session.get(Ticket, code.ticket_id).text == "[CQ:at,qq=all] 订货平台登录不上"


def test_a_bound_sender_is_linked_to_their_retailer(session, clock, settings, group):
    shop = make.retailer(session, clock)
    session.add(ChatBinding(platform="qq", chat_user_id="10001", retailer_id=shop.id, bound_at=clock.now()))
    session.commit()
    outcome = make.post(session, clock, settings, "终端坏了怎么办")
    assert session.get(Ticket, outcome.ticket_id).retailer_id == shop.id


def test_trading_posts_become_flagged_tickets_with_a_reminder(session, clock, settings, group):
    outcome = make.post(session, clock, settings, "低价出售中华 私聊")
    ticket = session.get(Ticket, outcome.ticket_id)
    assert ticket.trading_flag and ticket.category == "monopoly"
    assert "不在群内买卖卷烟" in outcome.reply_text


def test_staff_messages_never_open_tickets(session, clock, settings, group):
    make.staff(session, clock, Role.MANAGER, chat_user_id="30001")
    outcome = make.post(session, clock, settings, "终端坏了怎么办", user_id="30001")
    assert outcome.result == Result.IGNORED and all_tickets(session) == []


def test_an_agent_quoting_the_retailer_meets_the_reply_pledge(session, clock, settings, group):
    agent = make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    opened = make.post(session, clock, settings, "终端开不了机", message_id="m1")
    clock.advance(minutes=5)
    outcome = make.post(session, clock, settings, "请长按电源键十秒重启", user_id="30001", reply_to="m1")
    assert outcome.result == Result.AGENT_REPLY and outcome.ticket_id == opened.ticket_id
    pledge = reply_pledge(session, opened.ticket_id)
    assert (pledge.state, pledge.met_by_staff_id, pledge.met_at) == (PledgeState.MET, agent.id, clock.now())
    assert session.get(Ticket, opened.ticket_id).status == TicketStatus.REPLIED


def test_an_agent_quoting_the_acknowledgement_meets_the_reply_pledge(session, clock, settings, group):
    make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    opened = make.post(session, clock, settings, "终端开不了机")
    make.sent(session, opened.ticket_id, "ack-9", clock)
    session.commit()
    assert reply_pledge(session, opened.ticket_id).state == PledgeState.PENDING  # the bot's ack meets nothing
    make.post(session, clock, settings, "马上处理", user_id="30001", reply_to="ack-9")
    assert reply_pledge(session, opened.ticket_id).state == PledgeState.MET


def test_an_agent_can_reply_by_ticket_number(session, clock, settings, group):
    make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    opened = make.post(session, clock, settings, "终端开不了机")
    outcome = make.post(session, clock, settings, f"#{opened.ticket_id} 已安排客户经理上门", user_id="30001")
    assert outcome.result == Result.AGENT_REPLY
    stored = session.exec(select(TicketMessage).where(TicketMessage.author_kind == "staff")).one()
    assert stored.text == "已安排客户经理上门"


def test_a_reply_by_number_in_another_group_is_posted_in_the_tickets_own_group(session, clock, settings, group):
    make.group(session, clock, group_id="900002")
    make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    opened = make.post(session, clock, settings, "终端开不了机", message_id="m7")
    outcome = make.post(session, clock, settings, f"#{opened.ticket_id} 请重启", user_id="30001", group_id="900002")
    assert outcome.result == Result.AGENT_REPLY
    assert reply_pledge(session, opened.ticket_id).state == PledgeState.MET
    posted = session.exec(select(OutboxMessage).where(OutboxMessage.target_id == "900001",
                                                      OutboxMessage.reply_to == "m7",
                                                      col(OutboxMessage.kind).is_(None))).one()
    assert posted.text.endswith("请重启")
    confirmation = session.exec(select(OutboxMessage).where(OutboxMessage.target_id == "30001",
                                                            OutboxMessage.lane == Lane.REPLY)).one()
    assert confirmation.target_kind == "private" and "已发给客户" in confirmation.text
    assert session.exec(select(OutboxMessage).where(OutboxMessage.target_id == "900002")).all() == []


def test_an_api_reply_meets_the_pledge_and_is_queued_for_the_group(session, clock, settings, group):
    agent = make.staff(session, clock, Role.AGENT)
    opened = make.post(session, clock, settings, "终端开不了机", message_id="m5")
    intake.reply_via_api(session, opened.ticket_id, agent, "[CQ:at,qq=all] 请重启试试", now=clock.now(),
                          **_RULES)
    session.commit()
    assert reply_pledge(session, opened.ticket_id).state == PledgeState.MET
    queued = session.exec(select(OutboxMessage).where(col(OutboxMessage.kind).is_(None))).one()
    assert (queued.target_kind, queued.target_id, queued.reply_to, queued.bot_id) == ("group", "900001", "m5", "20000")
    assert queued.text.endswith("[CQ:at,qq=all] 请重启试试") and f"#{opened.ticket_id}" in queued.text


def test_a_closed_ticket_takes_no_reply_and_cannot_be_closed_twice(session, clock, settings, group):
    agent = make.staff(session, clock, Role.AGENT)
    opened = make.post(session, clock, settings, "终端开不了机")
    intake.close_ticket(session, opened.ticket_id, agent, "已解决", now=clock.now(), **_RULES)
    session.commit()
    assert reply_pledge(session, opened.ticket_id).state == PledgeState.CANCELLED
    with pytest.raises(ServiceError):
        intake.reply_via_api(session, opened.ticket_id, agent, "hi", now=clock.now(),
                          **_RULES)
    with pytest.raises(ServiceError):
        intake.close_ticket(session, opened.ticket_id, agent, None, now=clock.now(), **_RULES)
    with pytest.raises(NotFound):
        intake.close_ticket(session, 99999, agent, None, now=clock.now(), **_RULES)


def test_after_closing_the_same_retailer_opens_a_new_ticket(session, clock, settings, group):
    agent = make.staff(session, clock, Role.AGENT)
    opened = make.post(session, clock, settings, "终端开不了机")
    intake.close_ticket(session, opened.ticket_id, agent, None, now=clock.now(), **_RULES)
    session.commit()
    again = make.post(session, clock, settings, "订货平台登录不上怎么办")
    assert again.result == Result.OPENED and again.ticket_id != opened.ticket_id


def test_tickets_are_listed_with_filters_and_pages(session, clock, settings, group):
    make.post(session, clock, settings, "终端开不了机", user_id="1")
    make.post(session, clock, settings, "送货少送了怎么办", user_id="2")
    clock.advance(days=1)
    make.post(session, clock, settings, "终端又黑屏了怎么办", user_id="3")
    total, rows = tickets.list_tickets(session, tickets.TicketFilter(category="terminal"), offset=0, limit=1)
    assert total == 2 and len(rows) == 1 and rows[0].sender_user_id == "3"
    total, _ = tickets.list_tickets(session, tickets.TicketFilter(created_to=clock.now() - timedelta(hours=1)),
                                    offset=0, limit=10)
    assert total == 2


def test_an_unbound_sender_is_told_how_to_bind_once_a_day(session, clock, settings, group):
    from bot import texts

    first = make.post(session, clock, settings, "终端开不了机怎么办")
    assert texts.BIND_HINT in first.reply_text
    clock.advance(minutes=30)
    second = make.post(session, clock, settings, "订货平台登录不上怎么办")
    assert second.result == Result.OPENED and texts.BIND_HINT not in second.reply_text
    clock.advance(days=1)
    assert texts.BIND_HINT in make.post(session, clock, settings, "送货少送了怎么办").reply_text
    shop = make.retailer(session, clock)
    session.add(ChatBinding(platform="qq", chat_user_id="10002", retailer_id=shop.id, bound_at=clock.now()))
    session.commit()
    bound = make.post(session, clock, settings, "终端开不了机怎么办", user_id="10002")
    assert texts.BIND_HINT not in bound.reply_text


# -- merging a duplicate ----------------------------------------------------------------------

def _two_tickets(session, clock, settings, *, other_user="10001"):
    first = make.post(session, clock, settings, "终端开不了机", message_id="m-first")
    clock.advance(hours=1)  # past the thread window: a ticket of its own
    second = make.post(session, clock, settings, "扫码枪扫不出来怎么办", message_id="m-second", user_id=other_user)
    assert first.ticket_id != second.ticket_id
    return first.ticket_id, second.ticket_id


def _merge(session, clock, source_id, target_id, agent):
    merged = intake.merge_tickets(session, source_id, target_id, agent, now=clock.now(), **_RULES)
    session.commit()
    return merged


def test_a_duplicate_merges_into_the_target_with_its_messages_closed_naming_it(session, clock, settings, group):
    agent = make.staff(session, clock)
    target_id, source_id = _two_tickets(session, clock, settings)
    clock.advance(minutes=5)

    merged = _merge(session, clock, source_id, target_id, agent)

    assert merged.moved == 1
    on_target = session.exec(select(TicketMessage.message_id).where(TicketMessage.ticket_id == target_id)
                             .order_by(col(TicketMessage.id))).all()
    assert on_target == ["m-first", "m-second"]
    assert session.exec(select(TicketMessage).where(TicketMessage.ticket_id == source_id)).all() == []
    source, target = session.get(Ticket, source_id), session.get(Ticket, target_id)
    assert source.status == TicketStatus.CLOSED and target.status == TicketStatus.OPEN
    assert target.latest_text == "扫码枪扫不出来怎么办" and target.last_message_at == source.last_message_at
    closing = session.exec(select(TicketEvent).where(TicketEvent.ticket_id == source_id,
                                                     TicketEvent.action == "closed")).one()
    assert closing.detail["reason"] == f"已合并到工单 #{target_id}" and closing.detail["merged_into"] == target_id
    assert closing.actor_id == str(agent.id)
    pledge = reply_pledge(session, source_id)
    assert pledge.state == PledgeState.CANCELLED and pledge.state_reason == f"已合并到工单 #{target_id}"
    assert reply_pledge(session, target_id).state == PledgeState.PENDING  # the target's clock runs on
    merged_event = session.exec(select(TicketEvent).where(TicketEvent.ticket_id == target_id,
                                                          TicketEvent.action == "merged")).one()
    assert merged_event.detail["source_ticket_id"] == source_id and len(merged_event.detail["message_ids"]) == 1
    assert tickets.merged_into(session, source) == target_id and tickets.merged_into(session, target) is None


def test_the_targets_replies_still_quote_its_own_first_message(session, clock, settings, group):
    agent = make.staff(session, clock)
    source_id, target_id = _two_tickets(session, clock, settings)  # the older ticket is the duplicate
    _merge(session, clock, source_id, target_id, agent)
    # both are in the group: the earliest request there is quoted, now the duplicate's
    assert tickets.first_retailer_message(session, target_id) == "m-first"


def test_a_duplicate_asked_in_private_chat_is_never_quoted_in_the_group(session, clock, settings, group):
    agent = make.staff(session, clock)
    private = intake.handle_private_message(
        session, intake.PrivateMessage(platform="qq", user_id="10001", text="终端开不了机怎么办", message_id="p-1"),
        now=clock.now(), settings=settings, policies=Policies())
    session.commit()
    assert private.ticket_id is not None
    clock.advance(hours=1)
    in_group = make.post(session, clock, settings, "终端开不了机，屏幕是黑的", message_id="g-1")
    _merge(session, clock, private.ticket_id, in_group.ticket_id, agent)
    assert tickets.first_retailer_message(session, in_group.ticket_id) == "g-1"


def test_after_a_merge_the_retailers_words_on_the_duplicate_join_the_target(session, clock, settings, group):
    agent = make.staff(session, clock)
    target_id, source_id = _two_tickets(session, clock, settings)
    make.sent(session, source_id, "ack-of-second", clock)  # the bot's acknowledgement of the duplicate
    session.commit()
    _merge(session, clock, source_id, target_id, agent)

    clock.advance(minutes=2)  # the duplicate's message is the sender's latest: it stands for the target
    unquoted = make.post(session, clock, settings, "型号是老款的那个")
    assert (unquoted.result, unquoted.ticket_id) == (Result.FOLLOW_UP, target_id)
    quoting_theirs = make.post(session, clock, settings, "就是这个问题", reply_to="m-second")
    assert (quoting_theirs.result, quoting_theirs.ticket_id) == (Result.FOLLOW_UP, target_id)
    quoting_the_bot = make.post(session, clock, settings, "对，就是这台", reply_to="ack-of-second")
    assert (quoting_the_bot.result, quoting_the_bot.ticket_id) == (Result.FOLLOW_UP, target_id)
    assert session.get(Ticket, source_id).status == TicketStatus.CLOSED


def _unchanged(session, source_id, target_id):
    return (session.get(Ticket, source_id).status, session.get(Ticket, target_id).status,
            len(session.exec(select(TicketMessage).where(TicketMessage.ticket_id == source_id)).all()),
            reply_pledge(session, source_id).state,
            len(session.exec(select(TicketEvent).where(col(TicketEvent.ticket_id).in_([source_id, target_id]))).all()))


def test_a_ticket_cannot_merge_into_itself_a_closed_or_missing_ticket(session, clock, settings, group):
    agent = make.staff(session, clock)
    target_id, source_id = _two_tickets(session, clock, settings)
    before = _unchanged(session, source_id, target_id)

    with pytest.raises(ServiceError, match=r"不能把工单 #\d+ 合并到它自己"):
        intake.merge_tickets(session, source_id, source_id, agent, now=clock.now(), **_RULES)
    with pytest.raises(NotFound, match="目标工单 #999999 不存在"):
        intake.merge_tickets(session, source_id, 999_999, agent, now=clock.now(), **_RULES)
    session.rollback()
    assert _unchanged(session, source_id, target_id) == before

    intake.close_ticket(session, target_id, agent, None, now=clock.now(), **_RULES)
    session.commit()
    before = _unchanged(session, source_id, target_id)
    with pytest.raises(ServiceError, match=r"目标工单 #\d+ 已关闭"):
        intake.merge_tickets(session, source_id, target_id, agent, now=clock.now(), **_RULES)
    session.rollback()
    assert _unchanged(session, source_id, target_id) == before
    with pytest.raises(ServiceError, match="已关闭，不能再合并"):  # a closed duplicate stays as it is
        intake.merge_tickets(session, target_id, source_id, agent, now=clock.now(), **_RULES)


def test_tickets_of_different_senders_do_not_merge(session, clock, settings, group):
    agent = make.staff(session, clock)
    target_id, source_id = _two_tickets(session, clock, settings, other_user="10002")
    before = _unchanged(session, source_id, target_id)
    with pytest.raises(ServiceError, match="不是同一位客户"):
        intake.merge_tickets(session, source_id, target_id, agent, now=clock.now(), **_RULES)
    session.rollback()
    assert _unchanged(session, source_id, target_id) == before
