"""Starts the one outbox sender of this process, delivering through connected bots, and learns which
groups each account is in when it connects (`accounts.groups_listed`)."""

import asyncio
import logging
import weakref
from datetime import datetime

import nonebot
from nonebot.adapters import Bot
from nonebot.plugin import PluginMetadata

from bot.models import OutboxMessage
from bot.runtime import get_runtime
from bot.sender import Sender
from bot.services import accounts
from plugins import chat

__plugin_meta__ = PluginMetadata(name="消息发送", description="发件箱投递", usage="")

driver = nonebot.get_driver()
log = logging.getLogger(__name__)
_tasks: set[asyncio.Task] = set()
_senders: list[Sender] = []  # their recordings are awaited at shutdown


class BotDisconnected(ConnectionError):
    """The account went offline while a send through it waited for the platform's answer."""


class NoneBotTransport:
    def __init__(self) -> None:
        # set when that connection closes; a reconnection is a new Bot object with a new event
        self._gone: weakref.WeakKeyDictionary[Bot, asyncio.Event] = weakref.WeakKeyDictionary()

    def connected(self) -> dict[str, str]:
        return {bot_id: platform for bot_id, bot in nonebot.get_bots().items()
                if (platform := chat.platform_of(bot))}

    def disconnected(self, bot: Bot) -> None:
        self._gone.setdefault(bot, asyncio.Event()).set()

    async def send(self, bot_id: str, rows: list[OutboxMessage]) -> str | None:
        """Deliver through the account; fail at once if it goes offline meanwhile (its answer will never
        come, and the sender's pass, every account's, would otherwise wait out the send's timeout)."""
        bot = nonebot.get_bot(bot_id)
        gone = self._gone.setdefault(bot, asyncio.Event())
        delivery = asyncio.ensure_future(chat.deliver(bot, rows))
        offline = asyncio.ensure_future(gone.wait())
        try:
            await asyncio.wait((delivery, offline), return_when=asyncio.FIRST_COMPLETED)
        finally:
            offline.cancel()
            if not delivery.done():
                delivery.cancel()
        if delivery.cancelled():
            raise BotDisconnected(f"机器人账号 {bot_id} 在发送时断开了连接")
        return delivery.result()

    async def find_sent(self, bot_id: str, rows: list[OutboxMessage], *, since: datetime) -> str | None:
        return await chat.find_sent(nonebot.get_bot(bot_id), rows, since=since)


transport = NoneBotTransport()


@driver.on_bot_connect
async def learn_groups(bot: Bot) -> None:
    """Record the account and the groups it is in; then what waited for it may go."""
    platform = chat.platform_of(bot)
    if platform is None:
        return
    runtime = get_runtime()
    try:
        groups = await chat.group_list(bot)
    except Exception as error:  # the groups it posts in are learnt from their messages instead
        log.warning("account %s did not give its group list (%s: %s)", bot.self_id, type(error).__name__, error)
        groups = None
    if groups is None:
        await runtime.run(accounts.account_connected, platform, bot.self_id, now=runtime.clock.now())
    else:
        await runtime.run(accounts.groups_listed, platform, bot.self_id, groups, now=runtime.clock.now())
        log.info("account %s is in %d groups", bot.self_id, len(groups))


@driver.on_bot_disconnect
async def forget_bot(bot: Bot) -> None:
    transport.disconnected(bot)


@driver.on_startup
async def start_sender() -> None:
    runtime = get_runtime()
    sender = Sender(runtime, transport, robots=runtime.robots)
    _senders.append(sender)
    _tasks.add(asyncio.create_task(sender.run_forever(), name="outbox-sender"))


@driver.on_shutdown
async def stop_sender() -> None:
    for task in _tasks:
        task.cancel()
    await asyncio.gather(*_tasks, return_exceptions=True)
    _tasks.clear()
    for sender in _senders:  # what went out before the stop is marked sent while the store is still open
        await sender.recorded()
    _senders.clear()
