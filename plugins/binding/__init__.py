"""Binding a chat account to a licence, in a private chat: 绑定 <许可证号> <手机后四位> / 解绑."""

import re

from nonebot import on_fullmatch, on_startswith
from nonebot.adapters import Bot, Event
from nonebot.plugin import PluginMetadata

from bot import texts
from bot.runtime import get_runtime
from bot.services import directory
from plugins import chat

__plugin_meta__ = PluginMetadata(
    name="账号绑定", description="零售客户私聊绑定许可证", usage=texts.BIND_USAGE
)

_BIND_ARGS = re.compile(r"^绑定\s*([0-9A-Za-z]{6,32})\s+(\d{4})\s*$")
_BIND_ANSWERS = {
    directory.BindResult.BOUND: texts.BIND_OK,
    directory.BindResult.MISMATCH: texts.BIND_MISMATCH,
    directory.BindResult.LOCKED: texts.BIND_LOCKED,
    directory.BindResult.TAKEN: texts.BIND_TAKEN,
    directory.BindResult.ALREADY: texts.BIND_ALREADY,
}

bind = on_startswith("绑定", rule=chat.is_private_message, priority=10, block=True)
unbind = on_fullmatch("解绑", rule=chat.is_private_message, priority=10, block=True)


@bind.handle()
async def handle_bind(bot: Bot, event: Event) -> None:
    args = _BIND_ARGS.match(event.get_plaintext().strip())
    if args is None:
        await bind.finish(texts.BIND_USAGE)
    runtime = get_runtime()
    outcome = await runtime.run(
        directory.self_bind, platform=chat.platform_of(bot), chat_user_id=event.get_user_id(),
        license_no=args.group(1), phone_last4=args.group(2), now=runtime.clock.now(),
        tz=runtime.settings.tz)
    await bind.finish(_BIND_ANSWERS[outcome.result].format(store_name=outcome.store_name))


@unbind.handle()
async def handle_unbind(bot: Bot, event: Event) -> None:
    runtime = get_runtime()
    removed = await runtime.run(directory.self_unbind, platform=chat.platform_of(bot),
                                chat_user_id=event.get_user_id())
    await unbind.finish(texts.UNBIND_OK if removed else texts.UNBIND_NONE)
