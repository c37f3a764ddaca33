"""The intake plugin in a group, driven through nonebug."""

from datetime import datetime

from nonebot.adapters.onebot.v11 import Bot, GroupMessageEvent, Message, MessageSegment
from nonebot.adapters.onebot.v11.event import Sender
from nonebug import App
from sqlmodel import select

from bot import texts
from bot.models import OutboxMessage, Ticket
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


def queued(session):
    """What the bot will say (the plugin sends nothing itself: every answer goes through the outbox)."""
    return [(m.target_kind, m.target_id, m.reply_to, m.text)
            for m in session.exec(select(OutboxMessage).order_by(OutboxMessage.id))]


async def test_a_question_in_a_registered_group_is_acknowledged_with_its_ticket(app: App, session, clock):
    from plugins.intake import intake

    make.group(session, clock)
    event = group_event("终端开不了机怎么办", message_id=41)
    async with app.test_matcher(intake) as ctx:
        bot = ctx.create_bot(base=Bot, self_id="20000")
        ctx.receive_event(bot, event)
    assert session.exec(select(Ticket)).one().status == "open"
    [(kind, target, quoted, text)] = [row for row in queued(session) if row[0] == "group"]
    assert (kind, target, quoted) == ("group", "900001", "41")
    assert text.startswith("收到，已登记为工单 #1（功能终端），客服将在 10:30 前回复您。") and texts.BIND_HINT in text
    assert session.exec(select(OutboxMessage.kind).where(OutboxMessage.target_kind == "group")).one() == "ack"


async def test_chatter_and_unregistered_groups_get_no_answer(app: App, session, clock):
    from plugins.intake import intake

    make.group(session, clock)
    async with app.test_matcher(intake) as ctx:
        bot = ctx.create_bot(base=Bot, self_id="20000")
        ctx.receive_event(bot, group_event("谢谢大家", message_id=51))
        ctx.receive_event(bot, group_event("终端开不了机怎么办", message_id=52, group_id=123))
    assert session.exec(select(Ticket)).all() == []


async def test_an_agent_quoting_the_retailer_gets_no_echo_and_meets_the_pledge(app: App, session, clock):
    from bot.models import Pledge, Role
    from plugins.intake import intake

    make.group(session, clock)
    make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    async with app.test_matcher(intake) as ctx:
        bot = ctx.create_bot(base=Bot, self_id="20000")
        ctx.receive_event(bot, group_event("扫码枪扫不出来怎么办", message_id=61))
        ctx.receive_event(bot, group_event("长按电源键重启", user_id=30001, message_id=62, reply_to=61))
    assert session.exec(select(Pledge).where(Pledge.kind == "reply")).one().state == "met"
    said = queued(session)
    assert [row[0] for row in said] == ["group", "private"]  # the acknowledgement; no echo of the reply
    assert said[1][1] == "30001" and "已记录" in said[1][3]  # the agent is told privately


async def test_an_agent_ordering_a_visit_is_confirmed_privately(app: App, session, clock):
    from bot.models import Pledge, Role
    from plugins.intake import intake

    make.group(session, clock)
    make.staff(session, clock, Role.AGENT, chat_user_id="30001")
    async with app.test_matcher(intake) as ctx:
        bot = ctx.create_bot(base=Bot, self_id="20000")
        ctx.receive_event(bot, group_event("店门口的灯箱招牌不亮了谁来看看", message_id=71))
        ctx.receive_event(bot, group_event("#1 上门", user_id=30001, message_id=72))
        ctx.receive_event(bot, group_event("#99 好的", user_id=30001, message_id=73))
    assert {p.kind for p in session.exec(select(Pledge))} == {"reply", "visit"}
    to_agent = [text for kind, target, _, text in queued(session) if target == "30001"]
    assert texts.VISIT_NEEDS_SHOP.format(ticket_id=1) in to_agent  # an unbound sender: which shop is it?
    assert texts.NO_SUCH_TICKET.format(ticket_id=99) in to_agent
    assert [kind for kind, target, _, _ in queued(session) if target == "900001"] == ["group"]  # the ack alone


async def test_a_question_while_the_knowledge_index_is_still_being_built_waits_for_it(app: App, session, clock,
                                                                                       runtime, monkeypatch):
    """The service builds the index in a worker thread once it serves (bot/app.py): a question that comes
    first is answered from the whole knowledge base, not handed over for want of an index."""
    import threading

    from plugins.intake import intake

    make.group(session, clock)
    base, gate, building_when_asked = runtime.knowledge, threading.Event(), []
    runtime.build_knowledge(lambda: gate.wait(10) and base)
    ready = runtime.knowledge_ready

    async def asked():
        building_when_asked.append(not runtime._knowledge_built.done())
        gate.set()  # the build may finish now: the question must be waiting for it
        return await ready()

    monkeypatch.setattr(runtime, "knowledge_ready", asked)
    try:
        async with app.test_matcher(intake) as ctx:
            bot = ctx.create_bot(base=Bot, self_id="20000")
            ctx.receive_event(bot, group_event("扫码枪扫不出来怎么办", message_id=61))
    finally:
        runtime.knowledge = base
    assert building_when_asked == [True]
    [(_, _, quoted, text)] = [row for row in queued(session) if row[0] == "group"]
    assert quoted == "61" and "扫码枪" in text and "已登记为工单" not in text  # the knowledge base's answer
