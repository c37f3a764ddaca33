"""Intake: every group message goes to the intake service, which decides what it is; whatever
the bot says back goes through the outbox, so this plugin sends nothing itself."""

from nonebot import on_message
from nonebot.adapters import Event
from nonebot.plugin import PluginMetadata

from bot.runtime import get_runtime
from bot.services import intake as intake_service
from plugins import chat

__plugin_meta__ = PluginMetadata(
    name="工单受理", description="群内零售客户的诉求登记为工单，客服引用回复即为回帖", usage="在群里直接提问即可"
)

intake = on_message(rule=chat.is_group_message, priority=50, block=False)


@intake.handle()
async def handle_group_message(event: Event) -> None:
    runtime = get_runtime()
    await runtime.run(intake_service.handle_group_message, chat.group_message(event), now=runtime.clock.now(),
                      settings=runtime.settings, policies=runtime.policies, knowledge=runtime.knowledge)
