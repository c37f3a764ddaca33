"""Starts the one outbox sender of this process, delivering through connected bots."""

import asyncio
from datetime import datetime

import nonebot
from nonebot.plugin import PluginMetadata

from bot.models import OutboxMessage
from bot.runtime import get_runtime
from bot.sender import Sender
from plugins import chat

__plugin_meta__ = PluginMetadata(name="消息发送", description="发件箱投递", usage="")

driver = nonebot.get_driver()
_tasks: set[asyncio.Task] = set()


class NoneBotTransport:
    def connected(self) -> dict[str, str]:
        return {bot_id: platform for bot_id, bot in nonebot.get_bots().items()
                if (platform := chat.platform_of(bot))}

    async def send(self, bot_id: str, rows: list[OutboxMessage]) -> str | None:
        return await chat.deliver(nonebot.get_bot(bot_id), rows)

    async def find_sent(self, bot_id: str, rows: list[OutboxMessage], *, since: datetime) -> str | None:
        return await chat.find_sent(nonebot.get_bot(bot_id), rows, since=since)


@driver.on_startup
async def start_sender() -> None:
    sender = Sender(get_runtime(), NoneBotTransport())
    _tasks.add(asyncio.create_task(sender.run_forever(), name="outbox-sender"))


@driver.on_shutdown
async def stop_sender() -> None:
    for task in _tasks:
        task.cancel()
    await asyncio.gather(*_tasks, return_exceptions=True)
    _tasks.clear()
