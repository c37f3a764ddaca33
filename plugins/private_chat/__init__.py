"""Private chat with the bot. Retailers: 绑定 <许可证号> <手机后四位>, 解绑, 我的信息 (their own card),
and supply or launch questions (我能订多少 answers with their own quotas).
Account managers: 上门 #<工单号> <处理情况> records a visit.

One matcher with a plain type check: NoneBot's startswith/fullmatch rules would
validate every group message's text as well (measured in bench/intake_load.py).
"""

import re

from nonebot import on_message
from nonebot.adapters import Bot, Event
from nonebot.plugin import PluginMetadata

from bot import texts
from bot.runtime import get_runtime
from bot.services import directory, inquiries, pledges
from plugins import chat

__plugin_meta__ = PluginMetadata(
    name="账号绑定", description="零售客户私聊绑定许可证", usage=texts.BIND_USAGE
)

_BIND_ARGS = re.compile(r"^绑定\s*([0-9A-Za-z]{6,32})\s+(\d{4})$")
_VISIT_ARGS = re.compile(r"^上门\s*[#＃](\d{1,9})\s*(.+)$", re.DOTALL)
_BIND_ANSWERS = {
    directory.BindResult.BOUND: texts.BIND_OK,
    directory.BindResult.MISMATCH: texts.BIND_MISMATCH,
    directory.BindResult.LOCKED: texts.BIND_LOCKED,
    directory.BindResult.TAKEN: texts.BIND_TAKEN,
    directory.BindResult.ALREADY: texts.BIND_ALREADY,
}

binding = on_message(rule=chat.is_private_message, priority=10, block=False)


@binding.handle()
async def handle_private_message(bot: Bot, event: Event) -> None:
    text = chat.plain_text(event).strip()
    runtime = get_runtime()
    platform, user_id = chat.platform_of(bot), event.get_user_id()
    if text.startswith("上门"):
        args = _VISIT_ARGS.match(text)
        if args is None:
            await binding.finish(texts.VISIT_USAGE)
        answer = await runtime.run(pledges.record_visit_from_chat, platform=platform, chat_user_id=user_id,
                                   ticket_id=int(args.group(1)), action=args.group(2).strip(),
                                   now=runtime.clock.now(), policies=runtime.policies, tz=runtime.settings.tz)
        await binding.finish(answer)
    if text in {"我的信息", "我的资料"}:
        await binding.finish(await runtime.run(directory.my_card, platform=platform, chat_user_id=user_id))
    if text == "解绑":
        removed = await runtime.run(directory.self_unbind, platform=platform, chat_user_id=user_id)
        await binding.finish(texts.UNBIND_OK if removed else texts.UNBIND_NONE)
    if not text.startswith("绑定"):
        asked = await runtime.run(inquiries.answer, inquiries.Asker(platform, user_id, None), text,
                                  now=runtime.clock.now(), tz=runtime.settings.tz, policies=runtime.policies)
        if asked:
            await binding.finish(asked.text)
        return
    args = _BIND_ARGS.match(text)
    if args is None:
        await binding.finish(texts.BIND_USAGE)
    outcome = await runtime.run(
        directory.self_bind, platform=platform, chat_user_id=user_id, license_no=args.group(1),
        phone_last4=args.group(2), now=runtime.clock.now(), tz=runtime.settings.tz)
    await binding.finish(_BIND_ANSWERS[outcome.result].format(store_name=outcome.store_name))
