"""Intake: every group message goes to the intake service, which decides what it is; whatever
the bot says back goes through the outbox, so this plugin sends nothing itself.

This is the only matcher for group messages (tests/plugins/test_routing.py pins it): the column
plugins (supply_notices, new_products, terminal_help, training) name their columns for the 帮助
menu and take no message themselves.
"""

from functools import cache

import nonebot
from nonebot import on_message
from nonebot.adapters import Event
from nonebot.plugin import PluginMetadata

from bot import texts
from bot.runtime import get_runtime
from bot.services import intake as intake_service
from plugins import chat

__plugin_meta__ = PluginMetadata(
    name="工单受理", description="群内零售客户的诉求登记为工单，客服引用回复即为回帖", usage="在群里直接提问即可"
)

# First and blocking: group messages are the many, so each is checked against one rule and stops here.
intake = on_message(rule=chat.is_group_message, priority=5, block=True)


@cache
def loaded_columns() -> tuple[str, ...]:
    """The columns whose plugins are loaded, in the menu's order (all plugins load before any event)."""
    loaded = {plugin.metadata.extra.get("column") for plugin in nonebot.get_loaded_plugins() if plugin.metadata}
    return tuple(column for column in texts.COLUMNS if column in loaded)


@intake.handle()
async def handle_group_message(event: Event) -> None:
    runtime = get_runtime()
    knowledge = await runtime.knowledge_ready()  # still being built just after a start
    await runtime.run(intake_service.handle_group_message, chat.group_message(event), now=runtime.clock.now(),
                      settings=runtime.settings, policies=runtime.policies, knowledge=knowledge,
                      columns=loaded_columns())
