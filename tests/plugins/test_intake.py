"""The intake plugin in a group, driven through nonebug."""

from datetime import datetime

from nonebot.adapters.onebot.v11 import Bot, GroupMessageEvent, Message, MessageSegment
from nonebot.adapters.onebot.v11.event import Sender
from nonebug import App
from sqlmodel import select

from bot import texts
from bot.models import Ticket, TicketMessage
from tests import factories as make


def group_event(text: str, *, user_id: int = 10001, message_id: int = 1, group_id: int = 900001,
                reply_to: int | None = None) -> GroupMessageEvent:
    message = Message(MessageSegment.text(text))
    if reply_to:  # as it arrives; the adapter keeps it in original_message
        message = MessageSegment.reply(reply_to) + message
    return GroupMessageEvent(
        time=int(datetime.now().timestamp()), self_id=20000, post_type="message", sub_type="normal",
        user_id=user_id, message_type="group", message_id=message_id, message=message,
        raw_message=text, font=0, group_id=group_id,
        sender=Sender(user_id=user_id, nickname="老王", card="", role="member"), to_me=False,
    )


def acknowledgement(quoted: int, ticket: str, hint: bool = True) -> Message:
    text = f"收到，已登记为工单 {ticket}，客服将在 10:30 前回复您。"
    return Message(MessageSegment.reply(quoted)) + MessageSegment.text(
        text + ("\n" + texts.BIND_HINT if hint else ""))


async def test_a_question_in_a_registered_group_is_acknowledged_with_its_ticket(app: App, session, clock):
    from plugins.intake import intake

    make.group(session, clock)
    event = group_event("终端开不了机怎么办", message_id=41)
    async with app.test_matcher(intake) as ctx:
        bot = ctx.create_bot(base=Bot, self_id="20000")
        ctx.receive_event(bot, event)
        ctx.should_call_send(event, acknowledgement(41, "#1（功能终端）"), result={"message_id": 9001})
    assert session.exec(select(Ticket)).one().status == "open"
    assert sorted(session.exec(select(TicketMessage.message_id)).all()) == ["41", "9001"]


async def test_chatter_and_unregistered_groups_get_no_answer(app: App, session, clock):
    from plugins.intake import intake

    make.group(session, clock)
    async with app.test_matcher(intake) as ctx:
        bot = ctx.create_bot(base=Bot, self_id="20000")
        ctx.receive_event(bot, group_event("谢谢大家", message_id=51))
        ctx.receive_event(bot, group_event("终端开不了机怎么办", message_id=52, group_id=123))
    assert session.exec(select(Ticket)).all() == []


async def test_an_agent_quoting_the_retailer_gets_no_echo_and_meets_the_pledge(app: App, session, clock):
    from plugins.intake import intake

    from bot.models import Pledge, Role

    make.group(session, clock)
    make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    question = group_event("终端开不了机怎么办", message_id=61)
    async with app.test_matcher(intake) as ctx:
        bot = ctx.create_bot(base=Bot, self_id="20000")
        ctx.receive_event(bot, question)
        ctx.should_call_send(question, acknowledgement(61, "#1（功能终端）"), result={"message_id": 9002})
        ctx.receive_event(bot, group_event("长按电源键重启", user_id=30001, message_id=62, reply_to=61))
    assert session.exec(select(Pledge).where(Pledge.kind == "reply")).one().state == "met"


async def test_an_agent_ordering_a_visit_gets_a_confirmation(app: App, session, clock):
    from plugins.intake import intake

    from bot.models import Pledge, Role

    make.group(session, clock)
    make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    question = group_event("店门口的灯箱招牌坏了谁来修", message_id=71)
    order = group_event("#1 上门", user_id=30001, message_id=72)
    async with app.test_matcher(intake) as ctx:
        bot = ctx.create_bot(base=Bot, self_id="20000")
        ctx.receive_event(bot, question)
        ctx.should_call_send(question, acknowledgement(71, "#1（其他）"), result={"message_id": 9003})
        ctx.receive_event(bot, order)
        ctx.should_call_send(order, Message(MessageSegment.reply(72)) + MessageSegment.text(
            texts.VISIT_ORDERED.format(ticket_id=1)), result={"message_id": 9004})
    assert {p.kind for p in session.exec(select(Pledge))} == {"reply", "visit"}
