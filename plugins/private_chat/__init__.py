"""Private chat with the bot: the intake service decides (binding, 我的信息, supply questions, a
retailer's question answered or handed to an agent, staff commands and 我的任务, 帮助 for each
role); this plugin only parses the event and says the answer.

One matcher with a plain type check: NoneBot's startswith/fullmatch rules would
validate every group message's text as well (measured in bench/intake_load.py).
"""

from nonebot import on_message
from nonebot.adapters import Bot, Event
from nonebot.plugin import PluginMetadata

from bot import texts
from bot.runtime import get_runtime
from bot.services import intake
from plugins import chat

__plugin_meta__ = PluginMetadata(
    name="私聊服务", description="零售客户绑定账号、查询本人信息和提问；工作人员处理工单和查看任务",
    usage=texts.BIND_USAGE,
)

private = on_message(rule=chat.is_private_message, priority=10, block=False)


@private.handle()
async def handle_private_message(bot: Bot, event: Event) -> None:
    runtime = get_runtime()
    knowledge = await runtime.knowledge_ready()  # still being built just after a start
    outcome = await runtime.run(intake.handle_private_message, chat.private_message(bot, event),
                                now=runtime.clock.now(),
                                settings=runtime.settings, policies=runtime.policies, knowledge=knowledge)
    if outcome.reply_text:
        await private.finish(outcome.reply_text)
