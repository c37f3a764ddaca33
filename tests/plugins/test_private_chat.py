"""Self-binding in a private chat, driven through nonebug."""

from datetime import datetime

from nonebot.adapters.onebot.v11 import Bot, Message, PrivateMessageEvent
from nonebot.adapters.onebot.v11.event import Sender
from nonebug import App
from sqlmodel import select

from bot import texts
from bot.models import ChatBinding
from tests import factories as make


def private_event(text: str, user_id: int = 10001) -> PrivateMessageEvent:
    return PrivateMessageEvent(
        time=int(datetime.now().timestamp()), self_id=20000, post_type="message", sub_type="friend",
        user_id=user_id, message_type="private", message_id=1, message=Message(text),
        original_message=Message(text), raw_message=text, font=0,
        sender=Sender(user_id=user_id, nickname="老王"), to_me=True,
    )


async def test_a_retailer_binds_and_unbinds_in_private(app: App, session, clock):
    from plugins.private_chat import private as binding

    shop = make.retailer(session, clock, license_no="430102100001", phone="139-1234-5678")
    async with app.test_matcher(binding) as ctx:
        bot = ctx.create_bot(base=Bot, self_id="20000")
        event = private_event("绑定 430102100001 5678")
        ctx.receive_event(bot, event)
        ctx.should_call_send(event, texts.BIND_OK.format(store_name=shop.store_name), result={"message_id": 1})
        ctx.should_finished()
    assert session.exec(select(ChatBinding.retailer_id)).all() == [shop.id]

    async with app.test_matcher(binding) as ctx:
        bot = ctx.create_bot(base=Bot, self_id="20000")
        event = private_event("解绑")
        ctx.receive_event(bot, event)
        ctx.should_call_send(event, texts.UNBIND_OK, result={"message_id": 2})
    assert session.exec(select(ChatBinding)).all() == []


async def test_a_malformed_bind_command_gets_the_usage(app: App, session, clock):
    from plugins.private_chat import private as binding

    async with app.test_matcher(binding) as ctx:
        bot = ctx.create_bot(base=Bot, self_id="20000")
        event = private_event("绑定 我的店")
        ctx.receive_event(bot, event)
        ctx.should_call_send(event, texts.BIND_USAGE, result={"message_id": 3})


async def test_five_wrong_tries_lock_the_account_for_the_day(app: App, session, clock):
    from plugins.private_chat import private as binding

    make.retailer(session, clock, license_no="430102100001", phone="13912345678")
    answers = [texts.BIND_MISMATCH] * 4 + [texts.BIND_LOCKED, texts.BIND_LOCKED]
    async with app.test_matcher(binding) as ctx:
        bot = ctx.create_bot(base=Bot, self_id="20000")
        for attempt, answer in enumerate(answers):
            # the last try is right, but the account is already locked
            digits = "5678" if attempt == len(answers) - 1 else f"{attempt:04d}"
            event = private_event(f"绑定 430102100001 {digits}")
            ctx.receive_event(bot, event)
            ctx.should_call_send(event, answer, result={"message_id": attempt})
    assert session.exec(select(ChatBinding)).all() == []


async def test_my_card_goes_to_the_retailer_in_private(app: App, session, clock):
    from bot.models import Role
    from plugins.private_chat import private as binding

    manager = make.staff(session, clock, Role.MANAGER, name="刘经理")
    manager.work_no = "KM007"
    session.add(manager)
    shop = make.retailer(session, clock, license_no="430102100001", grade=18, ordering_day="每周二",
                         delivery_day="每周三", manager_id=manager.id)
    session.add(ChatBinding(platform="qq", chat_user_id="10001", retailer_id=shop.id, bound_at=clock.now()))
    session.commit()
    expected = texts.my_card(store_name=shop.store_name, license_no="430102100001", grade=18, ordering_day="每周二",
                             delivery_day="每周三", manager_name="刘经理", manager_work_no="KM007")
    async with app.test_matcher(binding) as ctx:
        bot = ctx.create_bot(base=Bot, self_id="20000")
        event = private_event("我的信息")
        ctx.receive_event(bot, event)
        ctx.should_call_send(event, expected, result={"message_id": 5})
        stranger = private_event("我的信息", user_id=10002)
        ctx.receive_event(bot, stranger)
        ctx.should_call_send(stranger, texts.MY_CARD_UNBOUND, result={"message_id": 6})
    assert "430102100001" in expected and "KM007" in expected and "18 档" in expected


async def test_a_bound_retailer_asks_for_their_quota_in_private(app: App, session, clock, runtime):
    from bot.services import supply
    from bot.services.supply import ItemIn
    from plugins.private_chat import private as binding

    shop = make.retailer(session, clock, grade=18)
    session.add(ChatBinding(platform="qq", chat_user_id="10001", retailer_id=shop.id, bound_at=clock.now()))
    tz = runtime.settings.tz
    notice = make.supply_notice(session, clock, tz, [
        ItemIn(product="玉溪(软)", quotas=[{"min_grade": 1, "max_grade": 20, "cartons": 4}])])
    supply.publish(session, notice.id, now=clock.now(), tz=tz)
    session.commit()
    async with app.test_matcher(binding) as ctx:
        bot = ctx.create_bot(base=Bot, self_id="20000")
        event = private_event("玉溪能订几条")
        ctx.receive_event(bot, event)
        ctx.should_call_send(event, "您是 18 档。第48周货源（订货 11月23日 08:30 至 11月24日 17:00）：\n玉溪(软)：4 条",
                             result={"message_id": 4})
        ctx.should_finished()


async def test_a_retailer_asking_for_the_console_link_is_told_politely_in_private(app: App, session, clock):
    from bot.models import LoginLink
    from plugins.private_chat import private as binding

    async with app.test_matcher(binding) as ctx:
        bot = ctx.create_bot(base=Bot, self_id="20000")
        event = private_event("登录")
        ctx.receive_event(bot, event)
        ctx.should_call_send(event, texts.CONSOLE_NOT_STAFF, result={"message_id": 7})
    assert session.exec(select(LoginLink)).all() == []
