"""Intake: every group message goes to the ticket service; the bot acknowledges new tickets."""

from nonebot import on_message
from nonebot.adapters import Bot, Event
from nonebot.plugin import PluginMetadata

from bot.runtime import get_runtime
from bot.services import tickets
from plugins import chat

__plugin_meta__ = PluginMetadata(
    name="工单受理", description="群内零售客户的诉求登记为工单，客服引用回复即为回帖", usage="在群里直接提问即可"
)

intake = on_message(rule=chat.is_group_message, priority=50, block=False)


@intake.handle()
async def handle_group_message(bot: Bot, event: Event) -> None:
    runtime = get_runtime()
    outcome = await runtime.run(tickets.handle_group_message, chat.group_message(event),
                                now=runtime.clock.now(), settings=runtime.settings,
                                policies=runtime.policies, knowledge=runtime.knowledge)
    if outcome.reply_text:
        message_id = await chat.reply(bot, event, outcome.reply_text)
        if outcome.result == tickets.Result.OPENED:  # so that quoting the acknowledgement finds the ticket
            await runtime.run(tickets.record_acknowledgement, outcome, message_id, now=runtime.clock.now())
